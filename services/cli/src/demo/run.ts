// `uniformity demo`: the whole study at small scale, through the mesh's
// gRPC services like any other client: make the data, import it, select a
// uniform and a random half, make a model, train on full / uniform / random
// with the same settings, evaluate each, compare, and write a report.
// Everything it makes is named by a hash of its settings, so a second run
// finds and reuses it.
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import { pb } from "@uniformity/lib";
import { CliError } from "../args";
import { present } from "../command";
import { comparisonTable } from "../commands/evaluation";
import { allPages } from "../commands/dataset";
import { watchSelection } from "../commands/selection";
import type { Context } from "../context";
import { readChunks, writeAtomically } from "../files";
import { endProblem, isFinal, jobProgress, sleep } from "../jobs";
import { fmtDuration, fmtInt, fmtNumber } from "../output";
import { datasetJson, makeDataset, type DatasetOptions, type DemoDataset } from "./dataset";
import { comparisonPanels, splitPanels } from "./figures";
import { smolLm2, tinyModel, type Model, type ModelName } from "./model";
import { reportMarkdown, type SelectionFigures, type StageTime } from "./report";
import { chooseThresholds, familyCounts, smallFamilyCoverage, verdict, type Row, type Variant } from "./study";
import { makeTasks, writeTasks, type TaskOptions } from "./tasks";

export interface TrainSettings {
  batchSize: number;
  maxLength: number;
  lr: number;
  epochs: number;
  warmupSteps: number;
  seed: number;
}

export interface Preset {
  dataset: Partial<DatasetOptions>;
  tasks: Partial<TaskOptions>;
  train: TrainSettings;
  evals: pb.TaskSpec[];
  /** Questions scored per task (0: all). */
  evalLimit: number;
}

/** Sized so the whole demo stays within ten minutes on two CPU cores. */
export const PRESETS: Record<ModelName, Preset> = {
  tiny: {
    dataset: {},
    tasks: { perFamily: 4 },
    train: { batchSize: 16, maxLength: 128, lr: 3e-3, epochs: 6, warmupSteps: 5, seed: 1 },
    evals: [
      { name: "arc_challenge", shots: 5 },
      { name: "truthfulqa_mc", shots: 0 },
    ],
    evalLimit: 0,
  },
  // 135M parameters train at seconds a step on a CPU: fewer, shorter records, one epoch, 0-shot.
  smollm2: {
    dataset: { families: 16, largest: 60, ratio: 0.8, smallest: 2 },
    tasks: { perFamily: 1 },
    train: { batchSize: 8, maxLength: 128, lr: 1e-4, epochs: 1, warmupSteps: 2, seed: 1 },
    evals: [
      { name: "arc_challenge", shots: 0 },
      { name: "truthfulqa_mc", shots: 0 },
    ],
    evalLimit: 0,
  },
};

export interface DemoOptions {
  model: ModelName;
  seed: number;
  reportDir: string;
  stateDir: string;
  ratio: number;
  epochs?: number;
}

const SUBSETS: { variant: Exclude<Variant, "full">; strategy: pb.Strategy }[] = [
  { variant: "uniform", strategy: pb.Strategy.STRATEGY_UNIFORM },
  { variant: "random", strategy: pb.Strategy.STRATEGY_RANDOM },
];

const hash = (value: unknown, length = 10) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, length);

/** Times each stage and prints its one line (the line may say what the stage found). */
class Stages {
  readonly times: StageTime[] = [];
  constructor(private readonly ctx: Context) {}

  async run<T>(stage: string, work: () => Promise<{ value: T; line: string; reused?: boolean }>): Promise<T> {
    const started = Date.now();
    const { value, line, reused = false } = await work();
    const seconds = (Date.now() - started) / 1000;
    this.times.push({ stage, seconds, reused });
    this.ctx.out.line(`${stage.padEnd(15)} ${line}  (${reused ? "reused" : fmtDuration(seconds)})`);
    return value;
  }
}

// ---- stages ----

