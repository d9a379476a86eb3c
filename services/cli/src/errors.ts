// Turns a failed gRPC call into the one line a user can act on: what the
// server said, or, when nothing answered, which address was tried and which
// variable moves it.
import { status } from "@uniformity/lib";

export interface ServiceTarget {
  /** For people: "selection service". */
  label: string;
  address: string;
  /** Variable that sets the address. */
  addressVar: string;
}

interface GrpcFailure {
  code: number;
  details?: string;
}

export function isGrpcFailure(err: unknown): err is GrpcFailure {
  return typeof err === "object" && err !== null && typeof (err as GrpcFailure).code === "number" && "details" in err;
}

// grpc-js words for "no server there" (refused, unresolvable, dropped before
// any answer), as opposed to a server that answered UNAVAILABLE itself.
const UNREACHABLE = /no connection established|failed to connect|connect ECONNREFUSED|name resolution failed|DNS resolution failed|getaddrinfo|connection dropped|ECONNRESET/i;

/** One line (without the "uniformity: " prefix) describing a failed call. */
export function describeFailure(err: GrpcFailure, target: ServiceTarget, tokenSet: boolean): string {
  const details = (err.details ?? "").replace(/\s*\n\s*/g, " ").trim();
  switch (err.code) {
    case status.UNAVAILABLE:
      if (!details || UNREACHABLE.test(details)) {
        return `cannot reach the ${target.label} at ${target.address} (set ${target.addressVar} to change it)`;
      }
      return `the ${target.label} at ${target.address} (${target.addressVar}) is unavailable: ${details}`;
    case status.UNAUTHENTICATED:
      return tokenSet
        ? `the ${target.label} rejected the token in UNIFORMITY_TOKEN`
        : `the ${target.label} requires a token: set UNIFORMITY_TOKEN`;
    case status.DEADLINE_EXCEEDED:
      return details ? `timed out: ${details}` : `the ${target.label} did not answer in time`;
    default:
      return details || `the ${target.label} failed with ${status[err.code] ?? `status ${err.code}`}`;
  }
}
