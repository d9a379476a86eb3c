// The comparison as the study drew it: loss curves, time-to-threshold bars
// and score bars, one colour per run throughout.
import type { pb } from "@uniformity/lib";
import type { TracePoint } from "./analytics";
import { comparisonPng, type ComparisonPictureInput } from "./charts";

export function pictureInput(rows: pb.RunComparison[], curves: { name: string; trace: TracePoint[]; smoothed: (number | null)[] }[], thresholds: number[]): ComparisonPictureInput {
  const groups = [...new Set(rows.flatMap((r) => r.scores.map((s) => `${s.task} ${s.metric}`)))].sort();
  return {
    runs: curves.map((c) => ({ name: c.name, steps: c.trace.map((p) => p.step), losses: c.trace.map((p) => p.loss), smoothed: c.smoothed })),
    thresholds,
    minutesToThreshold: rows.map((r) => r.thresholds.map((t) => (t.reached ? t.minutes : null))),
    stepsToThreshold: rows.map((r) => r.thresholds.map((t) => (t.reached ? t.step : null))),
    scores: groups.map((group) => ({
      group,
      perRun: rows.map((r) => {
        const score = r.scores.find((s) => `${s.task} ${s.metric}` === group);
        return score ? { value: score.value, stderr: score.stderr } : null;
      }),
    })),
  };
}

export function comparisonPicture(rows: pb.RunComparison[], curves: { name: string; trace: TracePoint[]; smoothed: (number | null)[] }[], thresholds: number[]): Buffer {
  return comparisonPng(pictureInput(rows, curves, thresholds)).png;
}
