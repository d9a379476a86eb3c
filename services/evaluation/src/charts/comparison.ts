// The study's comparison figure: loss curves, time to loss threshold, and
// benchmark scores, with one colour per run across all three panels.

import { barChart, type BarSeries } from "./bars";
import { lineChart, type XY } from "./line";
import { svgToPng } from "./png";
import { formatTick } from "./scale";
import { grid } from "./svg";

export interface RunCurve {
  name: string;
  steps: number[];
  losses: number[];
  smoothed: (number | null)[];
}

export interface ComparisonPictureInput {
  runs: RunCurve[];
  thresholds: number[];
  /** per run, per threshold: minutes to reach (null = not reached) */
  minutesToThreshold: (number | null)[][];
  /** per run, per threshold: steps to reach (null = not reached) */
  stepsToThreshold: (number | null)[][];
  scores: { group: string; perRun: ({ value: number; stderr: number } | null)[] }[];
}

export type PanelName = "loss" | "time_to_threshold" | "scores";

/**
 * Minutes are the study's measure, but only when every reached threshold has
 * a time: a run without wall-clock data would otherwise look "not reached".
 */
export function timeUnit(input: ComparisonPictureInput): "minutes" | "steps" {
  const complete = input.runs.every((_, r) => input.thresholds.every((_, t) => input.stepsToThreshold[r]?.[t] == null || input.minutesToThreshold[r]?.[t] != null));
  const anyMinutes = input.minutesToThreshold.some((row) => row.some((v) => v != null));
  const anySteps = input.stepsToThreshold.some((row) => row.some((v) => v != null));
  return complete && (anyMinutes || !anySteps) ? "minutes" : "steps";
}

function lossPanel(input: ComparisonPictureInput): string {
  const series = input.runs.map((run) => {
    const raw: XY[] = [];
    const points: XY[] = [];
    run.steps.forEach((x, i) => {
      const loss = run.losses[i];
      const smooth = run.smoothed[i];
      if (loss != null) raw.push({ x, y: loss });
      if (smooth != null) points.push({ x, y: smooth });
    });
    return { name: run.name, points, raw };
  });
  return lineChart({
    title: "Training loss: raw (thin) and moving average (thick)",
    xLabel: "step",
    yLabel: "loss",
    series,
    hLines: input.thresholds.map((t) => ({ y: t, label: `threshold ${formatTick(t)}` })),
  });
}

function thresholdPanel(input: ComparisonPictureInput): string {
  const unit = timeUnit(input);
  const table = unit === "minutes" ? input.minutesToThreshold : input.stepsToThreshold;
  const series: BarSeries[] = input.runs.map((run, r) => {
    const values = input.thresholds.map((_, t) => table[r]?.[t] ?? null);
    return { name: run.name, values, labels: values.map((v) => (v == null ? "n/r" : null)) };
  });
  return barChart({
    title: "Time to reach loss threshold (smoothed loss; n/r = not reached)",
    yLabel: unit,
    groups: input.thresholds.map((t) => `loss ≤ ${formatTick(t)}`),
    series,
  });
}

function scoresPanel(input: ComparisonPictureInput): string {
  const series: BarSeries[] = input.runs.map((run, r) => ({
    name: run.name,
    values: input.scores.map((s) => s.perRun[r]?.value ?? null),
    errors: input.scores.map((s) => s.perRun[r]?.stderr ?? null),
  }));
  return barChart({ title: "Benchmark scores (± stderr)", yLabel: "score", groups: input.scores.map((s) => s.group), series, yMax: 1 });
}

export function comparisonPanels(input: ComparisonPictureInput): { name: PanelName; svg: string }[] {
  const panels: { name: PanelName; svg: string }[] = [{ name: "loss", svg: lossPanel(input) }];
  if (input.thresholds.length > 0) panels.push({ name: "time_to_threshold", svg: thresholdPanel(input) });
  if (input.scores.length > 0) panels.push({ name: "scores", svg: scoresPanel(input) });
  return panels;
}

/** The panels stacked in one column (one picture to attach), plus each panel on its own. */
export function comparisonPng(input: ComparisonPictureInput): { png: Buffer; panels: { name: string; png: Buffer }[] } {
  const panels = comparisonPanels(input);
  return {
    png: svgToPng(grid(panels.map((p) => p.svg), 1)),
    panels: panels.map((p) => ({ name: p.name, png: svgToPng(p.svg) })),
  };
}
