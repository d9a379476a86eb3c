// Building SVG text by hand: every string that came from a user (run names,
// task names) goes through escapeXml, numbers are rounded to keep files small.

export type Attrs = Record<string, string | number | undefined>;

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Escapes markup and drops control characters, which XML 1.0 forbids even escaped (resvg would refuse the file). */
export function escapeXml(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "").replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Two decimals are below a pixel's hundredth: enough for drawing, and it keeps long polylines short. */
export function round(v: number): number {
  const r = Math.round(v * 100) / 100;
  return r === 0 ? 0 : r; // no "-0" in the output
}

export function el(tag: string, attrs: Attrs, inner?: string): string {
  const a = Object.entries(attrs)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === "number" ? round(v) : escapeXml(v)}"`)
    .join("");
  return inner === undefined ? `<${tag}${a}/>` : `<${tag}${a}>${inner}</${tag}>`;
}

export function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el("text", { x, y, ...attrs }, escapeXml(content));
}

export function pointList(ps: { x: number; y: number }[]): string {
  return ps.map((p) => `${round(p.x)},${round(p.y)}`).join(" ");
}

export const FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif";

/** A standalone document with a white background, so it reads the same in a browser as in the PNG. */
export function svgDoc(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${round(width)}" height="${round(height)}" viewBox="0 0 ${round(width)} ${round(height)}" font-family="${FONT_FAMILY}">` +
    el("rect", { width: "100%", height: "100%", fill: "white" }) +
    body +
    "</svg>"
  );
}

/** Cuts by code points, not UTF-16 units, so an emoji in a run name is never split in half. */
export function truncate(s: string, maxChars: number): string {
  const chars = Array.from(s);
  return chars.length <= maxChars ? s : chars.slice(0, Math.max(1, maxChars - 1)).join("").trimEnd() + "…";
}

/** Breaks a label at spaces into at most maxLines lines; whatever does not fit ends in "…". */
export function wrapLabel(s: string, maxChars: number, maxLines = 2): string[] {
  const lines: string[] = [];
  let current = "";
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const next = current ? `${current} ${word}` : word;
    if (!current || Array.from(next).length <= maxChars) current = next;
    else {
      lines.push(current);
      current = word;
    }
  }
  if (current) lines.push(current);
  if (lines.length > maxLines) lines.splice(maxLines - 1, lines.length, lines.slice(maxLines - 1).join(" "));
  return lines.map((l) => truncate(l, maxChars));
}

/** DejaVu Sans averages a little under 0.62 em per character; layout only needs an upper estimate. */
export function textWidth(s: string, fontSize: number): number {
  return Array.from(s).length * fontSize * 0.62;
}

function sizeOf(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? "";
  const num = (name: string) => Number(new RegExp(`\\s${name}="([\\d.]+)"`).exec(root)?.[1] ?? 0);
  return { width: num("width"), height: num("height") };
}

/** Lays panels out row by row as nested <svg x y> elements; each cell is as wide as the widest panel. */
export function grid(panels: string[], columns: number, title?: string): string {
  const cols = Math.max(1, Math.floor(columns) || 1);
  const sizes = panels.map(sizeOf);
  const cellW = Math.max(0, ...sizes.map((s) => s.width));
  const titleH = title ? 36 : 0;
  const rowHeights: number[] = [];
  sizes.forEach((s, i) => {
    const r = Math.floor(i / cols);
    rowHeights[r] = Math.max(rowHeights[r] ?? 0, s.height);
  });
  const rowTop = (r: number) => titleH + rowHeights.slice(0, r).reduce((a, b) => a + b, 0);
  const body = panels
    .map((svg, i) => {
      const [r, c] = [Math.floor(i / cols), i % cols];
      return svg.replace(/^\s*(<\?xml[^>]*\?>\s*)?<svg\b/, `<svg x="${round(c * cellW)}" y="${round(rowTop(r))}"`);
    })
    .join("");
  const width = cellW * Math.min(cols, Math.max(1, panels.length));
  const heading = title ? text(width / 2, 24, title, { "font-size": 16, "font-weight": "bold", "text-anchor": "middle" }) : "";
  return svgDoc(width, rowTop(rowHeights.length), heading + body);
}
