// The one mapping from failures to gRPC status codes. Handlers throw ApiError
// (or let anything else escape, which becomes INTERNAL); nothing else in the
// code base picks status codes.
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";

export class ApiError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const invalidArgument = (field: string, problem: string) => new ApiError(status.INVALID_ARGUMENT, `${field}: ${problem}`);
export const notFound = (kind: string, id: string) => new ApiError(status.NOT_FOUND, `${kind} ${id} not found`);
export const failedPrecondition = (message: string) => new ApiError(status.FAILED_PRECONDITION, message);
export const alreadyExists = (message: string) => new ApiError(status.ALREADY_EXISTS, message);
export const unavailable = (message: string) => new ApiError(status.UNAVAILABLE, message);
export const unimplemented = (what: string, issue: string) =>
  new ApiError(status.UNIMPLEMENTED, `${what} is not implemented yet (${issue})`);
export const deadlineExceeded = (message: string) => new ApiError(status.DEADLINE_EXCEEDED, message);

/** Turns anything thrown in a handler into the error grpc-js sends. */
export function toServiceError(err: unknown): Partial<ServiceError> & { code: status; details: string } {
  if (err instanceof ApiError) return { code: err.code, details: err.message, metadata: new Metadata() };
  // Postgres or NATS going away mid-call is worth a retry by the client.
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "57P01" || code === "CONNECTION_CLOSED" || code === "ECONNRESET") {
    return { code: status.UNAVAILABLE, details: "backing store unavailable, retry shortly", metadata: new Metadata() };
  }
  return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
}

export { status };
