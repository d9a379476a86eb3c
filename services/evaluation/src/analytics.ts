// The comparison's arithmetic, pure so it can be checked by hand: smoothed
// loss, when a run first reaches a threshold, area under the curve.

/** Trailing moving average; null until the window is full (the study smooths over 3 steps). */
export function movingAverage(values: number[], window = 3): (number | null)[] {
  if (!Number.isInteger(window) || window < 1) throw new Error(`window must be a positive integer, got ${window}`);
  const out: (number | null)[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    out.push(i >= window - 1 ? sum / window : null);
  }
  return out;
}

export interface ThresholdHit {
  threshold: number;
  reached: boolean;
  /** First step whose smoothed loss is at or below the threshold (0 when not reached). */
  step: number;
  /** Wall-clock minutes from the run's start to that step (0 when not reached). */
  minutes: number;
}

export function timeToThreshold(steps: number[], elapsedS: number[], smoothed: (number | null)[], threshold: number): ThresholdHit {
  for (let i = 0; i < smoothed.length; i++) {
    const value = smoothed[i];
    if (value !== null && value !== undefined && value <= threshold) {
      return { threshold, reached: true, step: steps[i]!, minutes: elapsedS[i]! / 60 };
    }
  }
  return { threshold, reached: false, step: 0, minutes: 0 };
}

/** Area under the loss curve over steps (trapezoid rule); 0 for fewer than two points. */
export function lossArea(steps: number[], losses: number[]): number {
  let area = 0;
  for (let i = 1; i < steps.length; i++) area += ((losses[i]! + losses[i - 1]!) / 2) * (steps[i]! - steps[i - 1]!);
  return area;
}

export interface TraceSummary {
  smoothed: (number | null)[];
  thresholds: ThresholdHit[];
  finalLoss: number;
  minLoss: number;
  area: number;
  tokens: number;
}

export interface TracePoint {
  step: number;
  loss: number;
  elapsedS: number;
  tokens: number;
}

export function summarise(points: TracePoint[], thresholds: number[]): TraceSummary {
  const sorted = [...points].sort((a, b) => a.step - b.step);
  const steps = sorted.map((p) => p.step);
  const losses = sorted.map((p) => p.loss);
  const smoothed = movingAverage(losses, 3);
  return {
    smoothed,
    thresholds: thresholds.map((t) => timeToThreshold(steps, sorted.map((p) => p.elapsedS), smoothed, t)),
    finalLoss: losses.length ? losses[losses.length - 1]! : 0,
    minLoss: losses.length ? Math.min(...losses) : 0,
    area: lossArea(steps, losses),
    tokens: sorted.reduce((sum, p) => sum + p.tokens, 0),
  };
}

/**
 * Thresholds a comparison can use when the user gives none: evenly spaced
 * between the reference run's first smoothed loss and its final smoothed
 * loss, so every run either reaches them in time or visibly does not.
 */
export function suggestThresholds(reference: TracePoint[], count = 3): number[] {
  const smoothed = movingAverage([...reference].sort((a, b) => a.step - b.step).map((p) => p.loss)).filter((v): v is number => v !== null);
  if (smoothed.length < 2) return [];
  const first = smoothed[0]!;
  const last = smoothed[smoothed.length - 1]!;
  if (!(first > last)) return [];
  return Array.from({ length: count }, (_, i) => Number((first - ((i + 1) / (count + 1)) * (first - last) * 1.0).toPrecision(3)));
}
