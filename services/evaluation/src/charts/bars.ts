// Grouped bars: x groups (thresholds, task/metric pairs), one bar per run,
// optional error bars; a missing value is an empty hatched stub with a label.

import { axisLines, colourOf, layout, legend, TICK_SIZE, titles, yAxis } from "./frame";
import { extent, formatTick, linearScale, niceTicks } from "./scale";
import { el, round, svgDoc, text, wrapLabel } from "./svg";

export interface BarSeries {
  name: string;
  /** null = "not reached" / missing */
  values: (number | null)[];
  errors?: (number | null)[];
  labels?: (string | null)[];
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  groups: string[];
  series: BarSeries[];
  width?: number;
  height?: number;
  yMax?: number;
}

const finite = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

/** 45° stripes inside a rectangle, as one path (a <pattern> would need an id, and ids clash once panels are nested). */
export function hatch(x: number, y: number, w: number, h: number, gap = 6): string {
  let d = "";
  for (let c = gap - h; c < w; c += gap) {
    // The stripe x = x + c + t, y = y + h - t for t in [0, h], cut to the rectangle's width.
    const t0 = Math.max(0, -c);
    const t1 = Math.min(h, w - c);
    if (t1 > t0) d += `M${round(x + c + t0)} ${round(y + h - t0)}L${round(x + c + t1)} ${round(y + h - t1)}`;
  }
  return d;
}

export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const groups = o.groups;
  const n = Math.max(1, o.series.length);

  const ends = o.series.flatMap((s) =>
    s.values.flatMap((v, g) => {
      if (!finite(v)) return [];
      const e = s.errors?.[g];
      return finite(e) ? [v - Math.abs(e), v + Math.abs(e)] : [v];
    }),
  );
  const [lo, hi] = extent([0, ...ends]); // bars grow from zero, so zero is always on the axis
  const top = finite(o.yMax) ? o.yMax : hi > lo ? hi : lo + 1; // nothing to show: a plain [0, 1] axis
  const yt = niceTicks(lo, top);
  const domain: [number, number] = [yt.min, finite(o.yMax) ? o.yMax : yt.max];
  const ticks = yt.values.filter((v) => v <= domain[1] + 1e-12);

  const f = layout({ width, height, yTickLabels: ticks.map(formatTick), legendNames: o.series.map((s) => s.name), xTickLines: 2, xTitle: false });
  const mapY = linearScale(domain, [f.top + f.plotH, f.top]);
  const clampY = (v: number) => mapY(Math.min(domain[1], Math.max(domain[0], v)));
  const groupW = f.plotW / Math.max(1, groups.length);
  // Capped so two runs in one group read as bars, not slabs; the cluster stays centred in its group.
  const barW = Math.min((groupW * 0.8) / n, 64);
  const clusterPad = (groupW - barW * n) / 2;
  const base = mapY(Math.max(0, domain[0]));
  const stubH = Math.min(24, f.plotH * 0.15);

  const bars = groups.map((_, g) =>
    o.series
      .map((s, i) => {
        const colour = colourOf(i);
        const x = f.left + g * groupW + clusterPad + i * barW;
        const w = Math.max(1, barW - 2);
        const v = s.values[g];
        const label = s.labels?.[g] ?? (finite(v) ? null : "n/a");
        if (!finite(v)) {
          return (
            el("rect", { class: "bar missing", x, y: base - stubH, width: w, height: stubH, fill: "white", stroke: colour, "stroke-width": 1.25 }) +
            el("path", { d: hatch(x, base - stubH, w, stubH), stroke: colour, "stroke-width": 1, "stroke-opacity": 0.7 }) +
            text(x + w / 2, base - stubH - 5, label ?? "", { "font-size": TICK_SIZE, "text-anchor": "middle", fill: "#333333" })
          );
        }
        const yv = clampY(v);
        let body = el("rect", { class: "bar", x, y: Math.min(yv, base), width: w, height: Math.abs(base - yv), fill: colour });
        let labelY = Math.min(yv, base);
        const e = s.errors?.[g];
        if (finite(e) && e !== 0) {
          const [ya, yb] = [clampY(v - Math.abs(e)), clampY(v + Math.abs(e))];
          const cx = x + w / 2;
          const cap = Math.min(5, w / 3);
          body += el("path", { class: "error", d: `M${round(cx)} ${round(ya)}V${round(yb)}M${round(cx - cap)} ${round(ya)}h${round(2 * cap)}M${round(cx - cap)} ${round(yb)}h${round(2 * cap)}`, stroke: "#222222", "stroke-width": 1.25 });
          labelY = Math.min(labelY, yb);
        }
        if (label) body += text(x + w / 2, labelY - 5, label, { "font-size": TICK_SIZE, "text-anchor": "middle", fill: "#333333" });
        return body;
      })
      .join(""),
  );

  const maxChars = Math.max(3, Math.floor(groupW / (TICK_SIZE * 0.62)));
  const groupLabels = groups
    .map((name, g) => {
      const cx = f.left + (g + 0.5) * groupW;
      return wrapLabel(name, maxChars)
        .map((line, k) => text(cx, f.top + f.plotH + 17 + k * 15, line, { "font-size": TICK_SIZE, "text-anchor": "middle", fill: "#333333" }))
        .join("");
    })
    .join("");

  return svgDoc(
    width,
    height,
    titles(f, o.title, o.yLabel) + yAxis(f, ticks, mapY, formatTick) + bars.join("") + axisLines(f) + groupLabels + legend(f, o.series.map((s) => s.name), "box"),
  );
}
