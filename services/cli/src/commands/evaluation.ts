// eval and compare
import { pb } from "@uniformity/lib";
import { CliError, UsageError, flag, list, nonNegativeInt, oneOf, parseNumber, positiveInt, requiredStr, str, type Parsed } from "../args";
import { present, type Command } from "../command";
import type { Context } from "../context";
import { outputFile, writeAtomically } from "../files";
import { endProblem, isFinal, jobProgress, sleep, statusName } from "../jobs";
import { fmtDuration, fmtInt, fmtNumber, fmtTime, formatTable } from "../output";
import { parseTask, taskText } from "./runs";

/** GetEvaluation has no stream; once a second is quick enough to follow and cheap for the server. */
export const POLL_MS = 1000;

export function evaluationView(e: pb.Evaluation): Record<string, unknown> {
  return { ...e, status: statusName(e.status) };
}

export function scoresTable(scores: pb.Score[]): string {
  return formatTable(
    [
      { header: "TASK" },
      { header: "SHOTS", align: "right" },
      { header: "METRIC" },
      { header: "VALUE", align: "right" },
      { header: "STDERR", align: "right" },
      { header: "N", align: "right" },
    ],
    scores.map((s) => [s.task, String(s.shots), s.metric, fmtNumber(s.value), fmtNumber(s.stderr), fmtInt(s.n)]),
  );
}

function evaluationBlock(ctx: Context, e: pb.Evaluation): void {
  ctx.out.keyValue([
    ["id", e.id],
    ["target", e.runId ? `run ${e.runId}` : e.modelDir],
    ["tasks", e.tasks.map(taskText).join(", ")],
    ["status", statusName(e.status)],
    ["error", e.error || undefined],
    ["duration", e.durationS ? fmtDuration(e.durationS) : undefined],
    ["created", fmtTime(e.createdAt)],
    ["finished", e.finishedAt ? fmtTime(e.finishedAt) : undefined],
  ]);
  if (e.scores.length) {
    ctx.out.line();
    ctx.out.text(scoresTable(e.scores));
  }
}

export function evaluateRequest(args: Parsed): pb.EvaluateRequest {
  const which = oneOf(args, ["run", "model"] as const)!;
  const value = requiredStr(args, which);
  const tasks = list(args, "task").map((raw) => parseTask("--task", raw));
  if (tasks.length === 0) throw new UsageError("give at least one --task (arc_challenge[:SHOTS], truthfulqa_mc[:SHOTS])");
  return {
    target: which === "run" ? { $case: "runId", value } : { $case: "modelDir", value },
    tasks,
    dataDir: requiredStr(args, "data"),
    limit: nonNegativeInt(args, "limit") ?? 0,
    batchSize: positiveInt(args, "batch-size") ?? 0,
  };
}

const evalCommand: Command = {
  path: "eval",
  summary: "Score a run's final checkpoint or a model directory on ARC-Challenge and TruthfulQA-MC.",
  usage: "(--run ID | --model DIR) --task arc_challenge[:SHOTS] --task truthfulqa_mc[:SHOTS] --data DIR [--limit N] [--batch-size N] [--no-wait]",
  description: "DIR (on the worker) holds ARC-Challenge-{Train,Dev,Test}.jsonl and mc_task.json.",
  positionals: [],
  options: {
    run: { type: "string", value: "ID", help: "score the final checkpoint of this run" },
    model: { type: "string", value: "DIR", help: "score this Hugging Face model directory (as the worker sees it)" },
    task: { type: "string", multiple: true, value: "TASK[:SHOTS]", help: "benchmark to run (default shots: 25 for ARC, 0 for TruthfulQA)" },
    data: { type: "string", value: "DIR", help: "directory of the task files on the worker" },
    limit: { type: "string", value: "N", help: "score only the first N questions of each task" },
    "batch-size": { type: "string", value: "N", help: "requests per forward pass (default 8)" },
    "no-wait": { type: "boolean", help: "return once the evaluation is queued" },
  },
  async run(args, ctx) {
    const request = evaluateRequest(args);
    const client = ctx.evaluation();
    let evaluation = present((await client.evaluate(request, { signal: ctx.signal })).evaluation, "evaluation");
    if (flag(args, "no-wait")) {
      ctx.out.document(evaluationView(evaluation));
      ctx.out.line(evaluation.id);
      evaluationBlock(ctx, evaluation);
      return 0;
    }
    ctx.out.line(evaluation.id);
    const progress = ctx.progress();
    try {
      while (!isFinal(evaluation.status)) {
        progress.update(jobProgress(evaluation.status, evaluation.progress));
        await sleep(POLL_MS, ctx.signal);
        evaluation = present((await client.getEvaluation({ id: evaluation.id }, { signal: ctx.signal })).evaluation, "evaluation");
      }
    } finally {
      progress.end();
    }
    ctx.out.document(evaluationView(evaluation));
    evaluationBlock(ctx, evaluation);
    const problem = endProblem("evaluation", evaluation.id, evaluation.status, evaluation.error);
    return problem ? ctx.problem(problem) : 0;
  },
};

function scoreKey(s: pb.Score): string {
  return `${s.task} ${s.metric} (${s.shots}-shot)`;
}

