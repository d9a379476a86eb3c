// train, and runs list | show | cancel | logs
import { pb } from "@uniformity/lib";
import {
  UsageError,
  choice,
  flag,
  list,
  nonNegativeInt,
  oneOf,
  parseInteger,
  positiveInt,
  positiveNumber,
  requiredStr,
  str,
  type Parsed,
} from "../args";
import { present, type Command } from "../command";
import type { Context } from "../context";
import { endProblem, isFinal, jobProgress, statusName } from "../jobs";
import { enumName, fmtDuration, fmtInt, fmtLr, fmtNumber, fmtTime } from "../output";
import type { ProgressBar } from "../progress";
import { allPages } from "./dataset";

const lossName = (v: pb.Loss) => enumName(pb.Loss, "LOSS_", v);
const optimizerName = (v: pb.Optimizer) => enumName(pb.Optimizer, "OPTIMIZER_", v);
const precisionName = (v: pb.Precision) => enumName(pb.Precision, "PRECISION_", v);

export function taskText(t: pb.TaskSpec): string {
  return t.shots === undefined ? t.name : `${t.name}:${t.shots}`;
}

/** TASK[:SHOTS] as --task / --eval take it; the server knows which task names exist. */
export function parseTask(flagName: string, raw: string): pb.TaskSpec {
  const match = /^([A-Za-z0-9_.-]+)(?::(.*))?$/.exec(raw);
  if (!match) throw new UsageError(`${flagName} must be TASK or TASK:SHOTS, got ${JSON.stringify(raw)}`);
  const name = match[1]!;
  if (match[2] === undefined) return { name };
  return { name, shots: parseInteger(`${flagName} ${name}: SHOTS`, match[2], 0) };
}

function specView(spec: pb.RunSpec | undefined): Record<string, unknown> | null {
  if (!spec) return null;
  const { data, ...rest } = spec;
  return {
    selectionId: data?.$case === "selectionId" ? data.value : "",
    datasetId: data?.$case === "datasetId" ? data.value : "",
    ...rest,
    loss: lossName(spec.loss),
    optimizer: optimizerName(spec.optimizer),
    precision: precisionName(spec.precision),
  };
}

export function runView(run: pb.Run): Record<string, unknown> {
  return { ...run, spec: specView(run.spec), status: statusName(run.status) };
}

function stepText(run: pb.Run): string {
  return run.totalSteps ? `${fmtInt(run.step)}/${fmtInt(run.totalSteps)}` : fmtInt(run.step);
}

function runBlock(ctx: Context, run: pb.Run): void {
  const spec = run.spec;
  const data = spec?.data;
  ctx.out.keyValue([
    ["id", run.id],
    ["name", run.name || undefined],
    ["status", statusName(run.status)],
    ["error", run.error || undefined],
    ["data", data ? `${data.$case === "selectionId" ? "selection" : "dataset"} ${data.value}` : "-"],
    ["model", spec?.modelDir],
    [
      "training",
      spec &&
        [
          `loss ${lossName(spec.loss)}`,
          `optim ${optimizerName(spec.optimizer)}`,
          spec.lr ? `lr ${fmtLr(spec.lr)}` : "",
          spec.batchSize ? `batch ${spec.batchSize}` : "",
          spec.microBatchSize ? `micro-batch ${spec.microBatchSize}` : "",
          spec.maxLength ? `max-length ${spec.maxLength}` : "",
          spec.epochs ? `epochs ${spec.epochs}` : "",
          `precision ${precisionName(spec.precision)}`,
          spec.loraR ? `lora-r ${spec.loraR}` : "",
          spec.gradientCheckpointing ? "gradient checkpointing" : "",
        ]
          .filter(Boolean)
          .join(", "),
    ],
    ["evals", spec?.evals.length ? spec.evals.map(taskText).join(", ") : undefined],
    ["step", stepText(run)],
    ["epoch", run.epoch ? run.epoch.toFixed(2) : undefined],
    ["loss", run.step ? `${fmtNumber(run.latestLoss)} (best ${fmtNumber(run.bestLoss)})` : undefined],
    ["tokens", run.tokens ? fmtInt(run.tokens) : undefined],
    ["wall time", run.wallSeconds ? fmtDuration(run.wallSeconds) : undefined],
    ["worker", run.worker || undefined],
    ["checkpoint", run.checkpointDir || undefined],
    ["created", fmtTime(run.createdAt)],
    ["started", run.startedAt ? fmtTime(run.startedAt) : undefined],
    ["finished", run.finishedAt ? fmtTime(run.finishedAt) : undefined],
  ]);
}

