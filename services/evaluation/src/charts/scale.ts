// Axis arithmetic, kept pure so the numbers on the axes are unit-tested.

export interface Ticks {
  /** the axis domain: first and last tick */
  min: number;
  max: number;
  values: number[];
}

/** Round-number ticks (1, 2 or 5 times a power of ten) covering [lo, hi], about `target` intervals. */
export function niceTicks(lo: number, hi: number, target = 5): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    // A flat series still needs an axis; put it in the middle.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
  // The epsilons stop 2.9999999/3 style float noise from adding an extra tick.
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const values: number[] = [];
  for (let i = first; i <= last; i++) values.push(Number((i * step).toFixed(decimals)));
  return { min: values[0] ?? lo, max: values[values.length - 1] ?? hi, values };
}

/** Ticks at 1, 2, 5 × 10^k for a log axis; lo and hi must be positive. */
export function logTicks(lo: number, hi: number): Ticks {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [1, 10];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) [lo, hi] = [lo / 2, hi * 2];
  const kLo = Math.floor(Math.log10(lo));
  const kHi = Math.ceil(Math.log10(hi));
  const spansManyDecades = kHi - kLo > 3; // then 2s and 5s would crowd the axis
  const candidates: number[] = [];
  for (let k = kLo; k <= kHi; k++) {
    for (const m of spansManyDecades ? [1] : [1, 2, 5]) candidates.push(Number((m * 10 ** k).toPrecision(1)));
  }
  const min = Math.max(...candidates.filter((c) => c <= lo));
  const max = Math.min(...candidates.filter((c) => c >= hi));
  return { min, max, values: candidates.filter((c) => c >= min && c <= max) };
}

export type Scale = (v: number) => number;

/** Maps domain onto range; a zero-width domain maps to the middle of the range. */
export function linearScale([d0, d1]: [number, number], [r0, r1]: [number, number]): Scale {
  if (d0 === d1) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

export function logScale([d0, d1]: [number, number], [r0, r1]: [number, number]): Scale {
  const lin = linearScale([Math.log10(d0), Math.log10(d1)], [r0, r1]);
  return (v) => lin(Math.log10(v));
}

/** Min and max without spreading into Math.min, which overflows the stack on a million steps. */
export function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Short tick labels: 4 significant digits, k/M for step counts. */
export function formatTick(v: number): string {
  const short = (x: number) => String(Number(x.toPrecision(4)));
  const a = Math.abs(v);
  if (a >= 1e6) return `${short(v / 1e6)}M`;
  if (a >= 1e4) return `${short(v / 1e3)}k`;
  return short(v);
}
