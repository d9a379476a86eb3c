// select, and selection show | list | export
import { pb } from "@uniformity/lib";
import {
  UsageError,
  choice,
  flag,
  nonNegativeInt,
  oneOf,
  parseNumber,
  positiveInt,
  requiredStr,
  str,
  type Parsed,
} from "../args";
import { present, type Command } from "../command";
import type { Context } from "../context";
import { inputFile, outputFile, readChunks, writeAtomically } from "../files";
import { endProblem, isFinal, jobProgress, statusName } from "../jobs";
import { enumName, fmtBytes, fmtInt, fmtNumber, fmtTime, formatTable } from "../output";
import { allPages } from "./dataset";

export const STRATEGIES = ["uniform", "random", "first", "half-random-min-distance", "min-distance"] as const;

export const strategyName = (s: pb.Strategy): string => enumName(pb.Strategy, "STRATEGY_", s);
const kindName = (k: pb.EmbedderKind): string => enumName(pb.EmbedderKind, "EMBEDDER_KIND_", k);

function strategyValue(name: string): pb.Strategy {
  return pb.Strategy[`STRATEGY_${name.toUpperCase().replace(/-/g, "_")}` as keyof typeof pb.Strategy];
}

export function selectionView(s: pb.Selection): Record<string, unknown> {
  return {
    ...s,
    strategy: strategyName(s.strategy),
    embedder: s.embedder ? { ...s.embedder, kind: kindName(s.embedder.kind) } : null,
    status: statusName(s.status),
  };
}

export function embedderText(e: pb.Embedder | undefined): string {
  if (!e) return "-";
  const kind = kindName(e.kind);
  if (e.kind === pb.EmbedderKind.EMBEDDER_KIND_PRECOMPUTED) return `${kind} (${e.precomputedSha256.slice(0, 12)})`;
  if (e.kind === pb.EmbedderKind.EMBEDDER_KIND_SENTENCE_TRANSFORMERS) return `${kind} (${e.modelDir})`;
  return e.dim ? `${kind} (dim ${e.dim})` : kind;
}

const METRIC_ROWS: [string, (m: pb.UniformityMetrics) => string][] = [
  ["size", (m) => fmtInt(m.size)],
  ["h_min cosine", (m) => fmtNumber(m.hMinCosine)],
  ["h_min euclidean", (m) => fmtNumber(m.hMinEuclidean)],
  ["nn mean", (m) => fmtNumber(m.nnMean)],
  ["nn p5", (m) => fmtNumber(m.nnP5)],
  ["nn p50", (m) => fmtNumber(m.nnP50)],
  ["nn p95", (m) => fmtNumber(m.nnP95)],
  ["coverage radius", (m) => fmtNumber(m.coverageRadius)],
  ["duplicates", (m) => fmtInt(m.duplicates)],
];

/** Selection, full set and random subset side by side, one figure a row. */
export function metricsTable(metrics: pb.SelectionMetrics): string {
  const sets = [metrics.selection, metrics.full, metrics.random];
  const rows = METRIC_ROWS.map(([label, value]) => [label, ...sets.map((m) => (m ? value(m) : "-"))]);
  let text = formatTable(
    [{ header: "METRIC" }, { header: "SELECTION", align: "right" }, { header: "FULL", align: "right" }, { header: "RANDOM", align: "right" }],
    rows,
  );
  const estimated = [...new Set(sets.flatMap((m) => m?.estimated ?? []))];
  if (estimated.length) text += `estimated: ${estimated.join("; ")}\n`;
  if (metrics.emptyRecords) text += `records with no known word: ${fmtInt(metrics.emptyRecords)}\n`;
  return text;
}

function selectionBlock(ctx: Context, s: pb.Selection): void {
  ctx.out.keyValue([
    ["id", s.id],
    ["dataset", s.datasetId],
    ["strategy", strategyName(s.strategy)],
    ["size", s.datasetRecords ? `${fmtInt(s.size)} of ${fmtInt(s.datasetRecords)} records` : fmtInt(s.size)],
    ["seed", String(s.seed)],
    ["embedder", embedderText(s.embedder)],
    ["status", statusName(s.status)],
    ["error", s.error || undefined],
    ["worker", s.worker || undefined],
    ["created", fmtTime(s.createdAt)],
    ["finished", s.finishedAt ? fmtTime(s.finishedAt) : undefined],
    ["subset sha256", s.subsetSha256 || undefined],
  ]);
  if (s.metrics) {
    ctx.out.line();
    ctx.out.text(metricsTable(s.metrics));
  }
}

export interface SelectPlan {
  request: pb.SelectRequest;
  /** A .npy file to upload first; its sha256 goes into the embedder. */
  embeddingsFile?: string;
}

