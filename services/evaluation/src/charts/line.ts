// Loss-vs-step chart: per run a thin translucent raw curve behind a thick
// smoothed one, optional dashed horizontal reference lines (loss thresholds).

import { axisLines, colourOf, layout, legend, titles, xAxis, yAxis } from "./frame";
import { extent, formatTick, linearScale, logScale, logTicks, niceTicks } from "./scale";
import { el, pointList, svgDoc, text } from "./svg";

export interface XY {
  x: number;
  y: number;
}

export interface LineSeries {
  name: string;
  points: XY[];
  /** drawn thin and translucent behind the smoothed one */
  raw?: XY[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
  logY?: boolean;
  /** dashed horizontal lines across the plot, e.g. loss thresholds */
  hLines?: { y: number; label?: string }[];
}

const MAX_POINTS = 2000;

/**
 * Thins a curve to about maxPoints points. Each bucket keeps its lowest and
 * highest point rather than every n-th one, so loss spikes stay visible.
 */
export function downsample(points: XY[], maxPoints = MAX_POINTS): XY[] {
  if (points.length <= maxPoints) return points;
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const size = points.length / buckets;
  const out: XY[] = [];
  for (let b = 0; b < buckets; b++) {
    const end = Math.floor((b + 1) * size);
    let lo: XY | undefined;
    let hi: XY | undefined;
    for (let i = Math.floor(b * size); i < end; i++) {
      const p = points[i]!;
      if (!lo || p.y < lo.y) lo = p;
      if (!hi || p.y > hi.y) hi = p;
    }
    if (!lo || !hi) continue;
    if (lo === hi) out.push(lo);
    else out.push(...(lo.x <= hi.x ? [lo, hi] : [hi, lo]));
  }
  return out;
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const logY = o.logY ?? false;
  // NaN losses (diverged steps) and, on a log axis, non-positive values cannot be drawn.
  const drawable = (p: XY) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logY || p.y > 0);
  const clean = (ps: XY[]) => downsample(ps.filter(drawable).sort((a, b) => a.x - b.x));
  const series = o.series.map((s) => ({ name: s.name, points: clean(s.points), raw: clean(s.raw ?? []) }));
  const hLines = (o.hLines ?? []).filter((h) => Number.isFinite(h.y) && (!logY || h.y > 0));

  const all = series.flatMap((s) => [...s.points, ...s.raw]);
  const [x0, x1] = extent(all.map((p) => p.x));
  const [y0, y1] = extent([...all.map((p) => p.y), ...hLines.map((h) => h.y)]);
  const xt = niceTicks(x0, x1);
  const yt = logY ? logTicks(y0, y1) : niceTicks(y0, y1);

  // Axes end where the data ends (y with a little air) instead of at the next round number, which can waste a fifth of the plot.
  const xDomain: [number, number] = x1 > x0 ? [xt.min, x1] : [xt.min, xt.max];
  const yPad = (y1 - y0) * 0.04;
  const yDomain: [number, number] = !logY && y1 > y0 ? [y0 - yPad, y1 + yPad] : [yt.min, yt.max];
  const inside = ([lo, hi]: [number, number]) => (v: number) => v >= lo - 1e-9 * (hi - lo) && v <= hi + 1e-9 * (hi - lo);
  const xTicks = xt.values.filter(inside(xDomain));
  const yTicks = yt.values.filter(inside(yDomain));

  const f = layout({ width, height, yTickLabels: yTicks.map(formatTick), legendNames: series.map((s) => s.name), xTickLines: 1, xTitle: true });
  const mapX = linearScale(xDomain, [f.left, f.left + f.plotW]);
  const mapY = (logY ? logScale : linearScale)(yDomain, [f.top + f.plotH, f.top]);
  const toPx = (ps: XY[]) => ps.map((p) => ({ x: mapX(p.x), y: mapY(p.y) }));

  const curve = (ps: XY[], colour: string, raw: boolean) => {
    if (ps.length === 0) return "";
    const [first] = toPx(ps);
    // A lone point makes an invisible polyline; show it as a dot.
    if (ps.length === 1 && first) return el("circle", { cx: first.x, cy: first.y, r: raw ? 2 : 3.5, fill: colour, "fill-opacity": raw ? 0.3 : 1 });
    return el("polyline", {
      class: raw ? "raw" : "smoothed",
      points: pointList(toPx(ps)),
      fill: "none",
      stroke: colour,
      "stroke-width": raw ? 1 : 2.25,
      "stroke-opacity": raw ? 0.3 : 1,
      "stroke-linejoin": "round",
    });
  };

  const references = hLines.map((h) =>
    el("line", { class: "threshold", x1: f.left, x2: f.left + f.plotW, y1: mapY(h.y), y2: mapY(h.y), stroke: "#555555", "stroke-width": 1, "stroke-dasharray": "6 4" }),
  );
  // Labels go at the left end, where the falling loss curves cross steeply and cover little; drawn over
  // the curves with a white halo so they stay readable where they do.
  const halo = { stroke: "white", "stroke-width": 3, "stroke-linejoin": "round", "paint-order": "stroke" };
  const referenceLabels = hLines.map((h) => (h.label ? text(f.left + 4, mapY(h.y) - 4, h.label, { "font-size": 12, fill: "#333333", ...halo }) : ""));

  return svgDoc(
    width,
    height,
    titles(f, o.title, o.yLabel, o.xLabel) +
      yAxis(f, yTicks, mapY, formatTick) +
      xAxis(f, xTicks, mapX, formatTick) +
      references.join("") +
      // All raw curves first, so no run's noise covers another run's trend.
      series.map((s, i) => curve(s.raw, colourOf(i), true)).join("") +
      series.map((s, i) => curve(s.points, colourOf(i), false)).join("") +
      referenceLabels.join("") +
      axisLines(f) +
      legend(f, series.map((s) => s.name), "line"),
  );
}