const LOSSES = ["ce", "l2"] as const;
const OPTIMIZERS = ["adamw", "sgd"] as const;
const PRECISIONS = ["fp32", "fp16", "bf16"] as const;

/** The StartRun request the flags describe, checked before any call; zero values leave the server's defaults. */
export function startRunRequest(args: Parsed): pb.StartRunRequest {
  const source = oneOf(args, ["selection", "dataset"] as const)!;
  const sourceId = requiredStr(args, source);
  const loss = choice(args, "loss", LOSSES);
  const optim = choice(args, "optim", OPTIMIZERS);
  const precision = choice(args, "precision", PRECISIONS);
  const spec: pb.RunSpec = {
    data: source === "selection" ? { $case: "selectionId", value: sourceId } : { $case: "datasetId", value: sourceId },
    modelDir: requiredStr(args, "model"),
    loss: loss ? pb.Loss[`LOSS_${loss.toUpperCase()}` as keyof typeof pb.Loss] : pb.Loss.LOSS_UNSPECIFIED,
    optimizer: optim ? pb.Optimizer[`OPTIMIZER_${optim.toUpperCase()}` as keyof typeof pb.Optimizer] : pb.Optimizer.OPTIMIZER_UNSPECIFIED,
    lr: positiveNumber(args, "lr") ?? 0,
    batchSize: positiveInt(args, "batch-size") ?? 0,
    microBatchSize: positiveInt(args, "micro-batch-size") ?? 0,
    maxLength: positiveInt(args, "max-length") ?? 0,
    epochs: positiveNumber(args, "epochs") ?? 0,
    warmupSteps: nonNegativeInt(args, "warmup-steps"),
    precision: precision
      ? pb.Precision[`PRECISION_${precision.toUpperCase()}` as keyof typeof pb.Precision]
      : pb.Precision.PRECISION_UNSPECIFIED,
    gradientCheckpointing: flag(args, "gradient-checkpointing"),
    gpus: nonNegativeInt(args, "gpus") ?? 0,
    seed: nonNegativeInt(args, "seed") ?? 0,
    saveSteps: nonNegativeInt(args, "save-steps") ?? 0,
    loraR: nonNegativeInt(args, "lora-r") ?? 0,
    evals: list(args, "eval").map((raw) => parseTask("--eval", raw)),
    evalDataDir: str(args, "eval-data") ?? "",
    evalLimit: nonNegativeInt(args, "eval-limit") ?? 0,
  };
  if (spec.evals.length && !spec.evalDataDir) throw new UsageError("--eval needs --eval-data DIR (the task files on the worker)");
  const microBatch = spec.microBatchSize;
  if (microBatch && spec.batchSize && microBatch > spec.batchSize) {
    throw new UsageError(`--micro-batch-size (${microBatch}) must not exceed --batch-size (${spec.batchSize})`);
  }
  return { spec, name: str(args, "name") ?? "" };
}

function stepDetail(point: pb.LossPoint): string {
  return `loss ${fmtNumber(point.loss)}  ${fmtInt(point.tokensPerS)} tok/s`;
}

/**
 * Streams a run's metrics until it ends, drawing step/total with live loss;
 * returns the run's final state (or its last known one when not following).
 */
