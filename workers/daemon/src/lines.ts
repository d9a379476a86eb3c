// The job protocol seen from the daemon, as pure functions: what a line of the
// core's stdout means, what an exit means for the job message, and how long a
// crashed job waits before it is tried again.

/** Line types the core may print; anything else on stdout is a log line. */
export const CORE_LINE_TYPES = ["progress", "step", "checkpoint", "result", "error"] as const;
export type CoreLineType = (typeof CORE_LINE_TYPES)[number];

export interface CoreLine {
  type: CoreLineType;
  [key: string]: unknown;
}

export type ParsedLine = { kind: "event"; line: CoreLine } | { kind: "text"; text: string };

export function parseLine(raw: string): ParsedLine {
  const text = raw.trimEnd();
  if (!text.startsWith("{")) return { kind: "text", text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "text", text };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { kind: "text", text };
  const type = (value as { type?: unknown }).type;
  // A core printing `status` (or anything else) must not impersonate the daemon's own events.
  if (typeof type !== "string" || !(CORE_LINE_TYPES as readonly string[]).includes(type)) return { kind: "text", text };
  return { kind: "event", line: value as CoreLine };
}

/** Dedupe key for an event: steps dedupe across attempts (a resumed run replays them), the rest per attempt. */
export function eventMsgId(jobId: string, attempt: number, line: CoreLine, seq: number): string {
  if (line.type === "step" && (typeof line.step === "number" || typeof line.step === "string")) return `${jobId}:step:${line.step}`;
  return `${jobId}:${attempt}:${line.type}:${seq}`;
}

/** How the core process ended: an exit code, or the signal that killed it. */
export interface Exit {
  code: number | null;
  signal: string | null;
}

export const EXIT_DONE = 0;
export const EXIT_BAD_INPUT = 2;
export const EXIT_CANCELLED = 3;

export type JobStatus = "running" | "queued" | "done" | "failed" | "cancelled";

/** What to tell the user (status) and JetStream (settle) once the core has ended. */
export interface Outcome {
  status: Exclude<JobStatus, "running">;
  settle: "ack" | "term" | "nak";
  /** nak delay; 0 hands the job to the next free worker at once. */
  delayMs?: number;
  retry?: boolean;
  requeued?: boolean;
}

export interface OutcomeContext {
  /** msg.info.deliveryCount: 1 on the first attempt. */
  deliveryCount: number;
  maxDeliver: number;
  cancelRequested: boolean;
  /** The daemon is stopping and signalled the core itself. */
  shuttingDown: boolean;
  /** `code` of the core's last `error` line: torchrun reports every rank's failure as exit 1, so this tells bad input and cancel apart. */
  errorCode?: string | undefined;
}

export function outcomeOf(exit: Exit, ctx: OutcomeContext): Outcome {
  // A job that finished, or was refused as bad input, means the same whoever stopped it meanwhile.
  if (exit.code === EXIT_DONE) return { status: "done", settle: "ack" };
  if (exit.code === EXIT_BAD_INPUT || ctx.errorCode === "invalid_argument") return { status: "failed", settle: "term" };
  // Our own SIGTERM on shutdown is not the user's cancel: the job goes back for another worker.
  if (ctx.shuttingDown) return { status: "queued", settle: "nak", delayMs: 0, requeued: true };
  if (ctx.cancelRequested || exit.code === EXIT_CANCELLED || ctx.errorCode === "cancelled") return { status: "cancelled", settle: "ack" };
  if (ctx.deliveryCount < ctx.maxDeliver) {
    return { status: "queued", settle: "nak", delayMs: backoffMs(ctx.deliveryCount), retry: true };
  }
  return { status: "failed", settle: "term" };
}

const BACKOFF_BASE_MS = 2_000;
const BACKOFF_CAP_MS = 60_000;

/** Delay before redelivering a crashed job: 2 s after the first attempt, doubling, at most 60 s. */
export function backoffMs(deliveryCount: number): number {
  const n = Math.max(1, Math.floor(deliveryCount));
  return Math.min(BACKOFF_BASE_MS * 2 ** (n - 1), BACKOFF_CAP_MS);
}

export function describeExit(exit: Exit): string {
  if (exit.signal) return `core killed by ${exit.signal}`;
  return `core exited with code ${exit.code ?? "unknown"}`;
}

/**
 * The error a failed or retried job reports: the core's own `error` line says
 * it best; without one the last stderr line is the likeliest cause.
 */
export function failureMessage(exit: Exit, lastError: string | undefined, stderrTail: readonly string[]): string {
  const detail = lastError ?? stderrTail.at(-1);
  if (exit.code === EXIT_BAD_INPUT) return detail ?? "bad input";
  return detail ? `${describeExit(exit)}: ${detail}` : describeExit(exit);
}