async function checkMesh(ctx: Context): Promise<string> {
  const workers = (await ctx.training().listWorkers({}, { signal: ctx.signal })).workers;
  await ctx.selection().listDatasets({ page: { pageSize: 1, pageToken: "" } }, { signal: ctx.signal });
  await ctx.evaluation().listEvaluations({ runId: "", page: { pageSize: 1, pageToken: "" } }, { signal: ctx.signal });
  if (!workers.length) throw new CliError("no worker is live: start the mesh with `make up` (or run `make demo`)");
  const gpus = workers.reduce((n, w) => n + w.gpus.length, 0);
  return `3 services answer; ${workers.length} worker${workers.length > 1 ? "s" : ""} (${workers.map((w) => w.id).join(", ")}; ${gpus ? `${gpus} GPU` : "CPU"})`;
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  const existing = await fs.readFile(file, "utf8").catch(() => undefined);
  if (existing !== text) await writeAtomically(file, [Buffer.from(text)]);
}

async function importDataset(ctx: Context, file: string, name: string): Promise<{ dataset: pb.Dataset; existing: boolean }> {
  const size = (await fs.stat(file)).size;
  const progress = ctx.progress("bytes");
  let sent = 0;
  async function* requests(): AsyncGenerator<pb.ImportDatasetRequest> {
    yield { part: { $case: "header", value: { name, format: pb.DatasetFormat.DATASET_FORMAT_ALPACA } } };
    for await (const chunk of readChunks(file)) {
      yield { part: { $case: "chunk", value: chunk } };
      sent += chunk.length;
      progress.update({ phase: "upload", done: sent, total: size });
    }
  }
  const stream = requests();
  try {
    const res = await ctx.selection().importDataset(stream, { signal: ctx.signal });
    return { dataset: present(res.dataset, "dataset"), existing: res.existing };
  } finally {
    progress.end();
    await stream.return(undefined);
  }
}

async function followSelection(ctx: Context, selection: pb.Selection, label: string): Promise<pb.Selection> {
  const last = await watchSelection(ctx, selection, label);
  const problem = endProblem("selection", last.id, last.status, last.error);
  if (problem) throw new CliError(problem);
  return last;
}

/** The done (or still running) selection with these parameters, or a new one. */
async function select(ctx: Context, dataset: pb.Dataset, strategy: pb.Strategy, ratio: number, seed: number, label: string): Promise<{ selection: pb.Selection; reused: boolean }> {
  const client = ctx.selection();
  const size = Math.min(dataset.recordCount - 1, Math.max(1, Math.round(ratio * dataset.recordCount)));
  const existing = await allPages(async (pageToken) => {
    const res = await client.listSelections({ datasetId: dataset.id, page: { pageSize: 1000, pageToken } }, { signal: ctx.signal });
    return { items: res.selections, next: res.nextPageToken };
  });
  const same = existing.filter(
    (s) => s.strategy === strategy && s.size === size && s.seed === seed && (s.embedder?.kind ?? pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC) === pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC &&
      // The service records the default dimension it used.
      [0, 100].includes(s.embedder?.dim ?? 0),
  );
  const done = same.find((s) => s.status === pb.JobStatus.JOB_STATUS_DONE);
  if (done) return { selection: done, reused: true };
  const pending = same.find((s) => !isFinal(s.status));
  if (pending) return { selection: await followSelection(ctx, pending, label), reused: true };
  const queued = present(
    (
      await client.select(
        {
          datasetId: dataset.id,
          strategy,
          target: { $case: "ratio", value: ratio },
          embedder: { kind: pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC, dim: 0, window: 0, minCount: 0, epochs: 0, precomputedSha256: "", modelDir: "" },
          seed,
        },
        { signal: ctx.signal },
      )
    ).selection,
    "selection",
  );
  return { selection: await followSelection(ctx, queued, label), reused: false };
}

/** Which demo family each record of a subset belongs to. */
async function subsetFamilies(ctx: Context, selectionId: string, data: DemoDataset): Promise<number[]> {
  const chunks: Uint8Array[] = [];
  for await (const res of ctx.selection().exportSubset({ id: selectionId, order: pb.ExportOrder.EXPORT_ORDER_ORIGINAL }, { signal: ctx.signal })) chunks.push(res.chunk);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  const records = (text.startsWith("[") ? JSON.parse(text) : text.split("\n").filter(Boolean).map((l) => JSON.parse(l))) as { instruction: string; input?: string; output: string }[];
  const key = (r: { instruction: string; input?: string; output: string }) => JSON.stringify([r.instruction, r.input ?? "", r.output]);
  const family = new Map<string, number>();
  data.records.forEach((r, i) => family.set(key(r), data.familyOf[i]!));
  return familyCounts(records.map((r) => family.get(key(r))), data.families.length);
}