async function followRun(ctx: Context, start: pb.Run, onStep: (p: pb.LossPoint) => void, follow: boolean, maxPoints = 0, bar?: ProgressBar): Promise<pb.Run> {
  const client = ctx.training();
  let run = start;
  let detail = "";
  const stream = client.streamMetrics({ runId: start.id, follow, maxPoints, afterStep: 0 }, { signal: ctx.signal });
  try {
    for await (const message of stream) {
      const event = message.event;
      if (!event) continue;
      if (event.$case === "step") {
        onStep(event.value);
        detail = stepDetail(event.value);
        bar?.update({ phase: "train", done: event.value.step, total: event.value.totalSteps || run.totalSteps, detail });
      } else if (event.$case === "run") {
        run = event.value;
        if (follow && isFinal(run.status)) break;
        // Once steps flow, the step bar says more than the status does.
        if (run.status !== pb.JobStatus.JOB_STATUS_RUNNING || !run.step) bar?.update(jobProgress(run.status, run.progress));
      } else {
        bar?.update(jobProgress(pb.JobStatus.JOB_STATUS_RUNNING, event.value, detail));
      }
    }
  } finally {
    bar?.end();
  }
  if (follow && !isFinal(run.status)) run = present((await client.getRun({ id: start.id }, { signal: ctx.signal })).run, "run");
  return run;
}

const trainCommand: Command = {
  path: "train",
  summary: "Fine-tune a model on a selection or a whole dataset.",
  usage:
    "(--selection ID | --dataset ID) --model DIR [--loss ce|l2] [--optim adamw|sgd] [--lr X] [--batch-size N] [--micro-batch-size N] [--max-length N] [--epochs X] [--warmup-steps N] [--precision fp32|fp16|bf16] [--gradient-checkpointing] [--gpus N] [--seed S] [--save-steps N] [--lora-r N] [--eval TASK[:SHOTS]]... [--eval-data DIR] [--eval-limit N] [--name N] [--follow]",
  description: "Queues the run and prints its id; with --follow, shows its steps live until it ends.",
  positionals: [],
  options: {
    selection: { type: "string", value: "ID", help: "train on this selection's records" },
    dataset: { type: "string", value: "ID", help: "train on every record of this dataset" },
    model: { type: "string", value: "DIR", help: "Hugging Face model directory as the worker sees it" },
    loss: { type: "string", value: "L", help: "ce (default) or l2" },
    optim: { type: "string", value: "O", help: "adamw (default) or sgd" },
    lr: { type: "string", value: "X", help: "learning rate (default 2e-5)" },
    "batch-size": { type: "string", value: "N", help: "global batch size in records (default 64)" },
    "micro-batch-size": { type: "string", value: "N", help: "per-device micro-batch (default: the worker picks)" },
    "max-length": { type: "string", value: "N", help: "maximum tokens per record (default 512)" },
    epochs: { type: "string", value: "X", help: "epochs (default 3)" },
    "warmup-steps": { type: "string", value: "N", help: "linear warm-up steps (default 2)" },
    precision: { type: "string", value: "P", help: "fp32, fp16 or bf16 (default fp32 on CPU, bf16 on GPU)" },
    "gradient-checkpointing": { type: "boolean", help: "trade compute for memory" },
    gpus: { type: "string", value: "N", help: "GPUs to use (default: CPU or all free)" },
    seed: { type: "string", value: "S", help: "seed for shuffling and initialisation" },
    "save-steps": { type: "string", value: "N", help: "checkpoint every N steps (default: only at the end)" },
    "lora-r": { type: "string", value: "N", help: "LoRA rank (default 0: train all weights)" },
    eval: { type: "string", multiple: true, value: "TASK[:SHOTS]", help: "evaluate the final checkpoint on this task" },
    "eval-data": { type: "string", value: "DIR", help: "directory on the worker with the task files (ARC-Challenge-*.jsonl, mc_task.json)" },
    "eval-limit": { type: "string", value: "N", help: "score only the first N questions of each task" },
    name: { type: "string", value: "N", help: "name of the run" },
    follow: { type: "boolean", help: "show the run's steps live until it ends" },
  },
  async run(args, ctx) {
    const request = startRunRequest(args);
    const queued = present((await ctx.training().startRun(request, { signal: ctx.signal })).run, "run");
    if (!flag(args, "follow")) {
      ctx.out.document(runView(queued));
      ctx.out.line(queued.id);
      runBlock(ctx, queued);
      return 0;
    }
    // The id first, so it is on screen even if the user stops following.
    ctx.out.line(queued.id);
    const final = await followRun(ctx, queued, () => undefined, true, 0, ctx.progress());
    ctx.out.document(runView(final));
    runBlock(ctx, final);
    const problem = endProblem("run", final.id, final.status, final.error);
    return problem ? ctx.problem(problem) : 0;
  },
};

