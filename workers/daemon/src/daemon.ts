// The worker daemon: pulls jobs from the shared JOBS consumer while it has
// free slots, advertises itself in the workers bucket, and on stop hands
// unfinished jobs back to the queue.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureWorkerConsumer, observeGauge, type Bus, type Config, type Logger } from "@uniformity/lib";
import type { Consumer, JsMsg } from "nats";
import { detectGpus, type Gpu } from "./gpus";
import { startHeartbeat } from "./heartbeat";
import { startJob, type RunningJob } from "./job";

export interface DaemonDeps {
  config: Config;
  log: Logger;
  bus: Bus;
}

export interface DaemonOptions {
  /** How long one pull waits for a job; stop() may wait this long for the pull to end. */
  pullExpiresMs?: number;
  /** Skips nvidia-smi (tests). */
  gpus?: Gpu[];
}

export interface Daemon {
  workerId: string;
  stop(graceMs: number): Promise<void>;
}

/** `${hostname}-${pid}`, reduced to the characters a KV key may hold. */
export function workerIdOf(hostname: string, pid: number): string {
  return `${hostname}-${pid}`.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+|\.+$/g, "_");
}

function daemonVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export async function startDaemon(deps: DaemonDeps, options: DaemonOptions = {}): Promise<Daemon> {
  const { config, bus } = deps;
  const workerId = workerIdOf(os.hostname(), process.pid);
  const log = deps.log.child({ worker: workerId });
  const slots = config.workerSlots;
  const pullExpiresMs = Math.max(1_000, options.pullExpiresMs ?? 5_000);

  const gpus = options.gpus ?? (await detectGpus(log));
  const durable = await ensureWorkerConsumer(bus);
  const consumer: Consumer = await bus.js.consumers.get(bus.names.jobsStream, durable);

  const running = new Set<RunningJob>();
  let stopping = false;
  const startedAt = new Date().toISOString();
  const version = daemonVersion();
  const heartbeat = await startHeartbeat(
    bus.workersKv,
    () => ({ id: workerId, hostname: os.hostname(), gpus, slots, busy: running.size, version, started_at: startedAt }),
    Math.max(1, Math.floor(config.heartbeatTtlMs / 3)),
    log,
  );

  observeGauge("uniformity_worker_busy_slots", "Job slots in use on this worker", () => (stopping ? {} : { [workerId]: running.size }), "worker");
  observeGauge(
    "uniformity_jobs_pending",
    "Jobs waiting or in progress on the shared worker consumer",
    async () => {
      if (stopping) return {};
      const info = await consumer.info();
      return { [durable]: info.num_pending + info.num_ack_pending };
    },
    "consumer",
  );

  // Wakes the pull loop when a slot frees up or stop begins.
  let wake: () => void = () => undefined;
  const changed = () => new Promise<void>((resolve) => (wake = resolve));

  const launch = (msg: JsMsg) => {
    const job = startJob({ bus, config, log, workerId }, msg);
    running.add(job);
    heartbeat.beat();
    void job.done.finally(() => {
      running.delete(job);
      heartbeat.beat();
      wake();
    });
  };

  const pulling = (async () => {
    while (!stopping) {
      if (running.size >= slots) {
        await changed();
        continue;
      }
      let msg: JsMsg | null;
      try {
        msg = await consumer.next({ expires: pullExpiresMs });
      } catch (err) {
        if (stopping) break;
        log.warn("pull failed; retrying", { error: err });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      if (!msg) continue;
      if (stopping) {
        // Arrived as we were stopping: another worker should have it, right away.
        msg.nak();
        break;
      }
      launch(msg);
    }
  })();

  log.info("worker ready", { slots, gpus: gpus.length, consumer: durable });

  return {
    workerId,
    async stop(graceMs: number) {
      if (stopping) return;
      stopping = true;
      wake();
      await pulling;
      const jobs = [...running];
      if (jobs.length) log.info("stopping running jobs", { jobs: jobs.length, grace_ms: graceMs });
      for (const job of jobs) job.shutdown();
      const allDone = Promise.all(jobs.map((job) => job.done));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = await Promise.race([
        allDone.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
      ]);
      clearTimeout(timer);
      if (graceOver) {
        log.warn("grace period over; killing jobs", { jobs: running.size });
        for (const job of running) job.kill();
      }
      // Each job nak()s its own message once its core is gone, so waiting here is short after a kill.
      await allDone;
      await heartbeat.stop();
      log.info("worker stopped");
    },
  };
}
