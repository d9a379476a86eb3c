// Rows to wire messages and wire enums to the names the core and the
// database use.
import { pb, jobStatusToPb, tables } from "@uniformity/lib";

type DatasetRow = typeof tables.datasets.$inferSelect;
type SelectionRow = typeof tables.selections.$inferSelect;

export const STRATEGY_NAMES: Record<number, string> = {
  [pb.Strategy.STRATEGY_UNIFORM]: "uniform",
  [pb.Strategy.STRATEGY_RANDOM]: "random",
  [pb.Strategy.STRATEGY_FIRST]: "first",
  [pb.Strategy.STRATEGY_HALF_RANDOM_MIN_DISTANCE]: "half-random-min-distance",
  [pb.Strategy.STRATEGY_MIN_DISTANCE]: "min-distance",
};

export const EMBEDDER_NAMES: Record<number, string> = {
  [pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC]: "word2vec",
  [pb.EmbedderKind.EMBEDDER_KIND_TFIDF]: "tfidf",
  [pb.EmbedderKind.EMBEDDER_KIND_PRECOMPUTED]: "precomputed",
  [pb.EmbedderKind.EMBEDDER_KIND_SENTENCE_TRANSFORMERS]: "st",
};

const byName = (table: Record<number, string>, name: string): number =>
  Number(Object.entries(table).find(([, n]) => n === name)?.[0] ?? 0);

export interface EmbedderRecord {
  name: string;
  dim?: number;
  window?: number;
  min_count?: number;
  epochs?: number;
  precomputed_sha256?: string;
  model_dir?: string;
}

export function datasetToPb(row: DatasetRow): pb.Dataset {
  return {
    id: row.id,
    name: row.name,
    format: row.format === "alpaca" ? pb.DatasetFormat.DATASET_FORMAT_ALPACA : pb.DatasetFormat.DATASET_FORMAT_SHAREGPT,
    recordCount: row.recordCount,
    sizeBytes: row.sizeBytes,
    sha256: row.sha256,
    createdAt: row.createdAt,
  };
}

function metricsToPb(value: Record<string, unknown> | undefined): pb.UniformityMetrics | undefined {
  if (!value) return undefined;
  const num = (key: string) => (typeof value[key] === "number" ? (value[key] as number) : 0);
  return {
    size: num("size"),
    hMinCosine: num("h_min_cosine"),
    hMinEuclidean: num("h_min_euclidean"),
    nnMean: num("nn_mean"),
    nnP5: num("nn_p5"),
    nnP50: num("nn_p50"),
    nnP95: num("nn_p95"),
    coverageRadius: num("coverage_radius"),
    duplicates: num("duplicates"),
    estimated: Array.isArray(value.estimated) ? (value.estimated as unknown[]).map(String) : [],
  };
}

export function selectionToPb(row: SelectionRow, datasetRecords: number): pb.Selection {
  const embedder = row.embedder as EmbedderRecord;
  const metrics = row.metrics as { selection?: Record<string, unknown>; full?: Record<string, unknown>; random?: Record<string, unknown>; empty_records?: number } | null;
  const progress = row.progress as { phase?: string; done?: number; total?: number } | null;
  return {
    id: row.id,
    datasetId: row.datasetId,
    strategy: byName(STRATEGY_NAMES, row.strategy),
    size: row.size,
    seed: row.seed,
    embedder: {
      kind: byName(EMBEDDER_NAMES, embedder.name),
      dim: embedder.dim ?? 0,
      window: embedder.window ?? 0,
      minCount: embedder.min_count ?? 0,
      epochs: embedder.epochs ?? 0,
      precomputedSha256: embedder.precomputed_sha256 ?? "",
      modelDir: embedder.model_dir ?? "",
    },
    status: jobStatusToPb(row.status),
    error: row.error ?? "",
    metrics: metrics
      ? { selection: metricsToPb(metrics.selection), full: metricsToPb(metrics.full), random: metricsToPb(metrics.random), emptyRecords: metrics.empty_records ?? 0 }
      : undefined,
    subsetSha256: row.subsetSha256 ?? "",
    progress: progress ? { phase: progress.phase ?? "", done: progress.done ?? 0, total: progress.total ?? 0 } : undefined,
    worker: row.worker ?? "",
    createdAt: row.createdAt,
    finishedAt: row.finishedAt ?? undefined,
    datasetRecords,
  };
}
