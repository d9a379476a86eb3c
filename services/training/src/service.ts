// TrainingService: runs (the bodies of StartRun, CancelRun and StreamMetrics
// come with the training issue), live workers, and the self-test job.
import crypto from "node:crypto";
import { and, asc, desc, eq, gt, sql } from "drizzle-orm";
import {
  decodeJson,
  deadlineExceeded,
  failedPrecondition,
  isFinalStatus,
  invalidArgument,
  jobStatusToPb,
  nextPageToken,
  notFound,
  pb,
  publishJson,
  readPage,
  requireId,
  requireNumber,
  tables,
  unavailable,
  type Bus,
  type Database,
  type Implementation,
  type JobEvent,
  type JobMessage,
} from "@uniformity/lib";
import { heartbeatToPb, liveWorkers } from "./workers";
import { checkRunSpec } from "./spec";

export interface TrainingDeps {
  database: Database;
  bus: Bus;
  heartbeatTtlMs: number;
}

const { runs, lossPoints, selections, datasets } = tables;

type LossRow = typeof lossPoints.$inferSelect;

export function lossPointToPb(row: LossRow): pb.LossPoint {
  return {
    step: row.step,
    epoch: row.epoch,
    loss: row.loss,
    lr: row.lr,
    gradNorm: row.gradNorm ?? 0,
    tokens: row.tokens,
    samples: row.samples,
    elapsedS: row.elapsedS,
    tokensPerS: row.tokensPerS ?? 0,
    totalSteps: 0,
  };
}