async function existingRuns(ctx: Context): Promise<pb.Run[]> {
  const client = ctx.training();
  return allPages(async (pageToken) => {
    const res = await client.listRuns({ page: { pageSize: 1000, pageToken } }, { signal: ctx.signal });
    return { items: res.runs, next: res.nextPageToken };
  });
}

function runSpec(data: pb.RunSpec["data"], model: Model, train: TrainSettings): pb.RunSpec {
  return pb.RunSpec.fromPartial({
    data,
    modelDir: model.dir,
    loss: pb.Loss.LOSS_CE,
    optimizer: pb.Optimizer.OPTIMIZER_ADAMW,
    lr: train.lr,
    batchSize: train.batchSize,
    maxLength: train.maxLength,
    epochs: train.epochs,
    warmupSteps: train.warmupSteps,
    precision: pb.Precision.PRECISION_FP32,
    seed: train.seed,
  });
}

/** Follows a run to its end with a step bar; returns its final state. */
async function followRun(ctx: Context, start: pb.Run, label: string, expectedSteps: number): Promise<pb.Run> {
  const client = ctx.training();
  const bar = ctx.progress();
  let run = start;
  // Until the worker reports its plan, the bar counts towards what the settings imply.
  let total = start.totalSteps || expectedSteps;
  try {
    for await (const message of client.streamMetrics({ runId: start.id, follow: true, maxPoints: 1, afterStep: 0 }, { signal: ctx.signal })) {
      const event = message.event;
      if (event?.$case === "step") {
        bar.update({ phase: label, done: event.value.step, total, detail: `loss ${fmtNumber(event.value.loss)}` });
      } else if (event?.$case === "run") {
        run = event.value;
        total = run.totalSteps || total;
        if (isFinal(run.status)) break;
        if (!run.step) bar.update({ ...jobProgress(run.status, run.progress), phase: `${label}: ${jobProgress(run.status, run.progress).phase}` });
      } else if (event?.$case === "progress") {
        bar.update({ phase: `${label}: ${event.value.phase}`, done: event.value.done, total: event.value.total });
      }
    }
  } finally {
    bar.end();
  }
  if (!isFinal(run.status)) run = present((await client.getRun({ id: start.id }, { signal: ctx.signal })).run, "run");
  const problem = endProblem("run", run.id, run.status, run.error);
  if (problem) throw new CliError(problem);
  return run;
}

const sameTasks = (a: pb.TaskSpec[], b: pb.TaskSpec[]) =>
  a.length === b.length && a.every((t, i) => t.name === b[i]!.name && (t.shots ?? -1) === (b[i]!.shots ?? -1));

/** A done (or pending) evaluation of the run on these tasks, or a newly queued one. */
async function evaluation(ctx: Context, runId: string, preset: Preset, dataDir: string): Promise<{ evaluation: pb.Evaluation; reused: boolean }> {
  const client = ctx.evaluation();
  const list = (await client.listEvaluations({ runId, page: { pageSize: 200, pageToken: "" } }, { signal: ctx.signal })).evaluations;
  const same = list.filter((e) => sameTasks(e.tasks, preset.evals));
  const found = same.find((e) => e.status === pb.JobStatus.JOB_STATUS_DONE) ?? same.find((e) => !isFinal(e.status));
  if (found) return { evaluation: found, reused: true };
  const queued = await client.evaluate(
    { target: { $case: "runId", value: runId }, tasks: preset.evals, dataDir, limit: preset.evalLimit, batchSize: 0 },
    { signal: ctx.signal },
  );
  return { evaluation: present(queued.evaluation, "evaluation"), reused: false };
}

