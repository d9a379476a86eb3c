// What every asynchronous job (selection, run, evaluation) shares on the
// client side: its status words, when it is over, and how its progress shows.
import { setTimeout as delay } from "node:timers/promises";
import { jobStatusName, pb } from "@uniformity/lib";
import type { ProgressState } from "./progress";

export const statusName = (status: pb.JobStatus): string => jobStatusName(status);

export function isFinal(status: pb.JobStatus): boolean {
  return (
    status === pb.JobStatus.JOB_STATUS_DONE || status === pb.JobStatus.JOB_STATUS_FAILED || status === pb.JobStatus.JOB_STATUS_CANCELLED
  );
}

/** The bar for a job: its reported phase while running, otherwise just its status. */
export function jobProgress(status: pb.JobStatus, progress: pb.Progress | undefined, detail?: string): ProgressState {
  const base =
    status === pb.JobStatus.JOB_STATUS_RUNNING && progress?.phase
      ? { phase: progress.phase, done: progress.done, total: progress.total }
      : { phase: statusName(status), done: 0, total: 0 };
  return detail ? { ...base, detail } : base;
}

/** The line for a job that did not end done; undefined when it did. */
export function endProblem(kind: string, id: string, status: pb.JobStatus, error: string): string | undefined {
  if (status === pb.JobStatus.JOB_STATUS_DONE) return undefined;
  if (status === pb.JobStatus.JOB_STATUS_CANCELLED) return `${kind} ${id} was cancelled`;
  if (status === pb.JobStatus.JOB_STATUS_FAILED) return `${kind} ${id} failed${error ? `: ${error}` : ""}`;
  return `${kind} ${id} ended ${statusName(status)}`;
}

/** Waits, unless the command is interrupted first. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}
