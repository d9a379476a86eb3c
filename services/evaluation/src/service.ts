// EvaluationService: recorded evaluations (Evaluate and Compare come with
// the evaluation issue).
import { asc, desc, eq, inArray } from "drizzle-orm";
import {
  failedPrecondition,
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
  type JobMessage,
} from "@uniformity/lib";
import { summarise, type TracePoint } from "./analytics";
import { comparisonPicture } from "./picture";

const { evaluations, scores, runs, lossPoints, selections, datasets } = tables;

export const TASK_DEFAULT_SHOTS: Record<string, number> = { arc_challenge: 25, truthfulqa_mc: 0 };

export interface EvaluationDeps {
  database: Database;
  bus: Bus;
}

/** Checks the task list: known names, shots in range, each task once. */
export function checkTasks(tasks: pb.TaskSpec[]): { name: string; shots: number }[] {
  if (tasks.length === 0) throw invalidArgument("tasks", `at least one is required: ${Object.keys(TASK_DEFAULT_SHOTS).join(", ")}`);
  const seen = new Set<string>();
  return tasks.map((task, i) => {
    if (!(task.name in TASK_DEFAULT_SHOTS)) {
      throw invalidArgument(`tasks[${i}].name`, `unknown task ${JSON.stringify(task.name)}: use ${Object.keys(TASK_DEFAULT_SHOTS).join(" or ")}`);
    }
    if (seen.has(task.name)) throw invalidArgument(`tasks[${i}].name`, `${task.name} is listed twice`);
    seen.add(task.name);
    const shots = task.shots ?? TASK_DEFAULT_SHOTS[task.name]!;
    requireNumber(`tasks[${i}].shots`, shots, { min: 0, max: 100, integer: true });
    return { name: task.name, shots };
  });
}

type EvaluationRow = typeof evaluations.$inferSelect;
type ScoreRow = typeof scores.$inferSelect;

export function evaluationToPb(row: EvaluationRow, rowScores: ScoreRow[]): pb.Evaluation {
  const progress = row.progress as { phase?: string; done?: number; total?: number } | null;
  return {
    id: row.id,
    runId: row.runId ?? "",
    modelDir: row.modelDir,
    tasks: (row.tasks as { name: string; shots?: number }[]).map((t) => ({ name: t.name, shots: t.shots })),
    status: jobStatusToPb(row.status),
    error: row.error ?? "",
    scores: rowScores.map((s) => ({ task: s.task, shots: s.shots, metric: s.metric, value: s.value, stderr: s.stderr, n: s.n })),
    progress: progress ? { phase: progress.phase ?? "", done: progress.done ?? 0, total: progress.total ?? 0 } : undefined,
    durationS: row.durationS ?? 0,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt ?? undefined,
  };
}