const listCommand: Command = {
  path: "runs list",
  summary: "List training runs, newest first.",
  usage: "",
  positionals: [],
  options: {},
  async run(_args, ctx) {
    const client = ctx.training();
    const runs = await allPages(async (pageToken) => {
      const res = await client.listRuns({ page: { pageSize: 1000, pageToken } }, { signal: ctx.signal });
      return { items: res.runs, next: res.nextPageToken };
    });
    ctx.out.document(runs.map(runView));
    ctx.out.table(
      [
        { header: "ID" },
        { header: "NAME" },
        { header: "STATUS" },
        { header: "STEP", align: "right" },
        { header: "LOSS", align: "right" },
        { header: "BEST", align: "right" },
        { header: "WORKER" },
        { header: "CREATED" },
      ],
      runs.map((r) => [
        r.id,
        r.name || "-",
        statusName(r.status),
        stepText(r),
        r.step ? fmtNumber(r.latestLoss) : "-",
        r.step ? fmtNumber(r.bestLoss) : "-",
        r.worker || "-",
        fmtTime(r.createdAt),
      ]),
    );
    return 0;
  },
};

const showCommand: Command = {
  path: "runs show",
  summary: "Show one training run.",
  usage: "ID",
  positionals: [{ name: "ID" }],
  options: {},
  async run(args, ctx) {
    const run = present((await ctx.training().getRun({ id: args.positionals[0]! }, { signal: ctx.signal })).run, "run");
    ctx.out.document(runView(run));
    runBlock(ctx, run);
    return 0;
  },
};

const cancelCommand: Command = {
  path: "runs cancel",
  summary: "Stop a training run; it ends cancelled.",
  usage: "ID",
  positionals: [{ name: "ID" }],
  options: {},
  async run(args, ctx) {
    const run = present((await ctx.training().cancelRun({ id: args.positionals[0]! }, { signal: ctx.signal })).run, "run");
    ctx.out.document(runView(run));
    ctx.out.line(`run ${run.id}: ${statusName(run.status)}`);
    return 0;
  },
};

const LOG_COLUMNS = [
  { header: "step", width: 8 },
  { header: "epoch", width: 7 },
  { header: "loss", width: 9 },
  { header: "lr", width: 9 },
  { header: "tokens/s", width: 10 },
];

/** A step as one fixed-width line: the stream has no end to align a table against. */
export function logLine(cells: string[]): string {
  return cells.map((cell, i) => cell.padStart(LOG_COLUMNS[i]?.width ?? 0)).join("  ");
}

export function stepCells(p: pb.LossPoint): string[] {
  return [String(p.step), p.epoch.toFixed(2), fmtNumber(p.loss), fmtLr(p.lr), fmtInt(p.tokensPerS)];
}

const logsCommand: Command = {
  path: "runs logs",
  summary: "Print a run's loss trace, one step a line.",
  usage: "ID [--follow] [--max-points N]",
  description: "With --json, one JSON object per step. With --follow, keeps printing live steps until the run ends.",
  positionals: [{ name: "ID" }],
  options: {
    follow: { type: "boolean", help: "keep streaming live steps until the run ends" },
    "max-points": { type: "string", value: "N", help: "downsample the history to about N points" },
  },
  async run(args, ctx) {
    const id = args.positionals[0]!;
    const follow = flag(args, "follow");
    const maxPoints = positiveInt(args, "max-points") ?? 0;
    let header = false;
    const start: pb.Run = { ...emptyRun(), id };
    const final = await followRun(
      ctx,
      start,
      (point) => {
        if (!header) ctx.out.line(logLine(LOG_COLUMNS.map((c) => c.header)));
        header = true;
        ctx.out.line(logLine(stepCells(point)));
        ctx.out.jsonLine(point);
      },
      follow,
      maxPoints,
    );
    if (!follow) return 0;
    const problem = endProblem("run", id, final.status, final.error);
    if (problem) return ctx.problem(problem);
    if (!ctx.json) ctx.io.stderr.write(`run ${id}: ${statusName(final.status)}\n`);
    return 0;
  },
};

function emptyRun(): pb.Run {
  return pb.Run.fromPartial({});
}

export const runCommands: Command[] = [trainCommand, listCommand, showCommand, cancelCommand, logsCommand];
