// TrainingService: runs (the bodies of StartRun, CancelRun and StreamMetrics
// come with the training issue), live workers, and the self-test job.
import crypto from "node:crypto";
import { desc, eq } from "drizzle-orm";
import {
  decodeJson,
  deadlineExceeded,
  jobStatusToPb,
  nextPageToken,
  notFound,
  pb,
  publishJson,
  readPage,
  requireId,
  requireNumber,
  tables,
  unimplemented,
  unavailable,
  type Bus,
  type Database,
  type Implementation,
  type JobEvent,
  type JobMessage,
} from "@uniformity/lib";
import { heartbeatToPb, liveWorkers } from "./workers";

export interface TrainingDeps {
  database: Database;
  bus: Bus;
  heartbeatTtlMs: number;
}

const { runs } = tables;

export function runToPb(row: typeof runs.$inferSelect): pb.Run {
  const progress = row.progress as { phase?: string; done?: number; total?: number } | null;
  return {
    id: row.id,
    name: row.name,
    spec: pb.RunSpec.fromJSON(row.spec),
    status: jobStatusToPb(row.status),
    step: row.step,
    totalSteps: row.totalSteps,
    epoch: row.epoch,
    latestLoss: row.latestLoss ?? 0,
    bestLoss: row.bestLoss ?? 0,
    tokens: row.tokens,
    wallSeconds: row.wallSeconds,
    worker: row.worker ?? "",
    error: row.error ?? "",
    progress: progress ? { phase: progress.phase ?? "", done: progress.done ?? 0, total: progress.total ?? 0 } : undefined,
    checkpointDir: row.checkpointDir ?? "",
    createdAt: row.createdAt,
    startedAt: row.startedAt ?? undefined,
    finishedAt: row.finishedAt ?? undefined,
  };
}

export function trainingService(deps: TrainingDeps): Implementation<typeof pb.TrainingServiceService> {
  const { db } = deps.database;
  return {
    async startRun() {
      throw unimplemented("StartRun", "training issue #4");
    },

    async getRun(request) {
      const [row] = await db.select().from(runs).where(eq(runs.id, requireId("id", request.id)));
      if (!row) throw notFound("run", request.id);
      return { run: runToPb(row) };
    },

    async listRuns(request) {
      const page = readPage(request.page);
      const rows = await db.select().from(runs).orderBy(desc(runs.createdAt), desc(runs.id)).limit(page.limit).offset(page.offset);
      return { runs: rows.map(runToPb), nextPageToken: nextPageToken(page, rows.length) };
    },

    async cancelRun() {
      throw unimplemented("CancelRun", "training issue #4");
    },

    // eslint-disable-next-line require-yield
    async *streamMetrics() {
      throw unimplemented("StreamMetrics", "training issue #4");
    },

    async listWorkers() {
      return { workers: (await liveWorkers(deps.bus, deps.heartbeatTtlMs)).map(heartbeatToPb) };
    },

    async *runSelftest(request, ctx) {
      const steps = request.steps ? requireNumber("steps", request.steps, { min: 1, max: 100, integer: true }) : 3;
      const sleepS = requireNumber("sleep_s", request.sleepS, { min: 0, max: 60 });
      const timeoutS = request.timeoutS ? requireNumber("timeout_s", request.timeoutS, { exclusiveMin: 0, max: 3600 }) : 60;
      const id = crypto.randomUUID();
      const subscription = deps.bus.nc.subscribe(deps.bus.names.events("selftest", id, "*"));
      const timer = setTimeout(() => subscription.unsubscribe(), timeoutS * 1000);
      const onAbort = () => subscription.unsubscribe();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      let finished = false;
      try {
        const job: JobMessage = { id, kind: "selftest", spec: { kind: "selftest", steps, sleep_s: sleepS }, inputs: {} };
        try {
          await publishJson(deps.bus.js, deps.bus.names.jobs("selftest"), job, id);
        } catch (err) {
          throw unavailable(`could not queue the self-test: ${(err as Error).message}`);
        }
        yield { event: { $case: "jobId", value: id }, worker: "" };
        for await (const message of subscription) {
          const event = decodeJson<JobEvent>(message.data);
          if (event.type === "progress") {
            yield { event: { $case: "progress", value: { phase: String(event.phase ?? ""), done: Number(event.done ?? 0), total: Number(event.total ?? 0) } }, worker: event.worker };
          } else if (event.type === "result") {
            const { type: _type, id: _id, worker: _worker, attempt: _attempt, ...result } = event;
            yield { event: { $case: "resultJson", value: JSON.stringify(result) }, worker: event.worker };
          } else if (event.type === "status" && (event.status === "done" || event.status === "failed" || event.status === "cancelled")) {
            finished = true;
            if (event.status !== "done") throw unavailable(`self-test ${event.status} on ${event.worker}: ${event.error ?? "no reason given"}`);
            return;
          }
        }
        if (!finished && !ctx.signal.aborted) throw deadlineExceeded(`no worker finished the self-test within ${timeoutS} s (is a worker running? see \`uniformity workers list\`)`);
      } finally {
        clearTimeout(timer);
        ctx.signal.removeEventListener("abort", onAbort);
        subscription.unsubscribe();
      }
    },
  };
}
