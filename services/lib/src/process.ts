// Start-up and shut-down shared by every long-running process: config,
// logs, telemetry, Postgres, NATS, and SIGTERM handling, so that each
// service's main file only says what it serves.
import { loadConfig, ConfigError, type Config } from "./config";
import { createLogger, type Logger } from "./log";
import { initTelemetry, type Telemetry } from "./telemetry";
import { openDatabase, ensureDatabase, migrateDatabase, type Database } from "./db/client";
import { connectBus, withRetries, StartupError, type Bus } from "./bus";

export interface ProcessDeps {
  config: Config;
  log: Logger;
  telemetry: Telemetry;
  database: Database;
  bus: Bus;
}

export interface ProcessOptions {
  name: string;
  defaultMetricsPort: number;
  /** Whether the process needs Postgres (the worker daemon does not). */
  needsDatabase: boolean;
  start(deps: ProcessDeps): Promise<{ stop(graceMs: number): Promise<void> }>;
}

/** Opens Postgres, checking it answers, creating and migrating it when configured. */
export async function connectDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.migrateOnStart) {
    await withRetries("Postgres", config.connectRetries, log, () => ensureDatabase(config.databaseUrl));
  }
  const database = openDatabase(config.databaseUrl);
  try {
    await withRetries("Postgres", config.connectRetries, log, () => database.pool.query("select 1"));
    if (config.migrateOnStart) await migrateDatabase(database);
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  return database;
}

export async function startProcess(options: ProcessOptions): Promise<ProcessDeps> {
  const config = loadConfig(process.env, { metricsPort: options.defaultMetricsPort });
  const log = createLogger(options.name, config.logLevel);
  const telemetry = await initTelemetry({ serviceName: options.name, otlpEndpoint: config.otlpEndpoint, metricsPort: config.metricsPort, metricsHost: config.metricsHost });
  const database = options.needsDatabase ? await connectDatabase(config, log) : (undefined as unknown as Database);
  const bus = await connectBus({
    url: config.natsUrl,
    name: options.name,
    namespace: config.natsNamespace,
    retries: config.connectRetries,
    heartbeatTtlMs: config.heartbeatTtlMs,
    log,
  }).catch(async (err) => {
    await database?.close().catch(() => undefined);
    throw err;
  });
  return { config, log, telemetry, database, bus };
}

/** Runs a process to completion: one readable line and exit 1 on a start-up failure, clean stop on SIGTERM/SIGINT. */
export function main(options: ProcessOptions): void {
  (async () => {
    const deps = await startProcess(options);
    const running = await options.start(deps);
    deps.log.info("started", { metrics_port: deps.telemetry.metricsPort ?? null, pid: process.pid });
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      deps.log.info("stopping", { signal });
      const timer = setTimeout(() => process.exit(1), deps.config.shutdownGraceMs + 10_000).unref();
      await running.stop(deps.config.shutdownGraceMs).catch((err) => deps.log.error("stop failed", { error: err }));
      await deps.bus.close().catch(() => undefined);
      await deps.database?.close().catch(() => undefined);
      await deps.telemetry.shutdown();
      clearTimeout(timer);
      deps.log.info("stopped");
      process.exit(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  })().catch((err) => {
    const known = err instanceof ConfigError || err instanceof StartupError;
    process.stderr.write(`${options.name}: ${known ? err.message : (err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