function thresholdText(hit: pb.ThresholdHit | undefined): string {
  if (!hit) return "-";
  return hit.reached ? `step ${fmtInt(hit.step)}, ${hit.minutes.toFixed(1)} min` : "not reached";
}

/** Runs as columns, figures as rows: comparing is reading across a row. */
export function comparisonTable(runs: pb.RunComparison[], thresholds: number[]): string {
  const rows: string[][] = [
    ["run", ...runs.map((r) => r.runId)],
    ["strategy", ...runs.map((r) => r.strategy || "-")],
    ["records", ...runs.map((r) => fmtInt(r.records))],
    ["steps", ...runs.map((r) => fmtInt(r.steps))],
  ];
  const asked = thresholds.length ? thresholds : [...new Set(runs.flatMap((r) => r.thresholds.map((t) => t.threshold)))];
  asked.forEach((threshold, i) => {
    rows.push([`loss <= ${threshold}`, ...runs.map((r) => thresholdText(r.thresholds.find((t) => t.threshold === threshold) ?? r.thresholds[i]))]);
  });
  rows.push(
    ["final loss", ...runs.map((r) => fmtNumber(r.finalLoss))],
    ["min loss", ...runs.map((r) => fmtNumber(r.minLoss))],
    ["loss auc", ...runs.map((r) => fmtNumber(r.lossAuc, 2))],
    ["tokens", ...runs.map((r) => fmtInt(r.tokens))],
  );
  const keys = [...new Set(runs.flatMap((r) => r.scores.map(scoreKey)))];
  for (const key of keys) {
    rows.push([
      key,
      ...runs.map((r) => {
        const score = r.scores.find((s) => scoreKey(s) === key);
        return score ? `${fmtNumber(score.value)} ± ${fmtNumber(score.stderr)}` : "-";
      }),
    ]);
  }
  return formatTable(
    [{ header: "" }, ...runs.map((r) => ({ header: r.name || r.runId.slice(0, 8), align: "right" as const }))],
    rows,
  );
}

const compareCommand: Command = {
  path: "compare",
  summary: "Compare runs: time to loss thresholds, final and minimum loss, benchmark scores.",
  usage: "RUN... [--threshold X]... [--plot FILE.png]",
  positionals: [{ name: "RUN", variadic: true }],
  options: {
    threshold: { type: "string", multiple: true, value: "X", help: "loss threshold to time on the 3-step moving average" },
    plot: { type: "string", value: "FILE.png", help: "also write loss curves, time-to-threshold and score bars" },
  },
  async run(args, ctx) {
    if (args.positionals.length > 20) throw new UsageError(`compare takes at most 20 runs, got ${args.positionals.length}`);
    const thresholds = list(args, "threshold").map((raw) => parseNumber("--threshold", raw, (v) => v > 0, "a number > 0"));
    const plot = str(args, "plot");
    if (plot !== undefined) await outputFile(plot);
    const res = await ctx.evaluation().compare({ runIds: args.positionals, thresholds, plot: plot !== undefined }, { signal: ctx.signal });
    if (plot !== undefined) {
      if (!res.plotPng.length) throw new CliError("the server sent no plot");
      await writeAtomically(plot, [res.plotPng]);
    }
    ctx.out.document({ runs: res.runs });
    ctx.out.text(comparisonTable(res.runs, thresholds));
    if (plot !== undefined) ctx.out.line(`\nplot written to ${plot}`);
    return 0;
  },
};

const evaluationsListCommand: Command = {
  path: "evaluations list",
  summary: "List evaluations, newest first, optionally of one run.",
  usage: "[--run ID]",
  positionals: [],
  options: { run: { type: "string", value: "ID", help: "only evaluations of this run" } },
  async run(args, ctx) {
    const res = await ctx.evaluation().listEvaluations({ runId: str(args, "run") ?? "", page: { pageSize: 200, pageToken: "" } }, { signal: ctx.signal });
    ctx.out.document(res.evaluations.map(evaluationView));
    ctx.out.text(
      formatTable(
        [{ header: "ID" }, { header: "TARGET" }, { header: "TASKS" }, { header: "STATUS" }, { header: "SCORES", align: "right" }, { header: "CREATED" }],
        res.evaluations.map((e) => [e.id, e.runId ? `run ${e.runId.slice(0, 8)}` : e.modelDir, e.tasks.map(taskText).join(", "), statusName(e.status), fmtInt(e.scores.length), fmtTime(e.createdAt)]),
      ),
    );
    return 0;
  },
};

const evaluationsShowCommand: Command = {
  path: "evaluations show",
  summary: "Show one evaluation and its scores.",
  usage: "ID",
  positionals: [{ name: "ID" }],
  options: {},
  async run(args, ctx) {
    const evaluation = present((await ctx.evaluation().getEvaluation({ id: args.positionals[0]! }, { signal: ctx.signal })).evaluation, "evaluation");
    ctx.out.document(evaluationView(evaluation));
    evaluationBlock(ctx, evaluation);
    return 0;
  },
};

export const evaluationCommands: Command[] = [evalCommand, evaluationsListCommand, evaluationsShowCommand, compareCommand];
