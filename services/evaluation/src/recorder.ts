// Writes evaluation events into Postgres; scores land on their natural key
// (evaluation, task, metric), so a redelivered result changes nothing.
import { and, eq, notInArray } from "drizzle-orm";
import { startRecorder, tables, type Bus, type Database, type Logger, type RecordedEvent } from "@uniformity/lib";

const { evaluations, scores } = tables;
const FINAL = ["done", "failed", "cancelled"] as ("done" | "failed" | "cancelled")[];

interface ScoreEvent {
  task: string;
  shots: number;
  metric: string;
  value: number;
  stderr: number;
  n: number;
}

export async function startEvaluationRecorder(database: Database, bus: Bus, log: Logger) {
  const { db } = database;

  async function handle(events: RecordedEvent[]): Promise<void> {
    for (const { id, type, event } of events) {
      const open = and(eq(evaluations.id, id), notInArray(evaluations.status, FINAL));
      if (type === "progress") {
        await db.update(evaluations).set({ progress: { phase: event.phase, done: event.done, total: event.total } }).where(open);
      } else if (type === "result") {
        const rows = ((event.scores ?? []) as ScoreEvent[]).map((s) => ({
          evaluationId: id,
          task: s.task,
          shots: s.shots,
          metric: s.metric,
          value: s.value,
          stderr: Number.isFinite(s.stderr) ? s.stderr : 0,
          n: s.n,
        }));
        await db.transaction(async (tx) => {
          for (const row of rows) {
            await tx.insert(scores).values(row).onConflictDoUpdate({ target: [scores.evaluationId, scores.task, scores.metric], set: { value: row.value, stderr: row.stderr, n: row.n, shots: row.shots } });
          }
          await tx
            .update(evaluations)
            .set({ status: "done", error: null, progress: null, durationS: Number(event.duration_s ?? 0), worker: event.worker, finishedAt: new Date() })
            .where(open);
        });
      } else if (type === "status") {
        if (event.status === "running") {
          await db.update(evaluations).set({ status: "running", worker: event.worker }).where(open);
        } else if (event.status === "queued") {
          await db.update(evaluations).set({ status: "queued", error: event.error ?? null }).where(open);
        } else if (event.status === "failed" || event.status === "cancelled") {
          await db.update(evaluations).set({ status: event.status, error: event.error ?? null, finishedAt: new Date() }).where(open);
        }
      }
    }
  }

  return startRecorder(bus, "eval", log, handle);
}