/** Everything `select` will ask for, checked before any call. */
export function selectPlan(args: Parsed): SelectPlan {
  const strategy = choice(args, "strategy", STRATEGIES);
  if (!strategy) throw new UsageError(`--strategy is required: ${STRATEGIES.join(", ")}`);
  const which = oneOf(args, ["size", "ratio"] as const)!;
  const target: pb.SelectRequest["target"] =
    which === "size"
      ? { $case: "size", value: positiveInt(args, "size")! }
      : { $case: "ratio", value: parseNumber("--ratio", str(args, "ratio")!, (v) => v > 0 && v <= 1, "a number in (0, 1]") };
  const embedder: pb.Embedder = {
    kind: pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC,
    dim: positiveInt(args, "dim") ?? 0,
    window: 0,
    minCount: 0,
    epochs: 0,
    precomputedSha256: "",
    modelDir: "",
  };
  const spec = str(args, "embedder") ?? "word2vec";
  let embeddingsFile: string | undefined;
  const [kind, ...rest] = spec.split(":");
  const arg = rest.join(":");
  if (kind === "word2vec" && !arg) embedder.kind = pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC;
  else if (kind === "tfidf" && !arg) embedder.kind = pb.EmbedderKind.EMBEDDER_KIND_TFIDF;
  else if (kind === "precomputed" && arg) {
    embedder.kind = pb.EmbedderKind.EMBEDDER_KIND_PRECOMPUTED;
    embeddingsFile = arg;
  } else if (kind === "st" && arg) {
    embedder.kind = pb.EmbedderKind.EMBEDDER_KIND_SENTENCE_TRANSFORMERS;
    embedder.modelDir = arg;
  } else {
    throw new UsageError(`--embedder must be word2vec, tfidf, precomputed:FILE or st:DIR, got ${JSON.stringify(spec)}`);
  }
  const request: pb.SelectRequest = {
    datasetId: args.positionals[0]!,
    strategy: strategyValue(strategy),
    target,
    embedder,
    seed: nonNegativeInt(args, "seed") ?? 0,
  };
  return embeddingsFile ? { request, embeddingsFile } : { request };
}

async function uploadEmbeddings(ctx: Context, file: string, size: number): Promise<pb.UploadEmbeddingsResponse> {
  const progress = ctx.progress("bytes");
  let sent = 0;
  async function* requests(): AsyncGenerator<pb.UploadEmbeddingsRequest> {
    progress.update({ phase: "upload embeddings", done: 0, total: size });
    for await (const chunk of readChunks(file)) {
      yield { chunk };
      sent += chunk.length;
      progress.update({ phase: "upload embeddings", done: sent, total: size });
    }
  }
  const stream = requests();
  try {
    return await ctx.selection().uploadEmbeddings(stream, { signal: ctx.signal });
  } finally {
    progress.end();
    await stream.return(undefined);
  }
}

/** Follows a selection until it is over, with a progress bar (its phases prefixed by label); returns its final state. */
export async function watchSelection(ctx: Context, selection: pb.Selection, label?: string): Promise<pb.Selection> {
  const client = ctx.selection();
  const progress = ctx.progress();
  let last = selection;
  try {
    for await (const update of client.watchSelection({ id: selection.id }, { signal: ctx.signal })) {
      if (!update.selection) continue;
      last = update.selection;
      if (isFinal(last.status)) break;
      const state = jobProgress(last.status, last.progress);
      progress.update(label ? { ...state, phase: `${label}: ${state.phase}` } : state);
    }
  } finally {
    progress.end();
  }
  // The stream may end (server restart) before the job does: ask once more.
  if (!isFinal(last.status)) last = present((await client.getSelection({ id: selection.id }, { signal: ctx.signal })).selection, "selection");
  return last;
}

const selectCommand: Command = {
  path: "select",
  summary: "Choose a subset of a dataset and measure how uniformly it is spread.",
  usage:
    "DATASET --strategy uniform|random|first|half-random-min-distance|min-distance (--size N | --ratio R) [--embedder word2vec|tfidf|precomputed:FILE|st:DIR] [--dim D] [--seed S] [--no-wait]",
  description:
    "Queues a selection job and, unless --no-wait, follows it to the end and prints its uniformity figures beside the full set and a random subset of the same size.",
  positionals: [{ name: "DATASET" }],
  options: {
    strategy: { type: "string", value: "S", help: `selection rule: ${STRATEGIES.join(", ")}` },
    size: { type: "string", value: "N", help: "records to choose (1 <= N < record count)" },
    ratio: { type: "string", value: "R", help: "fraction of the records to choose, in (0, 1]" },
    embedder: { type: "string", value: "E", help: "word2vec (default), tfidf, precomputed:FILE.npy or st:DIR (on the worker)" },
    dim: { type: "string", value: "D", help: "vector dimension for word2vec / tfidf (default 100)" },
    seed: { type: "string", value: "S", help: "seed for the first pick, random baselines and word2vec (default 0)" },
    "no-wait": { type: "boolean", help: "return once the job is queued" },
  },
  async run(args, ctx) {
    const plan = selectPlan(args);
    if (plan.embeddingsFile) {
      const size = await inputFile(plan.embeddingsFile);
      const uploaded = await uploadEmbeddings(ctx, plan.embeddingsFile, size);
      plan.request.embedder!.precomputedSha256 = uploaded.sha256;
    }
    const queued = present((await ctx.selection().select(plan.request, { signal: ctx.signal })).selection, "selection");
    if (flag(args, "no-wait")) {
      ctx.out.document(selectionView(queued));
      ctx.out.line(queued.id);
      selectionBlock(ctx, queued);
      return 0;
    }
    // The id first, so it is on screen even if the user stops watching.
    ctx.out.line(queued.id);
    const final = await watchSelection(ctx, queued);
    ctx.out.document(selectionView(final));
    selectionBlock(ctx, final);
    const problem = endProblem("selection", final.id, final.status, final.error);
    return problem ? ctx.problem(problem) : 0;
  },
};

