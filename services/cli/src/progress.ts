// Progress of long work on stderr, so stdout carries only results. On a
// terminal one line is redrawn in place; in a log file (CI, pipes) a redraw
// per chunk would be noise, so a plain line is written only when the phase
// changes or another tenth of the work is done.
import type { Writable } from "node:stream";
import { fmtBytes, fmtInt } from "./output";

export type Unit = "bytes" | "count";

export interface ProgressState {
  /** What is happening: "upload", "embed", "train", ... */
  phase: string;
  done: number;
  /** 0 when unknown. */
  total: number;
  /** Extra live figures, e.g. "loss 1.2345  812 tok/s". */
  detail?: string;
}

export interface ProgressOptions {
  /** False under --json: scripts read stdout, and a quiet stderr is easier to check. */
  enabled: boolean;
  tty: boolean;
  columns?: number;
  unit?: Unit;
  now?: () => number;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 80;

function amount(value: number, unit: Unit): string {
  return unit === "bytes" ? fmtBytes(value) : fmtInt(value);
}

/** One line describing the state: `embed  [######......]  50%  500/1,000  detail`. */
export function renderProgress(state: ProgressState, unit: Unit = "count"): string {
  const parts = [state.phase];
  if (state.total > 0) {
    const fraction = Math.min(1, Math.max(0, state.done / state.total));
    const filled = Math.round(fraction * BAR_WIDTH);
    parts.push(`[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`);
    parts.push(`${Math.floor(fraction * 100)}%`.padStart(4));
    parts.push(`${amount(state.done, unit)}/${amount(state.total, unit)}`);
  } else if (state.done > 0) {
    parts.push(amount(state.done, unit));
  }
  if (state.detail) parts.push(state.detail);
  return parts.join("  ");
}

export class ProgressBar {
  private last: ProgressState | undefined;
  private drawnAt = 0;
  private drawn = false;
  /** Non-TTY: the last tenth of the work a line was written for. */
  private reportedTenth = -1;
  private readonly now: () => number;
  private readonly unit: Unit;

  constructor(
    private readonly stream: Writable,
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.unit = options.unit ?? "count";
  }

  update(state: ProgressState): void {
    if (!this.options.enabled) return;
    const phaseChanged = this.last?.phase !== state.phase;
    const finished = state.total > 0 && state.done >= state.total;
    if (this.options.tty) {
      if (phaseChanged && this.drawn) this.stream.write("\n");
      // Redrawing on every chunk would cost more than the work it reports.
      if (phaseChanged || finished || this.now() - this.drawnAt >= REDRAW_MS) this.draw(state);
    } else {
      const tenth = state.total > 0 ? Math.floor((Math.min(state.done, state.total) / state.total) * 10) : -1;
      if (phaseChanged) this.reportedTenth = -1;
      if (phaseChanged || tenth > this.reportedTenth) {
        this.stream.write(renderProgress(state, this.unit) + "\n");
        this.reportedTenth = tenth;
      }
    }
    this.last = state;
  }

  /** Leaves the terminal on a fresh line, so what follows does not overwrite the bar. */
  end(): void {
    if (this.options.enabled && this.options.tty && this.drawn) this.stream.write("\n");
    this.drawn = false;
    this.last = undefined;
  }

  private draw(state: ProgressState): void {
    let line = renderProgress(state, this.unit);
    const columns = this.options.columns ?? 80;
    if (line.length > columns - 1) line = line.slice(0, Math.max(0, columns - 1));
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
    this.drawnAt = this.now();
  }
}