async function waitEvaluation(ctx: Context, start: pb.Evaluation, label: string): Promise<pb.Evaluation> {
  const client = ctx.evaluation();
  const bar = ctx.progress();
  let e = start;
  try {
    while (!isFinal(e.status)) {
      const state = jobProgress(e.status, e.progress);
      bar.update({ ...state, phase: `${label}: ${state.phase}` });
      await sleep(1000, ctx.signal);
      if (ctx.signal.aborted) throw new CliError("interrupted", 130);
      e = present((await client.getEvaluation({ id: e.id }, { signal: ctx.signal })).evaluation, "evaluation");
    }
  } finally {
    bar.end();
  }
  const problem = endProblem("evaluation", e.id, e.status, e.error);
  if (problem) throw new CliError(problem);
  return e;
}

function scoreLine(e: pb.Evaluation): string {
  return e.scores.map((s) => `${s.task === "arc_challenge" ? "ARC" : s.task === "truthfulqa_mc" ? "TruthfulQA" : s.task} ${s.metric} ${fmtNumber(s.value, 3)}`).join(", ");
}

async function lossTrace(ctx: Context, runId: string): Promise<number[]> {
  const points: pb.LossPoint[] = [];
  for await (const message of ctx.training().streamMetrics({ runId, follow: false, maxPoints: 0, afterStep: 0 }, { signal: ctx.signal })) {
    if (message.event?.$case === "step") points.push(message.event.value);
  }
  return points.sort((a, b) => a.step - b.step).map((p) => p.loss);
}

const relative = (p: string) => {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") ? rel : p;
};

// ---- the study ----

