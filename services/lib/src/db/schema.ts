// Tables of record. Every write that can be repeated (event redelivery, a
// re-import) lands on a natural key, so doing it twice changes nothing.
import { sql } from "drizzle-orm";
import {
  bigint,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const JOB_STATUSES = ["queued", "running", "done", "failed", "cancelled"] as const;
export type JobStatusName = (typeof JOB_STATUSES)[number];

const created = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const datasets = pgTable(
  "datasets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    format: text("format", { enum: ["alpaca", "sharegpt"] }).notNull(),
    recordCount: bigint("record_count", { mode: "number" }).notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    sha256: text("sha256").notNull(),
    createdAt: created(),
  },
  (t) => [uniqueIndex("datasets_sha256_key").on(t.sha256), index("datasets_created_idx").on(t.createdAt)],
);

export const selections = pgTable(
  "selections",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    datasetId: uuid("dataset_id")
      .notNull()
      .references(() => datasets.id),
    strategy: text("strategy").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    seed: bigint("seed", { mode: "number" }).notNull(),
    embedder: jsonb("embedder").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("queued"),
    error: text("error"),
    metrics: jsonb("metrics"),
    progress: jsonb("progress"),
    subsetSha256: text("subset_sha256"),
    plotSha256: text("plot_sha256"),
    worker: text("worker"),
    createdAt: created(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [index("selections_dataset_idx").on(t.datasetId), index("selections_created_idx").on(t.createdAt)],
);

export const selectionMembers = pgTable(
  "selection_members",
  {
    selectionId: uuid("selection_id")
      .notNull()
      .references(() => selections.id, { onDelete: "cascade" }),
    /** 0-based order in which the strategy picked the record. */
    position: integer("position").notNull(),
    recordIndex: integer("record_index").notNull(),
    /** Minimum distance to the records picked before it (null for the first pick). */
    pickDistance: doublePrecision("pick_distance"),
  },
  (t) => [primaryKey({ columns: [t.selectionId, t.position] })],
);

export const runs = pgTable(
  "runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull().default(""),
    selectionId: uuid("selection_id").references(() => selections.id),
    datasetId: uuid("dataset_id")
      .notNull()
      .references(() => datasets.id),
    spec: jsonb("spec").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("queued"),
    step: bigint("step", { mode: "number" }).notNull().default(0),
    totalSteps: bigint("total_steps", { mode: "number" }).notNull().default(0),
    epoch: doublePrecision("epoch").notNull().default(0),
    latestLoss: doublePrecision("latest_loss"),
    bestLoss: doublePrecision("best_loss"),
    tokens: bigint("tokens", { mode: "number" }).notNull().default(0),
    wallSeconds: doublePrecision("wall_seconds").notNull().default(0),
    worker: text("worker"),
    error: text("error"),
    progress: jsonb("progress"),
    checkpointDir: text("checkpoint_dir"),
    attempts: integer("attempts").notNull().default(0),
    /** JOBS stream sequence of the job message, so a queued run can be withdrawn on cancel. */
    jobSeq: bigint("job_seq", { mode: "number" }),
    createdAt: created(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [index("runs_created_idx").on(t.createdAt)],
);

export const lossPoints = pgTable(
  "loss_points",
  {
    runId: uuid("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    step: bigint("step", { mode: "number" }).notNull(),
    epoch: doublePrecision("epoch").notNull(),
    loss: doublePrecision("loss").notNull(),
    lr: doublePrecision("lr").notNull(),
    gradNorm: doublePrecision("grad_norm"),
    tokens: bigint("tokens", { mode: "number" }).notNull(),
    samples: bigint("samples", { mode: "number" }).notNull(),
    elapsedS: doublePrecision("elapsed_s").notNull(),
    tokensPerS: doublePrecision("tokens_per_s"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step] })],
);

export const evaluations = pgTable(
  "evaluations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    runId: uuid("run_id").references(() => runs.id),
    modelDir: text("model_dir").notNull(),
    tasks: jsonb("tasks").notNull(),
    dataDir: text("data_dir").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("queued"),
    error: text("error"),
    progress: jsonb("progress"),
    durationS: doublePrecision("duration_s"),
    worker: text("worker"),
    createdAt: created(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [index("evaluations_run_idx").on(t.runId)],
);

export const scores = pgTable(
  "scores",
  {
    evaluationId: uuid("evaluation_id")
      .notNull()
      .references(() => evaluations.id, { onDelete: "cascade" }),
    task: text("task").notNull(),
    shots: integer("shots").notNull(),
    metric: text("metric").notNull(),
    value: doublePrecision("value").notNull(),
    stderr: doublePrecision("stderr").notNull(),
    n: bigint("n", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.evaluationId, t.task, t.metric] })],
);

export const workers = pgTable("workers", {
  id: text("id").primaryKey(),
  hostname: text("hostname").notNull(),
  gpus: jsonb("gpus").notNull().default(sql`'[]'::jsonb`),
  slots: integer("slots").notNull(),
  version: text("version").notNull().default(""),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  lastSeen: timestamp("last_seen", { withTimezone: true }).notNull(),
});
