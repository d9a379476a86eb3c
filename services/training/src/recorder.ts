// Writes run events into Postgres: steps in batches (an upsert on
// (run_id, step), so redelivered or re-emitted steps never duplicate),
// and the run's summary columns and status.
import { and, eq, notInArray, sql } from "drizzle-orm";
import { startRecorder, tables, type Bus, type Database, type Logger, type RecordedEvent } from "@uniformity/lib";

const { runs, lossPoints } = tables;
const FINAL = ["done", "failed", "cancelled"] as ("done" | "failed" | "cancelled")[];

type LossRow = typeof lossPoints.$inferInsert;

export function stepRow(runId: string, event: Record<string, unknown>): LossRow | undefined {
  const step = Number(event.step);
  const loss = Number(event.loss);
  if (!Number.isInteger(step) || step < 1 || !Number.isFinite(loss)) return undefined;
  const num = (key: string) => (typeof event[key] === "number" && Number.isFinite(event[key]) ? (event[key] as number) : null);
  return {
    runId,
    step,
    epoch: num("epoch") ?? 0,
    loss,
    lr: num("lr") ?? 0,
    gradNorm: num("grad_norm"),
    tokens: num("tokens") ?? 0,
    samples: num("samples") ?? 0,
    elapsedS: num("elapsed_s") ?? 0,
    tokensPerS: num("tokens_per_s"),
  };
}

export interface OnRunFinished {
  (runId: string, status: "done" | "failed" | "cancelled"): Promise<void>;
}

export async function startRunRecorder(database: Database, bus: Bus, log: Logger, onFinished?: OnRunFinished) {
  const { db } = database;

  async function recordSteps(id: string, events: RecordedEvent[]): Promise<void> {
    const rows = events.map((e) => stepRow(id, e.event)).filter((r): r is LossRow => r !== undefined);
    if (rows.length === 0) return;
    for (let i = 0; i < rows.length; i += 2000) await db.insert(lossPoints).values(rows.slice(i, i + 2000)).onConflictDoNothing();
    const latest = rows.reduce((a, b) => (b.step > a.step ? b : a));
    const totalSteps = Math.max(0, ...events.map((e) => Number(e.event.total_steps ?? 0)).filter(Number.isFinite));
    // Summary from the table itself, so batches arriving in any order agree.
    await db
      .update(runs)
      .set({
        step: sql`greatest(${runs.step}, ${latest.step})`,
        totalSteps: sql`greatest(${runs.totalSteps}, ${totalSteps})`,
        epoch: sql`(select epoch from loss_points where run_id = ${id} order by step desc limit 1)`,
        latestLoss: sql`(select loss from loss_points where run_id = ${id} order by step desc limit 1)`,
        bestLoss: sql`(select min(loss) from loss_points where run_id = ${id})`,
        tokens: sql`(select coalesce(sum(tokens), 0) from loss_points where run_id = ${id})`,
        wallSeconds: sql`(select elapsed_s from loss_points where run_id = ${id} order by step desc limit 1)`,
      })
      .where(eq(runs.id, id));
  }

  async function handle(events: RecordedEvent[]): Promise<void> {
    // Steps of one run are written together; everything else in order.
    const steps = new Map<string, RecordedEvent[]>();
    for (const e of events) if (e.type === "step") steps.set(e.id, [...(steps.get(e.id) ?? []), e]);
    for (const [id, batch] of steps) await recordSteps(id, batch);

    for (const { id, type, event } of events) {
      const open = and(eq(runs.id, id), notInArray(runs.status, FINAL));
      if (type === "progress") {
        await db.update(runs).set({ progress: { phase: event.phase, done: event.done, total: event.total } }).where(open);
      } else if (type === "checkpoint") {
        await db.update(runs).set({ checkpointDir: String(event.path ?? "") }).where(open);
      } else if (type === "result") {
        await db.update(runs).set({ checkpointDir: String(event.checkpoint_dir ?? "") }).where(eq(runs.id, id));
      } else if (type === "status") {
        if (event.status === "running") {
          const [row] = await db
            .update(runs)
            .set({ status: "running", worker: event.worker, startedAt: sql`coalesce(${runs.startedAt}, now())`, attempts: Number(event.attempt ?? 1) })
            .where(open)
            .returning();
          // A cancel asked for while the job was changing hands: ask again now the worker listens.
          if (row?.error === "cancel requested") bus.nc.publish(bus.names.control("run", id), new TextEncoder().encode('{"action":"cancel"}'));
        } else if (event.status === "queued") {
          await db.update(runs).set({ status: "queued", error: event.error ?? null }).where(open);
        } else if (event.status === "done" || event.status === "failed" || event.status === "cancelled") {
          const [row] = await db
            .update(runs)
            .set({ status: event.status, error: event.status === "done" ? null : (event.error ?? null), progress: null, finishedAt: new Date() })
            .where(open)
            .returning();
          if (row && onFinished) await onFinished(id, event.status);
        }
      }
    }
  }

  return startRecorder(bus, "run", log, handle);
}