export async function runDemo(ctx: Context, options: DemoOptions): Promise<number> {
  const preset = PRESETS[options.model];
  const train = { ...preset.train, ...(options.epochs ? { epochs: options.epochs } : {}) };
  const stages = new Stages(ctx);
  const startedAt = Date.now();
  // Every call of the study listens on the command's one signal; that is many, not a leak.
  setMaxListeners(0, ctx.signal);

  await stages.run("mesh", async () => ({ value: undefined, line: await checkMesh(ctx) }));

  // 1. data: the dataset and both benchmarks, deterministic for the seed
  const data = makeDataset({ ...preset.dataset, seed: options.seed });
  const dataKey = `${options.model === "tiny" ? "" : `${options.model}-`}seed${options.seed}-${hash(data.options)}`;
  const dataDir = path.join(options.stateDir, "data", dataKey);
  const datasetFile = path.join(dataDir, "alpaca.json");
  const tasksDir = path.join(dataDir, "tasks");
  const tasks = makeTasks(data.families, { ...preset.tasks, seed: options.seed }, data.taught);
  await stages.run("data", async () => {
    await fs.mkdir(dataDir, { recursive: true });
    await writeIfChanged(datasetFile, datasetJson(data.records));
    await fs.rm(tasksDir, { recursive: true, force: true });
    await writeTasks(tasksDir, tasks);
    const sizes = data.families.map((f) => f.size);
    return {
      value: undefined,
      line: `${fmtInt(data.records.length)} Alpaca records in ${data.families.length} task families (${sizes[0]} down to ${sizes[sizes.length - 1]} records each); ARC-Challenge ${tasks.arc.test.length} questions, TruthfulQA-MC ${tasks.truthfulqa.length} → ${relative(dataDir)}`,
    };
  });

  // 2. import (the service dedupes by sha256)
  const dataset = await stages.run("import", async () => {
    const res = await importDataset(ctx, datasetFile, `demo-${dataKey}`);
    return { value: res.dataset, line: `dataset ${res.dataset.id}, ${fmtInt(res.dataset.recordCount)} records`, reused: res.existing };
  });

  // 3. the two halves
  const selections = new Map<Variant, pb.Selection>();
  const figures: SelectionFigures[] = [];
  for (const { variant, strategy } of SUBSETS) {
    const selection = await stages.run(`select ${variant}`, async () => {
      const res = await select(ctx, dataset, strategy, options.ratio, options.seed, `select ${variant}`);
      const s = res.selection;
      const m = s.metrics?.selection;
      return { value: s, line: `selection ${s.id}: ${fmtInt(s.size)} records${m ? `, h_min ${fmtNumber(m.hMinCosine)}, coverage radius ${fmtNumber(m.coverageRadius)}` : ""}`, reused: res.reused };
    });
    selections.set(variant, selection);
    figures.push({ variant, id: selection.id, size: selection.size, metrics: selection.metrics, familyCounts: await subsetFamilies(ctx, selection.id, data) });
  }
  const sizes = data.families.map((f) => f.size);
  const half = Math.floor(sizes.length / 2);
  ctx.out.line(
    `${"".padEnd(15)} records of the ${half} smallest families kept: ${figures.map((f) => `${f.variant} ${Math.round(smallFamilyCoverage(sizes, f.familyCounts, half).share * 100)}%`).join(", ")}`,
  );

  // 4. the model, on the worker's machine (this one)
  const model = await stages.run("model", async () => {
    const modelsDir = path.join(options.stateDir, "models");
    await fs.mkdir(modelsDir, { recursive: true });
    const m =
      options.model === "tiny"
        ? await tinyModel(modelsDir, datasetFile, ctx.env, ctx.signal)
        : await smolLm2(modelsDir, ctx.env, ctx.signal, (line) => ctx.out.line(line));
    return { value: m, line: `${m.description} → ${relative(m.dir)}`, reused: m.reused };
  });

  // 5. three runs with the same settings; queued together so the worker never waits between them
  const settingsKey = { dataset: dataset.sha256, model: path.basename(model.dir), train };
  const plans: { variant: Variant; name: string; spec: pb.RunSpec }[] = [
    { variant: "full" as Variant, name: "", spec: runSpec({ $case: "datasetId", value: dataset.id }, model, train) },
    ...SUBSETS.map(({ variant }) => ({ variant, name: "", spec: runSpec({ $case: "selectionId", value: selections.get(variant)!.id }, model, train) })),
  ].map((p) => ({ ...p, name: `demo-${p.variant}-${hash({ ...settingsKey, variant: p.variant, ratio: options.ratio, seed: options.seed }, 6)}` }));
  const known = await existingRuns(ctx);
  const runs = new Map<Variant, { run: pb.Run; reused: boolean }>();
  for (const plan of plans) {
    // Newest first: the latest run of that name decides.
    const latest = known.find((r) => r.name === plan.name);
    if (latest && (latest.status === pb.JobStatus.JOB_STATUS_DONE || !isFinal(latest.status))) runs.set(plan.variant, { run: latest, reused: true });
    else runs.set(plan.variant, { run: present((await ctx.training().startRun({ spec: plan.spec, name: plan.name }, { signal: ctx.signal })).run, "run"), reused: false });
  }
  const evaluations = new Map<Variant, { evaluation: pb.Evaluation; reused: boolean }>();
  for (const plan of plans) {
    const { run: started, reused } = runs.get(plan.variant)!;
    const run = await stages.run(`train ${plan.variant}`, async () => {
      const records = plan.variant === "full" ? dataset.recordCount : selections.get(plan.variant)!.size;
      const expected = Math.ceil(Math.ceil(records / train.batchSize) * train.epochs);
      const done = started.status === pb.JobStatus.JOB_STATUS_DONE ? started : await followRun(ctx, started, `train ${plan.variant}`, expected);
      return {
        value: done,
        line: `run ${done.id}: ${fmtInt(done.step)} steps, final loss ${fmtNumber(done.latestLoss)}, ${fmtDuration(done.wallSeconds)} of training`,
        reused: reused && started.status === pb.JobStatus.JOB_STATUS_DONE,
      };
    });
    runs.set(plan.variant, { run, reused });
    // Queued now, it runs once the worker is free of the remaining training.
    evaluations.set(plan.variant, await evaluation(ctx, run.id, preset, tasksDir));
  }

  // 6. scores
  for (const plan of plans) {
    const { evaluation: start, reused } = evaluations.get(plan.variant)!;
    await stages.run(`eval ${plan.variant}`, async () => {
      const e = isFinal(start.status) ? start : await waitEvaluation(ctx, start, `eval ${plan.variant}`);
      return { value: e, line: scoreLine(e), reused: reused && start.status === pb.JobStatus.JOB_STATUS_DONE };
    });
  }

  // 7. compare, with thresholds taken from the full run's own curve
  const runIds = plans.map((p) => runs.get(p.variant)!.run.id);
  const { rows, thresholds, png } = await stages.run("compare", async () => {
    const chosen = chooseThresholds(await lossTrace(ctx, runIds[0]!));
    const res = await ctx.evaluation().compare({ runIds, thresholds: chosen, plot: true }, { signal: ctx.signal });
    return { value: { rows: res.runs, thresholds: chosen, png: res.plotPng }, line: `thresholds ${chosen.join(", ")} (from the full run's smoothed loss)` };
  });
  const named: Row[] = plans.map((p, i) => ({ variant: p.variant, row: rows[i]! }));

  // 8. the report
  const reportDir = path.resolve(options.reportDir);
  await stages.run("report", async () => {
    await fs.mkdir(reportDir, { recursive: true });
    const images: { pca?: string; comparison?: string; panels: { title: string; file: string }[] } = { panels: [] };
    const pca = await ctx.selection().getSelectionPlot({ id: selections.get("uniform")!.id }, { signal: ctx.signal });
    if (pca.png.length) {
      await writeAtomically(path.join(reportDir, "pca.png"), [pca.png]);
      images.pca = "pca.png";
    }
    if (png.length) {
      await writeAtomically(path.join(reportDir, "comparison.png"), [png]);
      images.comparison = "comparison.png";
      const scoreKeys = new Set(rows.flatMap((r) => r.scores.map((s) => `${s.task} ${s.metric}`)));
      for (const { panel, png: panelPng } of splitPanels(png, comparisonPanels(thresholds.length, scoreKeys.size))) {
        const file = `comparison-${panel.name}.png`;
        await writeAtomically(path.join(reportDir, file), [panelPng]);
        images.panels.push({ title: panel.title, file });
      }
    }
    const markdown = reportMarkdown({
      date: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      setup: [
        ["dataset", `${fmtInt(data.records.length)} made-up Alpaca records, ${data.families.length} task families of geometric sizes (${sizes[0]} … ${sizes[sizes.length - 1]}), seed ${options.seed}; dataset ${dataset.id}`],
        ["halves", `uniform and random, ratio ${options.ratio}, word2vec embeddings, seed ${options.seed}; selections ${selections.get("uniform")!.id}, ${selections.get("random")!.id}`],
        ["model", `${model.description} (${relative(model.dir)})`],
        ["training", `cross-entropy + AdamW, lr ${train.lr}, batch ${train.batchSize}, max length ${train.maxLength}, ${train.epochs} epoch${train.epochs === 1 ? "" : "s"}, warm-up ${train.warmupSteps} steps, fp32, seed ${train.seed}`],
        ["evaluation", `${preset.evals.map((t) => `${t.name} (${t.shots ?? "default"}-shot)`).join(", ")} on questions about every family alike (${relative(tasksDir)})`],
        ["machine", `${ctx.env.UNIFORMITY_DEMO_MACHINE ?? `${process.platform}-${process.arch}`}; one worker`],
      ],
      familySizes: sizes,
      familyNames: data.families.map((f) => f.domain),
      selections: figures,
      rows: named,
      thresholds,
      images,
      stages: [...stages.times, { stage: "total", seconds: (Date.now() - startedAt) / 1000, reused: false }],
      reproduce: [`make demo${options.model === "tiny" ? "" : ` MODEL=${options.model}`}`, `uniformity compare ${runIds.join(" ")} ${thresholds.map((t) => `--threshold ${t}`).join(" ")} --plot comparison.png`],
    });
    await writeAtomically(path.join(reportDir, "report.md"), [Buffer.from(markdown)]);
    return { value: undefined, line: `${relative(reportDir)}/report.md (+ ${[images.pca, images.comparison, ...images.panels.map((p) => p.file)].filter(Boolean).length} pictures)` };
  });

  const v = verdict(named, thresholds);
  ctx.out.line();
  ctx.out.text(comparisonTable(rows, thresholds));
  ctx.out.line();
  ctx.out.line(v.headline);
  ctx.out.line(`report: ${relative(path.join(reportDir, "report.md"))}   total ${fmtDuration((Date.now() - startedAt) / 1000)}`);
  ctx.out.document({
    dataset: dataset.id,
    selections: Object.fromEntries([...selections].map(([k, s]) => [k, s.id])),
    runs: Object.fromEntries([...runs].map(([k, r]) => [k, r.run.id])),
    evaluations: Object.fromEntries([...evaluations].map(([k, e]) => [k, e.evaluation.id])),
    thresholds,
    comparison: rows,
    verdict: v,
    report: path.join(reportDir, "report.md"),
    stages: stages.times,
  });
  return 0;
}
