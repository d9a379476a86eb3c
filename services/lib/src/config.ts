// One config loader for every process: each reads the environment once at
// start, and a bad value stops the process with one line naming the variable.

export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`config: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Config {
  databaseUrl: string;
  natsUrl: string;
  /** Prefix for stream, bucket and subject names; empty in production so the wire names are the documented ones. */
  natsNamespace: string;
  token: string | undefined;
  selectionAddr: string;
  trainingAddr: string;
  evaluationAddr: string;
  otlpEndpoint: string | undefined;
  /** Prometheus endpoint port of this process; 0 picks a free one, -1 disables it. */
  metricsPort: number;
  /** Interface of the Prometheus endpoint: 127.0.0.1 by default, 0.0.0.0 in containers. */
  metricsHost: string;
  dataDir: string;
  logLevel: LogLevel;
  migrateOnStart: boolean;
  /** How many times to retry reaching Postgres/NATS at start (0: fail at once). */
  connectRetries: number;
  maxImportBytes: number;
  /** Grace period for in-flight calls and jobs on SIGTERM. */
  shutdownGraceMs: number;
  pythonBin: string;
  coreDir: string;
  workerSlots: number;
  heartbeatTtlMs: number;
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
}

function url(env: Env, name: string, fallback: string, schemes: string[]): string {
  const value = read(env, name) ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `is not a URL: ${JSON.stringify(value)}`);
  }
  if (!schemes.includes(parsed.protocol.replace(/:$/, ""))) {
    throw new ConfigError(name, `must use ${schemes.join(" or ")}://, got ${parsed.protocol}//`);
  }
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function address(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback;
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) throw new ConfigError(name, `must be host:port, got ${JSON.stringify(value)}`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
}

function choice<T extends string>(env: Env, name: string, fallback: T, options: readonly T[]): T {
  const raw = read(env, name) ?? fallback;
  if (!(options as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${options.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uniformity";
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

export function loadConfig(env: Env = process.env, defaults: { metricsPort?: number } = {}): Config {
  const namespace = read(env, "UNIFORMITY_NATS_NAMESPACE") ?? "";
  if (!/^[A-Za-z0-9_-]*$/.test(namespace)) {
    throw new ConfigError("UNIFORMITY_NATS_NAMESPACE", "may hold only letters, digits, '_' and '-'");
  }
  return {
    databaseUrl: url(env, "DATABASE_URL", DEFAULT_DATABASE_URL, ["postgres", "postgresql"]),
    natsUrl: url(env, "NATS_URL", DEFAULT_NATS_URL, ["nats", "tls", "ws", "wss"]),
    natsNamespace: namespace,
    token: read(env, "UNIFORMITY_TOKEN"),
    selectionAddr: address(env, "UNIFORMITY_SELECTION_ADDR", "127.0.0.1:50051"),
    trainingAddr: address(env, "UNIFORMITY_TRAINING_ADDR", "127.0.0.1:50052"),
    evaluationAddr: address(env, "UNIFORMITY_EVALUATION_ADDR", "127.0.0.1:50053"),
    otlpEndpoint: read(env, "OTEL_EXPORTER_OTLP_ENDPOINT") && url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", "", ["http", "https"]),
    metricsPort: integer(env, "UNIFORMITY_METRICS_PORT", defaults.metricsPort ?? -1, -1, 65535),
    metricsHost: read(env, "UNIFORMITY_METRICS_HOST") ?? "127.0.0.1",
    dataDir: read(env, "UNIFORMITY_DATA_DIR") ?? ".state/data",
    logLevel: choice(env, "UNIFORMITY_LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    migrateOnStart: flag(env, "UNIFORMITY_MIGRATE", false),
    connectRetries: integer(env, "UNIFORMITY_CONNECT_RETRIES", 0, 0, 1000),
    maxImportBytes: integer(env, "UNIFORMITY_MAX_IMPORT_BYTES", 1024 * 1024 * 1024, 1, 2 ** 40),
    shutdownGraceMs: integer(env, "UNIFORMITY_SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
    pythonBin: read(env, "UNIFORMITY_PYTHON") ?? "python3",
    coreDir: read(env, "UNIFORMITY_CORE_DIR") ?? "workers/core",
    workerSlots: integer(env, "UNIFORMITY_WORKER_SLOTS", 1, 1, 64),
    heartbeatTtlMs: integer(env, "UNIFORMITY_HEARTBEAT_TTL_MS", 15_000, 1_000, 3_600_000),
  };
}