/** Every k-th step (and the last) so a long trace arrives in about maxPoints points. */
export function strideFor(count: number, maxPoints: number): number {
  return maxPoints > 0 && count > maxPoints ? Math.ceil(count / maxPoints) : 1;
}

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

  async function waitForRecorded(id: string, status: string, signal: AbortSignal) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [row] = await db.select().from(runs).where(eq(runs.id, id));
      if (row!.status === status || isFinalStatus(row!.status) || Date.now() > deadline || signal.aborted) return row!;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  return {
    async startRun(request) {
      const checked = checkRunSpec(request.spec);
      if (request.name.length > 200) throw invalidArgument("name", "must be at most 200 characters");
      let datasetId: string;
      let selectionId: string | null = null;
      let input: { sha256: string; format: string };
      if ("selectionId" in checked.data) {
        selectionId = requireId("spec.selection_id", checked.data.selectionId);
        const [found] = await db.select({ selection: selections, dataset: datasets }).from(selections).innerJoin(datasets, eq(datasets.id, selections.datasetId)).where(eq(selections.id, selectionId));
        if (!found) throw notFound("selection", selectionId);
        if (found.selection.status !== "done" || !found.selection.subsetSha256) {
          throw failedPrecondition(`selection ${selectionId} is ${found.selection.status}, not done: wait for it (uniformity select waits by default)`);
        }
        datasetId = found.dataset.id;
        input = { sha256: found.selection.subsetSha256, format: found.dataset.format };
      } else {
        datasetId = requireId("spec.dataset_id", checked.data.datasetId);
        const [dataset] = await db.select().from(datasets).where(eq(datasets.id, datasetId));
        if (!dataset) throw notFound("dataset", datasetId);
        input = { sha256: dataset.sha256, format: dataset.format };
      }
      if (checked.settings.gpus > 0) {
        const most = Math.max(0, ...(await liveWorkers(deps.bus, deps.heartbeatTtlMs)).map((w) => w.gpus.length));
        if (checked.settings.gpus > most) {
          throw invalidArgument("spec.gpus", `asks for ${checked.settings.gpus} GPUs but the live workers have at most ${most}`);
        }
      }
      const spec = pb.RunSpec.toJSON(request.spec!) as object;
      const [row] = await db.insert(runs).values({ name: request.name, selectionId, datasetId, spec, status: "queued" }).returning();
      const job: JobMessage = {
        id: row!.id,
        kind: "train",
        spec: { kind: "train", run_id: row!.id, ...checked.settings, device: "auto" },
        inputs: { dataset: input },
      };
      try {
        const { seq } = await publishJson(deps.bus.js, deps.bus.names.jobs("train"), job, row!.id);
        const [queued] = await db.update(runs).set({ jobSeq: seq }).where(eq(runs.id, row!.id)).returning();
        return { run: runToPb(queued!) };
      } catch (err) {
        await db.delete(runs).where(eq(runs.id, row!.id));
        throw unavailable(`could not queue the run: ${(err as Error).message}`);
      }
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

    async cancelRun(request) {
      const id = requireId("id", request.id);
      const [row] = await db.select().from(runs).where(eq(runs.id, id));
      if (!row) throw notFound("run", id);
      if (isFinalStatus(row.status)) throw failedPrecondition(`run ${id} is already ${row.status}`);
      if (row.status === "queued" && row.jobSeq !== null) {
        // Still waiting in JOBS: withdraw the message so no worker starts it.
        const withdrawn = await deps.bus.jsm.streams.deleteMessage(deps.bus.names.jobsStream, row.jobSeq, false).catch(() => false);
        if (withdrawn) {
          const [cancelled] = await db
            .update(runs)
            .set({ status: "cancelled", error: "cancelled before it started", finishedAt: new Date() })
            .where(and(eq(runs.id, id), eq(runs.status, "queued")))
            .returning();
          if (cancelled) return { run: runToPb(cancelled) };
        }
      }
      // Running (or just taken by a worker): ask its worker; the run ends
      // cancelled when the core has stopped. Marked here so the recorder
      // repeats the request should the worker not have listened yet.
      const [marked] = await db.update(runs).set({ error: "cancel requested" }).where(eq(runs.id, id)).returning();
      deps.bus.nc.publish(deps.bus.names.control("run", id), new TextEncoder().encode(JSON.stringify({ action: "cancel" })));
      return { run: runToPb(marked!) };
    },

    async *streamMetrics(request, ctx) {
      const id = requireId("run_id", request.runId);
      const maxPoints = requireNumber("max_points", request.maxPoints, { min: 0, max: 1_000_000, integer: true });
      const afterStep = requireNumber("after_step", request.afterStep, { min: 0, integer: true });
      // Subscribe before reading history so no live step falls between the two.
      const subscription = request.follow ? deps.bus.nc.subscribe(deps.bus.names.events("run", id, "*")) : undefined;
      const onAbort = () => subscription?.unsubscribe();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        const [row] = await db.select().from(runs).where(eq(runs.id, id));
        if (!row) throw notFound("run", id);
        const [{ count }] = (await db.select({ count: sql<number>`count(*)::int` }).from(lossPoints).where(and(eq(lossPoints.runId, id), gt(lossPoints.step, afterStep)))) as [{ count: number }];
        const stride = strideFor(count, maxPoints);
        const history = await db
          .select()
          .from(lossPoints)
          .where(
            and(
              eq(lossPoints.runId, id),
              gt(lossPoints.step, afterStep),
              stride > 1 ? sql`(${lossPoints.step} % ${stride} = 0 or ${lossPoints.step} = (select max(step) from loss_points where run_id = ${id}))` : undefined,
            ),
          )
          .orderBy(asc(lossPoints.step));
        let last = afterStep;
        for (const point of history) {
          last = point.step;
          yield { event: { $case: "step", value: { ...lossPointToPb(point), totalSteps: row.totalSteps } } };
        }
        yield { event: { $case: "run", value: runToPb(row) } };
        if (!subscription || isFinalStatus(row.status)) return;

        for await (const message of subscription) {
          const event = decodeJson<JobEvent>(message.data);
          if (event.type === "step" && Number(event.step) > last) {
            last = Number(event.step);
            if (stride > 1 && last % stride !== 0) continue;
            yield {
              event: {
                $case: "step",
                value: {
                  step: last,
                  epoch: Number(event.epoch ?? 0),
                  loss: Number(event.loss),
                  lr: Number(event.lr ?? 0),
                  gradNorm: Number(event.grad_norm ?? 0),
                  tokens: Number(event.tokens ?? 0),
                  samples: Number(event.samples ?? 0),
                  elapsedS: Number(event.elapsed_s ?? 0),
                  tokensPerS: Number(event.tokens_per_s ?? 0),
                  totalSteps: Number(event.total_steps ?? 0),
                },
              },
            };
          } else if (event.type === "progress") {
            yield { event: { $case: "progress", value: { phase: String(event.phase ?? ""), done: Number(event.done ?? 0), total: Number(event.total ?? 0) } } };
          } else if (event.type === "status") {
            // The recorder writes the status a moment after the event: wait for it.
            const final = await waitForRecorded(id, event.status ?? "", ctx.signal);
            yield { event: { $case: "run", value: runToPb(final) } };
            if (isFinalStatus(final.status)) return;
          }
        }
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        subscription?.unsubscribe();
      }
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
