// `train ... --eval TASK`: once a run is done, ask EvaluationService (over
// gRPC, like any client) to score its final checkpoint.
import { eq } from "drizzle-orm";
import { pb, tables, type Client, type Database, type Logger } from "@uniformity/lib";

export async function evaluateFinishedRun(
  database: Database,
  evaluation: Client<typeof pb.EvaluationServiceService>,
  log: Logger,
  runId: string,
  status: "done" | "failed" | "cancelled",
): Promise<void> {
  if (status !== "done") return;
  const [run] = await database.db.select().from(tables.runs).where(eq(tables.runs.id, runId));
  const spec = pb.RunSpec.fromJSON(run?.spec ?? {});
  if (!run || spec.evals.length === 0) return;
  try {
    const response = await evaluation.evaluate(
      { target: { $case: "runId", value: runId }, tasks: spec.evals, dataDir: spec.evalDataDir, limit: spec.evalLimit, batchSize: 0 },
      { timeoutMs: 10_000 },
    );
    log.info("queued the run's evaluation", { run: runId, evaluation: response.evaluation?.id });
  } catch (err) {
    // The run itself succeeded; a failed request is logged, not retried
    // forever — `uniformity eval --run ID` can always ask again.
    log.error("could not queue the run's evaluation", { run: runId, error: (err as Error).message });
  }
}