const showCommand: Command = {
  path: "selection show",
  summary: "Show a selection with its uniformity figures.",
  usage: "ID [--plot FILE.png]",
  positionals: [{ name: "ID" }],
  options: {
    plot: { type: "string", value: "FILE.png", help: "also write the PCA picture of full / selected / random records" },
  },
  async run(args, ctx) {
    const id = args.positionals[0]!;
    const plot = str(args, "plot");
    if (plot !== undefined) await outputFile(plot);
    const client = ctx.selection();
    const selection = present((await client.getSelection({ id }, { signal: ctx.signal })).selection, "selection");
    if (plot !== undefined) {
      const res = await client.getSelectionPlot({ id }, { signal: ctx.signal });
      await writeAtomically(plot, [res.png]);
    }
    ctx.out.document(selectionView(selection));
    selectionBlock(ctx, selection);
    if (plot !== undefined) ctx.out.line(`\nplot written to ${plot}`);
    return 0;
  },
};

const listCommand: Command = {
  path: "selection list",
  summary: "List selections, newest first.",
  usage: "[--dataset ID]",
  positionals: [],
  options: { dataset: { type: "string", value: "ID", help: "only selections of this dataset" } },
  async run(args, ctx) {
    const client = ctx.selection();
    const selections = await allPages(async (pageToken) => {
      const res = await client.listSelections({ datasetId: str(args, "dataset") ?? "", page: { pageSize: 1000, pageToken } }, { signal: ctx.signal });
      return { items: res.selections, next: res.nextPageToken };
    });
    ctx.out.document(selections.map(selectionView));
    ctx.out.table(
      [
        { header: "ID" },
        { header: "DATASET" },
        { header: "STRATEGY" },
        { header: "SIZE", align: "right" },
        { header: "EMBEDDER" },
        { header: "STATUS" },
        { header: "H_MIN", align: "right" },
        { header: "CREATED" },
      ],
      selections.map((s) => [
        s.id,
        s.datasetId,
        strategyName(s.strategy),
        fmtInt(s.size),
        embedderText(s.embedder),
        statusName(s.status),
        s.metrics?.selection ? fmtNumber(s.metrics.selection.hMinCosine) : "-",
        fmtTime(s.createdAt),
      ]),
    );
    return 0;
  },
};

const ORDERS = ["original", "selection"] as const;

const exportCommand: Command = {
  path: "selection export",
  summary: "Write the chosen records to a file, in the dataset's own format.",
  usage: "ID -o FILE [--order original|selection]",
  positionals: [{ name: "ID" }],
  options: {
    output: { type: "string", short: "o", value: "FILE", help: "file to write (replaced only once the export is complete)" },
    order: { type: "string", value: "O", help: "original (dataset order, default) or selection (pick order)" },
  },
  async run(args, ctx) {
    const id = args.positionals[0]!;
    const file = requiredStr(args, "output");
    const order =
      choice(args, "order", ORDERS) === "selection" ? pb.ExportOrder.EXPORT_ORDER_SELECTION : pb.ExportOrder.EXPORT_ORDER_ORIGINAL;
    await outputFile(file);
    const progress = ctx.progress("bytes");
    let bytes: number;
    try {
      const stream = ctx.selection().exportSubset({ id, order }, { signal: ctx.signal });
      async function* chunks(): AsyncGenerator<Buffer> {
        for await (const message of stream) yield message.chunk;
      }
      bytes = await writeAtomically(file, chunks(), (written) => progress.update({ phase: "download", done: written, total: 0 }));
    } finally {
      progress.end();
    }
    ctx.out.document({ id, file, bytes });
    ctx.out.line(`wrote ${fmtBytes(bytes)} to ${file}`);
    return 0;
  },
};

export const selectionCommands: Command[] = [selectCommand, showCommand, listCommand, exportCommand];
