// The demo's reading of a comparison, pure so every sentence can be checked
// by hand: which loss thresholds to time, who reached each first, who scored
// best, and whether uniform won — said plainly either way.
import type { pb } from "@uniformity/lib";

export type Variant = "full" | "uniform" | "random";
export const VARIANTS: Variant[] = ["full", "uniform", "random"];

/** Trailing 3-step moving average, as the comparison smooths (null until the window is full). */
export function smooth(losses: number[], window = 3): (number | null)[] {
  let sum = 0;
  return losses.map((loss, i) => {
    sum += loss;
    if (i >= window) sum -= losses[i - window]!;
    return i >= window - 1 ? sum / window : null;
  });
}

/**
 * Thresholds from the full run's own curve: its smoothed loss a quarter, half
 * and nine tenths of the way through, rounded up to 3 significant digits so
 * the full run surely reaches each. Early thresholds time the first descent,
 * the late one the long tail where a better-spread half should show.
 */
export function chooseThresholds(losses: number[], fractions: number[] = [0.25, 0.5, 0.9]): number[] {
  const smoothed = smooth(losses).filter((v): v is number => v !== null);
  if (smoothed.length < 2) return [];
  const first = smoothed[0]!;
  const chosen: number[] = [];
  for (const f of fractions) {
    const value = smoothed[Math.min(smoothed.length - 1, Math.max(0, Math.round(f * (smoothed.length - 1))))]!;
    const rounded = roundUp(value, 3);
    // Only levels below where the run started, each below the one before.
    if (rounded < first && (chosen.length === 0 || rounded < chosen[chosen.length - 1]!)) chosen.push(rounded);
  }
  return chosen;
}

export function roundUp(value: number, digits: number): number {
  if (value <= 0 || !Number.isFinite(value)) return value;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(value)));
  return Math.ceil(value * scale - 1e-9) / scale;
}

export interface Row {
  variant: Variant;
  row: pb.RunComparison;
}

export interface ThresholdOutcome {
  threshold: number;
  /**
   * Runs that reached it, fewest steps first. Every step is the same work
   * (same model, batch and length), so steps measure speed even on a machine
   * whose load changes between runs; minutes are what the study reports.
   */
  order: { variant: Variant; step: number; minutes: number }[];
  /** The same runs by wall-clock minutes. */
  byMinutes: Variant[];
  missed: Variant[];
}

export function thresholdOutcomes(rows: Row[], thresholds: number[]): ThresholdOutcome[] {
  return thresholds.map((threshold, t) => {
    const hits = rows.map((r) => ({ variant: r.variant, hit: r.row.thresholds.find((h) => h.threshold === threshold) ?? r.row.thresholds[t] }));
    const order = hits
      .filter((h) => h.hit?.reached)
      .map((h) => ({ variant: h.variant, step: h.hit!.step, minutes: h.hit!.minutes }))
      .sort((a, b) => a.step - b.step || a.minutes - b.minutes);
    const byMinutes = [...order].sort((a, b) => a.minutes - b.minutes || a.step - b.step).map((o) => o.variant);
    return { threshold, order, byMinutes, missed: hits.filter((h) => !h.hit?.reached).map((h) => h.variant) };
  });
}

export interface ScoreOutcome {
  /** "arc_challenge acc (5-shot)" */
  key: string;
  values: { variant: Variant; value: number; stderr: number }[];
  best: Variant;
  /** The best is ahead of every other run by more than their standard errors combined. */
  clear: boolean;
}

export function scoreOutcomes(rows: Row[]): ScoreOutcome[] {
  const keys = [...new Set(rows.flatMap((r) => r.row.scores.map((s) => `${s.task} ${s.metric} (${s.shots}-shot)`)))];
  const outcomes: ScoreOutcome[] = [];
  for (const key of keys) {
    const values = rows.flatMap((r) => {
      const s = r.row.scores.find((x) => `${x.task} ${x.metric} (${x.shots}-shot)` === key);
      return s ? [{ variant: r.variant, value: s.value, stderr: s.stderr }] : [];
    });
    if (!values.length) continue;
    const best = values.reduce((a, b) => (b.value > a.value ? b : a));
    const clear = values.every((v) => v === best || best.value - v.value > Math.hypot(best.stderr, v.stderr));
    outcomes.push({ key, values, best: best.variant, clear });
  }
  return outcomes;
}

