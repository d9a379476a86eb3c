// EvaluationService: recorded evaluations (Evaluate and Compare come with
// the evaluation issue).
import { desc, eq, inArray } from "drizzle-orm";
import { jobStatusToPb, nextPageToken, notFound, pb, readPage, requireId, tables, unimplemented, type Database, type Implementation } from "@uniformity/lib";

const { evaluations, scores } = tables;

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

export function evaluationService(database: Database): Implementation<typeof pb.EvaluationServiceService> {
  const { db } = database;
  return {
    async evaluate() {
      throw unimplemented("Evaluate", "evaluation issue #5");
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

    async compare() {
      throw unimplemented("Compare", "evaluation issue #5");
    },
  };
}