export function evaluationService(deps: EvaluationDeps): Implementation<typeof pb.EvaluationServiceService> {
  const { db } = deps.database;
  return {
    async evaluate(request) {
      let modelDir: string;
      let runId: string | null = null;
      if (request.target?.$case === "runId") {
        runId = requireId("run_id", request.target.value);
        const [run] = await db.select().from(runs).where(eq(runs.id, runId));
        if (!run) throw notFound("run", runId);
        if (run.status !== "done" || !run.checkpointDir) {
          throw failedPrecondition(`run ${runId} has no final checkpoint to score (it is ${run.status})`);
        }
        modelDir = run.checkpointDir;
      } else if (request.target?.$case === "modelDir") {
        modelDir = request.target.value;
        if (!modelDir.startsWith("/")) throw invalidArgument("model_dir", "must be an absolute directory on the worker");
      } else {
        throw invalidArgument("run_id", "either a run or a model directory is required");
      }
      const tasks = checkTasks(request.tasks);
      if (!request.dataDir.startsWith("/")) throw invalidArgument("data_dir", "is required: an absolute directory on the worker holding the task files");
      const limit = requireNumber("limit", request.limit, { min: 0, integer: true });
      const batchSize = request.batchSize ? requireNumber("batch_size", request.batchSize, { min: 1, max: 1024, integer: true }) : 8;

      const [row] = await db.insert(evaluations).values({ runId, modelDir, tasks, dataDir: request.dataDir, status: "queued" }).returning();
      const job: JobMessage = {
        id: row!.id,
        kind: "eval",
        spec: { kind: "eval", model_dir: modelDir, tasks, data_dir: request.dataDir, limit, batch_size: batchSize, device: "auto" },
        inputs: {},
      };
      try {
        await publishJson(deps.bus.js, deps.bus.names.jobs("eval"), job, row!.id);
      } catch (err) {
        await db.delete(evaluations).where(eq(evaluations.id, row!.id));
        throw unavailable(`could not queue the evaluation: ${(err as Error).message}`);
      }
      return { evaluation: evaluationToPb(row!, []) };
    },

    async getEvaluation(request) {
      const [row] = await db.select().from(evaluations).where(eq(evaluations.id, requireId("id", request.id)));
      if (!row) throw notFound("evaluation", request.id);
      const rowScores = await db.select().from(scores).where(eq(scores.evaluationId, row.id));
      return { evaluation: evaluationToPb(row, rowScores) };
    },

    async listEvaluations(request) {
      const page = readPage(request.page);
      const where = request.runId ? eq(evaluations.runId, requireId("run_id", request.runId)) : undefined;
      const rows = await db.select().from(evaluations).where(where).orderBy(desc(evaluations.createdAt), desc(evaluations.id)).limit(page.limit).offset(page.offset);
      const allScores = rows.length ? await db.select().from(scores).where(inArray(scores.evaluationId, rows.map((r) => r.id))) : [];
      return {
        evaluations: rows.map((row) => evaluationToPb(row, allScores.filter((s) => s.evaluationId === row.id))),
        nextPageToken: nextPageToken(page, rows.length),
      };
    },

    async compare(request) {
      if (request.runIds.length === 0 || request.runIds.length > 20) throw invalidArgument("run_ids", "name 1 to 20 runs");
      const ids = request.runIds.map((id, i) => requireId(`run_ids[${i}]`, id));
      request.thresholds.forEach((t, i) => requireNumber(`thresholds[${i}]`, t, { exclusiveMin: 0 }));
      const runRows = await db
        .select({ run: runs, strategy: selections.strategy, selectionSize: selections.size, datasetRecords: datasets.recordCount })
        .from(runs)
        .leftJoin(selections, eq(selections.id, runs.selectionId))
        .innerJoin(datasets, eq(datasets.id, runs.datasetId))
        .where(inArray(runs.id, ids));
      for (const id of ids) if (!runRows.some((r) => r.run.id === id)) throw notFound("run", id);

      const points = await db.select().from(lossPoints).where(inArray(lossPoints.runId, ids)).orderBy(asc(lossPoints.step));
      const evalRows = await db.select().from(evaluations).where(inArray(evaluations.runId, ids)).orderBy(asc(evaluations.createdAt));
      const scoreRows = evalRows.length ? await db.select().from(scores).where(inArray(scores.evaluationId, evalRows.map((e) => e.id))) : [];

      const rows: pb.RunComparison[] = [];
      const curves: { name: string; trace: TracePoint[]; smoothed: (number | null)[] }[] = [];
      for (const id of ids) {
        const { run, strategy, selectionSize, datasetRecords } = runRows.find((r) => r.run.id === id)!;
        const trace = points.filter((p) => p.runId === id).map((p) => ({ step: p.step, loss: p.loss, elapsedS: p.elapsedS, tokens: p.tokens }));
        const summary = summarise(trace, request.thresholds);
        // Later evaluations of the same task and metric replace earlier ones.
        const latest = new Map<string, pb.Score>();
        for (const evaluation of evalRows.filter((e) => e.runId === id && e.status === "done")) {
          for (const s of scoreRows.filter((r) => r.evaluationId === evaluation.id)) {
            latest.set(`${s.task}/${s.metric}`, { task: s.task, shots: s.shots, metric: s.metric, value: s.value, stderr: s.stderr, n: s.n });
          }
        }
        rows.push({
          runId: id,
          name: run.name,
          strategy: strategy ?? "full",
          records: selectionSize ?? datasetRecords,
          thresholds: summary.thresholds,
          finalLoss: summary.finalLoss,
          minLoss: summary.minLoss,
          lossAuc: summary.area,
          tokens: summary.tokens,
          steps: trace.length,
          scores: [...latest.values()].sort((a, b) => `${a.task}/${a.metric}`.localeCompare(`${b.task}/${b.metric}`)),
        });
        curves.push({ name: run.name || `${strategy ?? "full"} ${id.slice(0, 8)}`, trace, smoothed: summary.smoothed });
      }
      const plotPng = request.plot ? comparisonPicture(rows, curves, request.thresholds) : Buffer.alloc(0);
      return { runs: rows, plotPng };
    },
  };
}
