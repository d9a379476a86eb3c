#!/usr/bin/env node
// The `uniformity` command. `run` does everything and returns the exit
// status, so tests drive it in-process; only the bin entry at the bottom
// touches the real process (signals, exit status).
import fs from "node:fs";
import path from "node:path";
import { ConfigError, SpanStatusCode, initTelemetry, inSpan, type Telemetry } from "@uniformity/lib";
import { CliError, UsageError, helpText, parseCommand } from "./args";
import type { Command } from "./command";
import { datasetCommands } from "./commands/dataset";
import { evaluationCommands } from "./commands/evaluation";
import { runCommands } from "./commands/runs";
import { selectionCommands } from "./commands/selection";
import { demoCommands, workerCommands } from "./commands/workers";
import { Context, type Env, type Io } from "./context";
import { isGrpcFailure } from "./errors";

export type { Env, Io } from "./context";

/** In the order `uniformity --help` lists them. */
export const COMMANDS: Command[] = [
  ...datasetCommands,
  ...selectionCommands,
  ...runCommands,
  ...evaluationCommands,
  ...workerCommands,
  ...demoCommands,
];

const GROUPS = new Set(COMMANDS.filter((c) => c.path.includes(" ")).map((c) => c.path.split(" ")[0]!));

export function version(): string {
  // dist/src/main.js -> services/cli/package.json
  const file = path.join(__dirname, "..", "..", "package.json");
  try {
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.length));
  return [
    "usage: uniformity <command> [arguments] [--json] [--help]",
    "",
    "Choose less, better-spread instruction data: import a dataset, select a uniformly",
    "spread subset, fine-tune on it, evaluate and compare runs.",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.path.padEnd(width)}  ${c.summary}`),
    "",
    "Every command takes --json (machine-readable output on stdout) and --help.",
    "Services: UNIFORMITY_SELECTION_ADDR (default 127.0.0.1:50051), UNIFORMITY_TRAINING_ADDR",
    "(127.0.0.1:50052), UNIFORMITY_EVALUATION_ADDR (127.0.0.1:50053); bearer token: UNIFORMITY_TOKEN.",
    "Exit status: 0 ok, 1 failure (server error, failed job), 2 wrong command line.",
    "",
  ].join("\n");
}

function groupHelp(group: string): string {
  const commands = COMMANDS.filter((c) => c.path.startsWith(group + " "));
  const width = Math.max(...commands.map((c) => c.path.length));
  return [
    `usage: uniformity ${group} <${commands.map((c) => c.path.split(" ")[1]).join("|")}> ...`,
    "",
    ...commands.map((c) => `  ${c.path.padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

type Found = { command: Command; rest: string[] } | { text: string };

/** Which command argv names, or a text to print (help, version). */
export function findCommand(argv: string[]): Found {
  const [first, second] = argv;
  if (first === undefined) throw new UsageError("missing command (see: uniformity --help)");
  if (first === "--help" || first === "-h" || first === "help") return { text: globalHelp() };
  if (first === "--version" || first === "-V") return { text: `uniformity ${version()}\n` };
  if (GROUPS.has(first)) {
    if (second === "--help" || second === "-h") return { text: groupHelp(first) };
    const names = COMMANDS.filter((c) => c.path.startsWith(first + " ")).map((c) => c.path.split(" ")[1]);
    if (second === undefined || second.startsWith("-")) throw new UsageError(`${first} needs a subcommand: ${names.join(", ")}`);
    const command = COMMANDS.find((c) => c.path === `${first} ${second}`);
    if (!command) throw new UsageError(`unknown command "${first} ${second}" (${first} takes: ${names.join(", ")})`);
    return { command, rest: argv.slice(2) };
  }
  const command = COMMANDS.find((c) => c.path === first);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(first)} (see: uniformity --help)`);
  return { command, rest: argv.slice(1) };
}

/** The one line and exit status for whatever stopped a command. */
export function report(err: unknown, stderr: Io["stderr"]): number {
  const line = (text: string) => stderr.write(`uniformity: ${text.replace(/\s*\n\s*/g, " ")}\n`);
  if (err instanceof UsageError) {
    line(err.message);
    return 2;
  }
  if (err instanceof CliError) {
    line(err.message);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    line(err.message);
    return 2;
  }
  if (isGrpcFailure(err)) {
    line(err.details || `call failed with status ${err.code}`);
    return 1;
  }
  line(`internal error: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
}

export interface RunOptions {
  /** Aborting it cancels the command's calls (the bin wires Ctrl-C to it). */
  signal?: AbortSignal;
}

let telemetry: Telemetry | undefined;

/** Runs one command line; never exits the process. */
export async function run(argv: string[], io: Io, env: Env = process.env, options: RunOptions = {}): Promise<number> {
  try {
    const found = findCommand(argv);
    if ("text" in found) {
      io.stdout.write(found.text);
      return 0;
    }
    const { command } = found;
    const parsed = parseCommand(command, found.rest);
    if (parsed === "help") {
      io.stdout.write(helpText(command));
      return 0;
    }
    const ctx = new Context(io, env, parsed.json, options.signal);
    try {
      if (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) {
        // A no-op when the process (a test, `make demo`) already set tracing up.
        telemetry = await initTelemetry({ serviceName: "cli", otlpEndpoint: ctx.settings().otlpEndpoint, metricsPort: -1 });
      }
      // The client interceptor in lib carries this span's context to the services.
      return await inSpan(`cli ${command.path}`, { attributes: { "cli.command": command.path } }, async (span) => {
        const code = await command.run(parsed, ctx);
        if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `exit ${code}` });
        return code;
      });
    } finally {
      ctx.close();
    }
  } catch (err) {
    return report(err, io.stderr);
  }
}

if (require.main === module) {
  const interrupt = new AbortController();
  process.once("SIGINT", () => interrupt.abort());
  // `uniformity runs logs ID | head` closes stdout early; that is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  void run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, process.env, { signal: interrupt.signal }).then(async (code) => {
    // Spans are batched: send them before the process goes, but a collector
    // that is down must not hold a finished command for the exporter's
    // whole retry period.
    if (telemetry) await Promise.race([telemetry.shutdown(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    process.exitCode = code;
    // Nor may a handle left open by a library (or that export) keep it alive.
    setTimeout(() => process.exit(code), 500).unref();
  });
}
