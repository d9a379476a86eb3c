// The one place that decides how results look: aligned tables and key-value
// blocks for people, JSON for scripts. Commands build rows and plain objects;
// nothing else writes formatted results to stdout.
import type { Writable } from "node:stream";

export type Align = "left" | "right";

export interface Column {
  header: string;
  align?: Align;
}

/** Columns separated by two spaces, each as wide as its widest cell; no trailing blanks. */
export function formatTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? "";
        const width = widths[i] ?? 0;
        return column.align === "right" ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join("\n") + "\n";
}

/** `key: value` lines with the values lined up; undefined values are left out so a block shows only what is known. */
export function formatKeyValue(pairs: [string, string | undefined][]): string {
  const shown = pairs.filter((pair): pair is [string, string] => pair[1] !== undefined);
  const width = Math.max(0, ...shown.map(([key]) => key.length));
  return shown.map(([key, value]) => `${(key + ":").padEnd(width + 1)}  ${value}`.trimEnd()).join("\n") + "\n";
}

// Bytes (plot PNGs, chunks) never belong in JSON output: the files are
// written where the user asked, and base64 blobs would swamp the terminal.
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return undefined;
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : raw.toISOString();
  return value;
}

/** Key order is the order the view objects are built in, so output is stable from run to run. */
export function toJson(value: unknown, pretty = true): string {
  return JSON.stringify(value, replacer, pretty ? 2 : undefined);
}

/** Readable lower-case name of a generated enum value: STRATEGY_HALF_RANDOM_MIN_DISTANCE -> half-random-min-distance. */
export function enumName(values: Record<string | number, string | number>, prefix: string, value: number): string {
  const name = values[value];
  if (typeof name !== "string") return String(value);
  return name.slice(name.startsWith(prefix) ? prefix.length : 0).toLowerCase().replace(/_/g, "-");
}

/** The enum value a readable name stands for, or undefined. */
export function enumValue(values: Record<string | number, string | number>, prefix: string, name: string): number | undefined {
  const key = prefix + name.toUpperCase().replace(/-/g, "_");
  const value = values[key];
  return typeof value === "number" && !key.endsWith("_UNSPECIFIED") ? value : undefined;
}

// ---- value formatting for text output ----

export function fmtNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toFixed(digits);
}

/** Learning rates span orders of magnitude; exponent notation keeps them readable. */
export function fmtLr(value: number): string {
  if (value === 0) return "0";
  return Math.abs(value) < 1e-3 ? value.toExponential(2) : String(Number(value.toPrecision(4)));
}

export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function fmtBytes(value: number): string {
  let unit = 0;
  let scaled = value;
  while (scaled >= 1024 && unit < BYTE_UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${scaled.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** ISO time to the second in UTC; "-" when the server has not set it. */
export function fmtTime(value: Date | undefined): string {
  if (!value || Number.isNaN(value.getTime())) return "-";
  return value.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export function fmtAgo(value: Date | undefined, now: Date = new Date()): string {
  if (!value) return "-";
  return `${fmtDuration(Math.max(0, (now.getTime() - value.getTime()) / 1000))} ago`;
}

/** Writes results to stdout in the mode the user asked for. */
export class Output {
  constructor(
    private readonly stream: Writable,
    readonly json: boolean,
  ) {}

  /** Text mode only: a line for people. Ignored under --json so stdout stays parseable. */
  line(text = ""): void {
    if (!this.json) this.stream.write(text + "\n");
  }

  /** Text mode only: preformatted text (a table or key-value block). */
  text(block: string): void {
    if (!this.json) this.stream.write(block);
  }

  table(columns: Column[], rows: string[][]): void {
    this.text(formatTable(columns, rows));
  }

  keyValue(pairs: [string, string | undefined][]): void {
    this.text(formatKeyValue(pairs));
  }

  /** JSON mode only: one pretty-printed document. */
  document(value: unknown): void {
    if (this.json) this.stream.write(toJson(value) + "\n");
  }

  /** JSON mode only: one compact object per line, for streams of events. */
  jsonLine(value: unknown): void {
    if (this.json) this.stream.write(toJson(value, false) + "\n");
  }
}
