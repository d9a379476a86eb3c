// A command: its command-line contract (for parsing and --help) and what it does.
import { CliError, type CommandSpec, type Parsed } from "./args";
import type { Context } from "./context";

export interface Command extends CommandSpec {
  /** Validates everything it can before the first call; returns the exit status. */
  run(args: Parsed, ctx: Context): Promise<number>;
}

/** A response field the protocol promises; its absence is the server's fault, not the user's. */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new CliError(`the server returned no ${what}`);
  return value;
}