export interface Verdict {
  /** Plain sentences, in reading order. */
  sentences: string[];
  /** Thresholds uniform reached in fewer steps than random, of those either reached. */
  uniformFasterThanRandom: { won: number; of: number };
  /** Score keys where uniform is at least as good as random. */
  uniformScoresAtLeastRandom: { won: number; of: number };
  /** One line: did uniform win here? */
  headline: string;
}

const fmt = (v: number, digits = 3) => v.toFixed(digits);
const minutes = (m: number) => (m < 1 ? `${Math.round(m * 60)} s` : `${m.toFixed(1)} min`);

function list(words: string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

export function verdict(rows: Row[], thresholds: number[]): Verdict {
  const sentences: string[] = [];
  const outcomes = thresholdOutcomes(rows, thresholds);
  let won = 0;
  let contested = 0;
  for (const o of outcomes) {
    const label = `loss ≤ ${o.threshold}`;
    if (!o.order.length) {
      sentences.push(`No run reached ${label}.`);
      continue;
    }
    const [first, ...rest] = o.order;
    const tail = rest.map((r) => `${r.variant} at step ${r.step} (${minutes(r.minutes)})`);
    const missed = o.missed.length ? ` ${capital(list(o.missed))} never got there.` : "";
    const clock = o.byMinutes.join() !== o.order.map((r) => r.variant).join() ? ` By wall clock the order was ${list(o.byMinutes)}.` : "";
    sentences.push(
      `${capital(first!.variant)} reached ${label} in the fewest steps, step ${first!.step} (${minutes(first!.minutes)})` +
        (tail.length ? `, then ${list(tail)}.` : ".") +
        missed +
        clock,
    );
    const u = o.order.findIndex((r) => r.variant === "uniform");
    const r = o.order.findIndex((x) => x.variant === "random");
    if (u >= 0 || r >= 0) {
      contested += 1;
      if (u >= 0 && (r < 0 || u < r)) won += 1;
    }
  }
  const finals = rows.map((r) => `${r.variant} ${fmt(r.row.finalLoss)}`);
  const lowest = rows.reduce((a, b) => (b.row.finalLoss < a.row.finalLoss ? b : a));
  sentences.push(`Training loss at the last step: ${list(finals)}; lowest: ${lowest.variant} (each run on its own data, so this compares fit, not quality; a last short batch makes it noisy).`);

  const scores = scoreOutcomes(rows);
  let atLeast = 0;
  let compared = 0;
  for (const s of scores) {
    const values = s.values.map((v) => `${v.variant} ${fmt(v.value)} ± ${fmt(v.stderr)}`);
    sentences.push(`${s.key}: ${list(values)} — ${s.clear ? `${s.best} is ahead by more than the standard errors` : "the differences are within the standard errors"}.`);
    const u = s.values.find((v) => v.variant === "uniform");
    const r = s.values.find((v) => v.variant === "random");
    if (u && r) {
      compared += 1;
      if (u.value >= r.value) atLeast += 1;
    }
  }

  const speed = contested ? `faster than random (in steps) to ${won} of ${contested} loss thresholds` : "not timed against random (no threshold reached)";
  const quality = compared ? `at least as good as random on ${atLeast} of ${compared} scores` : "not scored";
  const wins = contested > 0 && won * 2 > contested && (compared === 0 || atLeast * 2 >= compared);
  const headline = wins
    ? `Uniform won here: ${speed}, ${quality}.`
    : `Uniform did not win here: ${speed}, ${quality}.`;
  return { sentences, uniformFasterThanRandom: { won, of: contested }, uniformScoresAtLeastRandom: { won: atLeast, of: compared }, headline };
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Records per family in a subset, given each subset record's family (undefined: not from the demo set). */
export function familyCounts(familyOfRecord: (number | undefined)[], families: number): number[] {
  const counts = new Array<number>(families).fill(0);
  for (const f of familyOfRecord) if (f !== undefined && f >= 0 && f < families) counts[f]! += 1;
  return counts;
}

/** How many of the smallest `k` families a subset kept whole, and what share of their records it kept. */
export function smallFamilyCoverage(sizes: number[], counts: number[], k: number): { whole: number; share: number } {
  const order = sizes.map((size, i) => ({ size, i })).sort((a, b) => a.size - b.size || a.i - b.i).slice(0, k);
  const total = order.reduce((sum, f) => sum + f.size, 0);
  const kept = order.reduce((sum, f) => sum + Math.min(counts[f.i] ?? 0, f.size), 0);
  return { whole: order.filter((f) => (counts[f.i] ?? 0) >= f.size).length, share: total ? kept / total : 0 };
}
