// What a command runs with: where to write, the environment, and clients of
// the three services, created on first use so that --help and bad flags
// never depend on the environment or a server.
import type { Writable } from "node:stream";
import { createClient, loadConfig, pb, type Client, type Config, type ServiceDefinition } from "@uniformity/lib";
import { CliError } from "./args";
import { describeFailure, isGrpcFailure, type ServiceTarget } from "./errors";
import { Output } from "./output";
import { ProgressBar, type Unit } from "./progress";

export interface Io {
  stdout: Writable;
  stderr: Writable;
}

export type Env = Record<string, string | undefined>;

type Selection = typeof pb.SelectionServiceService;
type Training = typeof pb.TrainingServiceService;
type Evaluation = typeof pb.EvaluationServiceService;

/** Exit status of a command stopped by Ctrl-C, as shells report SIGINT. */
export const INTERRUPTED = 130;

export class Context {
  readonly out: Output;
  private readonly controller = new AbortController();
  private config: Config | undefined;
  private readonly clients = new Map<string, Client<ServiceDefinition>>();

  constructor(
    readonly io: Io,
    readonly env: Env,
    readonly json: boolean,
    /** Aborts every call in flight (Ctrl-C in the bin). */
    outer?: AbortSignal,
  ) {
    this.out = new Output(io.stdout, json);
    if (outer) {
      if (outer.aborted) this.controller.abort();
      else outer.addEventListener("abort", () => this.controller.abort(), { once: true });
    }
  }

  /** Passed to every call, so an interrupt or the end of the command cancels what is still running. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Reports a failure the command itself detected (a job that ended failed) and returns exit status 1. */
  problem(line: string): number {
    this.io.stderr.write(`uniformity: ${line.replace(/\s*\n\s*/g, " ")}\n`);
    return 1;
  }

  settings(): Config {
    return (this.config ??= loadConfig(this.env));
  }

  selection(): Client<Selection> {
    return this.client("selection", pb.SelectionServiceService, "selection service", "UNIFORMITY_SELECTION_ADDR", (c) => c.selectionAddr);
  }

  training(): Client<Training> {
    return this.client("training", pb.TrainingServiceService, "training service", "UNIFORMITY_TRAINING_ADDR", (c) => c.trainingAddr);
  }

  evaluation(): Client<Evaluation> {
    return this.client("evaluation", pb.EvaluationServiceService, "evaluation service", "UNIFORMITY_EVALUATION_ADDR", (c) => c.evaluationAddr);
  }

  progress(unit: Unit = "count"): ProgressBar {
    const stderr = this.io.stderr as Writable & { isTTY?: boolean; columns?: number };
    return new ProgressBar(stderr, {
      enabled: !this.json,
      tty: stderr.isTTY === true,
      unit,
      ...(stderr.columns ? { columns: stderr.columns } : {}),
    });
  }

  /** Cancels anything still streaming and closes the channels. */
  close(): void {
    this.controller.abort();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client<S extends ServiceDefinition>(
    key: string,
    definition: S,
    label: string,
    addressVar: string,
    address: (config: Config) => string,
  ): Client<S> {
    const existing = this.clients.get(key);
    if (existing) return existing as unknown as Client<S>;
    const config = this.settings();
    const target: ServiceTarget = { label, address: address(config), addressVar };
    const client = withErrorLines(createClient(definition, target.address, config.token), target, config.token !== undefined, this.signal);
    this.clients.set(key, client as unknown as Client<ServiceDefinition>);
    return client;
  }
}

function translate(err: unknown, target: ServiceTarget, tokenSet: boolean, signal: AbortSignal): unknown {
  if (signal.aborted) return new CliError("interrupted", INTERRUPTED);
  if (isGrpcFailure(err)) return new CliError(describeFailure(err, target, tokenSet), 1);
  return err;
}

async function* translateStream<T>(stream: AsyncIterable<T>, target: ServiceTarget, tokenSet: boolean, signal: AbortSignal): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw translate(err, target, tokenSet, signal);
  }
}

// Done once here so that no command has to know grpc status codes: every
// failed call surfaces as a CliError carrying its one line.
function withErrorLines<S extends ServiceDefinition>(client: Client<S>, target: ServiceTarget, tokenSet: boolean, signal: AbortSignal): Client<S> {
  return new Proxy(client, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== "function" || key === "close") return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown)(...args);
        if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(translate(err, target, tokenSet, signal)));
        return translateStream(result as AsyncIterable<unknown>, target, tokenSet, signal);
      };
    },
  });
}
