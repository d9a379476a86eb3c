// Pure helpers for checking requests at the edge and converting between
// database rows and wire messages.
import { invalidArgument } from "./grpc/errors";
import { JobStatus, type PageRequest } from "./proto";
import type { JobStatusName } from "./db/schema";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks an id field: present and a UUID; a malformed id is INVALID_ARGUMENT, not NOT_FOUND. */
export function requireId(field: string, value: string | undefined): string {
  if (!value) throw invalidArgument(field, "is required");
  if (!UUID.test(value)) throw invalidArgument(field, `must be a UUID, got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

export function isId(value: string): boolean {
  return UUID.test(value);
}

export function requireNumber(field: string, value: number, check: { min?: number; max?: number; exclusiveMin?: number; integer?: boolean }): number {
  if (!Number.isFinite(value)) throw invalidArgument(field, "must be a finite number");
  if (check.integer && !Number.isInteger(value)) throw invalidArgument(field, `must be an integer, got ${value}`);
  if (check.exclusiveMin !== undefined && value <= check.exclusiveMin) throw invalidArgument(field, `must be > ${check.exclusiveMin}, got ${value}`);
  if (check.min !== undefined && value < check.min) throw invalidArgument(field, `must be >= ${check.min}, got ${value}`);
  if (check.max !== undefined && value > check.max) throw invalidArgument(field, `must be <= ${check.max}, got ${value}`);
  return value;
}

export interface Page {
  limit: number;
  offset: number;
}

/** Page tokens are opaque to clients; inside they are a base64 offset. */
export function readPage(page: PageRequest | undefined): Page {
  const size = page?.pageSize ?? 0;
  if (size < 0 || size > 1000) throw invalidArgument("page.page_size", `must be between 0 and 1000, got ${size}`);
  let offset = 0;
  if (page?.pageToken) {
    const decoded = Buffer.from(page.pageToken, "base64url").toString("utf8");
    if (!/^o:\d+$/.test(decoded)) throw invalidArgument("page.page_token", "is not a token this server issued");
    offset = Number(decoded.slice(2));
  }
  return { limit: size || 50, offset };
}

/** Token for the page after this one, or "" when the page was not full. */
export function nextPageToken(page: Page, returned: number): string {
  return returned < page.limit ? "" : Buffer.from(`o:${page.offset + returned}`, "utf8").toString("base64url");
}

const STATUS_TO_PB: Record<JobStatusName, JobStatus> = {
  queued: JobStatus.JOB_STATUS_QUEUED,
  running: JobStatus.JOB_STATUS_RUNNING,
  done: JobStatus.JOB_STATUS_DONE,
  failed: JobStatus.JOB_STATUS_FAILED,
  cancelled: JobStatus.JOB_STATUS_CANCELLED,
};

export const jobStatusToPb = (name: JobStatusName): JobStatus => STATUS_TO_PB[name];
export const isFinalStatus = (name: JobStatusName): boolean => name === "done" || name === "failed" || name === "cancelled";

/** Lower-case name of a JobStatus for people: "queued", "done", ... */
export function jobStatusName(value: JobStatus): string {
  const found = Object.entries(STATUS_TO_PB).find(([, pb]) => pb === value);
  return found ? found[0] : "unknown";
}
