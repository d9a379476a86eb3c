// What line and bar charts share: the palette, where the plot area sits,
// gridlines, axis titles and the legend to the right of the plot.

import { el, escapeXml, text, textWidth, truncate } from "./svg";

/** Okabe–Ito, reordered so the first runs get the strongest colours on white; yellow is left out (unreadable on white). */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"];

/** The colour of the i-th run; every panel passes runs in the same order, so a run keeps its colour. */
export function colourOf(i: number): string {
  return PALETTE[i % PALETTE.length] ?? "#000000";
}

export const TITLE_SIZE = 14;
export const LABEL_SIZE = 13;
export const TICK_SIZE = 12;
const LEGEND_CHARS = 22;
const GRID = "#e3e3e3";
const AXIS = "#333333";

export interface Frame {
  width: number;
  height: number;
  /** the plot area */
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

export function layout(o: { width: number; height: number; yTickLabels: string[]; legendNames: string[]; xTickLines: number; xTitle: boolean }): Frame {
  const legendW = o.legendNames.length ? 40 + Math.max(...o.legendNames.map((n) => textWidth(truncate(n, LEGEND_CHARS), TICK_SIZE))) : 0;
  const left = 24 + Math.max(12, ...o.yTickLabels.map((l) => textWidth(l, TICK_SIZE))) + 10;
  const top = 40;
  const bottom = 12 + o.xTickLines * 15 + (o.xTitle ? 24 : 0) + 6;
  return {
    width: o.width,
    height: o.height,
    left,
    top,
    plotW: Math.max(40, o.width - left - legendW - 16),
    plotH: Math.max(40, o.height - top - bottom),
  };
}

export function titles(f: Frame, title: string, yLabel: string, xLabel?: string): string {
  const cx = f.left + f.plotW / 2;
  const fits = (s: string, size: number, room: number) => truncate(s, Math.floor(room / (size * 0.62)));
  return (
    text(f.width / 2, 24, fits(title, TITLE_SIZE, f.width - 16), { "font-size": TITLE_SIZE, "font-weight": "bold", "text-anchor": "middle" }) +
    text(0, 0, fits(yLabel, LABEL_SIZE, f.plotH), {
      "font-size": LABEL_SIZE,
      "text-anchor": "middle",
      transform: `translate(16 ${f.top + f.plotH / 2}) rotate(-90)`,
    }) +
    (xLabel ? text(cx, f.top + f.plotH + 42, fits(xLabel, LABEL_SIZE, f.plotW), { "font-size": LABEL_SIZE, "text-anchor": "middle" }) : "")
  );
}

/** Horizontal gridlines with their labels on the left. */
export function yAxis(f: Frame, ticks: number[], map: (v: number) => number, label: (v: number) => string): string {
  return ticks
    .map((v) => {
      const y = map(v);
      return (
        el("line", { x1: f.left, x2: f.left + f.plotW, y1: y, y2: y, stroke: GRID, "stroke-width": 1 }) +
        text(f.left - 6, y + 4, label(v), { "font-size": TICK_SIZE, "text-anchor": "end", fill: AXIS })
      );
    })
    .join("");
}

/** Vertical gridlines with their labels below, for a numeric x axis. */
export function xAxis(f: Frame, ticks: number[], map: (v: number) => number, label: (v: number) => string): string {
  const bottom = f.top + f.plotH;
  return ticks
    .map((v) => {
      const x = map(v);
      return (
        el("line", { x1: x, x2: x, y1: f.top, y2: bottom, stroke: GRID, "stroke-width": 1 }) +
        text(x, bottom + 17, label(v), { "font-size": TICK_SIZE, "text-anchor": "middle", fill: AXIS })
      );
    })
    .join("");
}

/** The left and bottom axis lines, drawn after the data so bars sit on them. */
export function axisLines(f: Frame): string {
  const bottom = f.top + f.plotH;
  return el("path", { d: `M${f.left} ${f.top}V${bottom}H${f.left + f.plotW}`, fill: "none", stroke: AXIS, "stroke-width": 1 });
}

/** One entry per series, outside the plot on the right so it never covers data. */
export function legend(f: Frame, names: string[], swatch: "line" | "box"): string {
  const x = f.left + f.plotW + 16;
  return names
    .map((name, i) => {
      const y = f.top + 8 + i * 20;
      const colour = colourOf(i);
      const mark =
        swatch === "line"
          ? el("line", { x1: x, x2: x + 24, y1: y, y2: y, stroke: colour, "stroke-width": 3 })
          : el("rect", { x: x + 6, y: y - 6, width: 12, height: 12, fill: colour });
      const shown = truncate(name, LEGEND_CHARS);
      // The full name stays reachable as a tooltip when the SVG is opened in a browser.
      const full = shown === name ? "" : el("title", {}, escapeXml(name));
      return el("g", { class: "legend" }, full + mark + text(x + 30, y + 4, shown, { "font-size": TICK_SIZE }));
    })
    .join("");
}
