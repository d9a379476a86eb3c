// SelectionService: datasets in, selection jobs out, results served.
import crypto from "node:crypto";
import { desc, eq } from "drizzle-orm";
import {
  ApiError,
  failedPrecondition,
  getObject,
  invalidArgument,
  isFinalStatus,
  nextPageToken,
  notFound,
  pb,
  publishJson,
  putObject,
  readPage,
  requireId,
  requireNumber,
  status,
  tables,
  unavailable,
  decodeJson,
  type Bus,
  type Database,
  type Implementation,
  type JobMessage,
  type Logger,
} from "@uniformity/lib";
import { datasetToPb, EMBEDDER_NAMES, selectionToPb, STRATEGY_NAMES, type EmbedderRecord } from "./convert";
import { DatasetError, parseDataset, type DatasetFormatName } from "./parse";
import { readNpyHeader } from "./npy";
import { buildSubset } from "./subset";

export interface SelectionDeps {
  database: Database;
  bus: Bus;
  log: Logger;
  maxImportBytes: number;
}

const { datasets, selections, selectionMembers } = tables;

async function collect(chunks: AsyncIterable<Uint8Array>, limit: number, field: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > limit) throw invalidArgument(field, `is larger than the limit of ${limit} bytes (UNIFORMITY_MAX_IMPORT_BYTES)`);
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

function formatName(format: pb.DatasetFormat): DatasetFormatName | "auto" {
  switch (format) {
    case pb.DatasetFormat.DATASET_FORMAT_UNSPECIFIED:
      return "auto";
    case pb.DatasetFormat.DATASET_FORMAT_ALPACA:
      return "alpaca";
    case pb.DatasetFormat.DATASET_FORMAT_SHAREGPT:
      return "sharegpt";
    default:
      throw invalidArgument("header.format", `unknown format ${format}: use alpaca, sharegpt or leave it unset to detect`);
  }
}

export function selectionService(deps: SelectionDeps): Implementation<typeof pb.SelectionServiceService> {
  const { db } = deps.database;
  const store = deps.bus.datasetsStore;

  async function datasetById(field: string, id: string) {
    const [row] = await db.select().from(datasets).where(eq(datasets.id, requireId(field, id)));
    if (!row) throw notFound("dataset", id);
    return row;
  }

  async function selectionById(id: string) {
    const [found] = await db
      .select({ selection: selections, records: datasets.recordCount })
      .from(selections)
      .innerJoin(datasets, eq(datasets.id, selections.datasetId))
      .where(eq(selections.id, requireId("id", id)));
    if (!found) throw notFound("selection", id);
    return found;
  }

  async function doneSelection(id: string) {
    const found = await selectionById(id);
    if (found.selection.status !== "done") {
      throw failedPrecondition(`selection ${id} is ${found.selection.status}, not done`);
    }
    return found;
  }

  return {
    async importDataset(requests) {
      let header: pb.ImportDatasetHeader | undefined;
      async function* chunks(): AsyncGenerator<Uint8Array> {
        for await (const request of requests) {
          const part = request.part;
          if (!header) {
            if (part?.$case !== "header") throw invalidArgument("header", "the first message must carry the header");
            header = part.value;
            continue;
          }
          if (part?.$case === "header") throw invalidArgument("header", "was sent twice");
          if (part?.$case === "chunk") yield part.value;
        }
      }
      const bytes = await collect(chunks(), deps.maxImportBytes, "file");
      if (!header) throw invalidArgument("header", "is required");
      const name = header.name.trim();
      if (!name || name.length > 200) throw invalidArgument("header.name", "must be 1 to 200 characters");
      const requested = formatName(header.format);
      const sha256 = crypto.createHash("sha256").update(bytes).digest("hex");

      const [existing] = await db.select().from(datasets).where(eq(datasets.sha256, sha256));
      if (existing) return { dataset: datasetToPb(existing), existing: true };

      let parsed;
      try {
        parsed = parseDataset(bytes, requested);
      } catch (err) {
        if (err instanceof DatasetError) throw new ApiError(status.INVALID_ARGUMENT, err.message);
        throw err;
      }
      // Bytes first, row second: a row never points at a missing object, and
      // an object without a row is harmless (the next import reuses it).
      await putObject(store, sha256, bytes);
      const [inserted] = await db
        .insert(datasets)
        .values({ name, format: parsed.format, recordCount: parsed.recordCount, sizeBytes: bytes.length, sha256 })
        .onConflictDoNothing({ target: datasets.sha256 })
        .returning();
      if (inserted) return { dataset: datasetToPb(inserted), existing: false };
      const [raced] = await db.select().from(datasets).where(eq(datasets.sha256, sha256));
      return { dataset: datasetToPb(raced!), existing: true };
    },

    async getDataset(request) {
      return { dataset: datasetToPb(await datasetById("id", request.id)) };
    },

    async listDatasets(request) {
      const page = readPage(request.page);
      const rows = await db.select().from(datasets).orderBy(desc(datasets.createdAt), desc(datasets.id)).limit(page.limit).offset(page.offset);
      return { datasets: rows.map(datasetToPb), nextPageToken: nextPageToken(page, rows.length) };
    },

    async uploadEmbeddings(requests) {
      async function* chunks(): AsyncGenerator<Uint8Array> {
        for await (const request of requests) yield request.chunk;
      }
      const bytes = await collect(chunks(), deps.maxImportBytes, "file");
      let header;
      try {
        header = readNpyHeader(bytes);
      } catch (err) {
        throw invalidArgument("file", (err as Error).message);
      }
      if (!["<f4", "<f8"].includes(header.dtype)) throw invalidArgument("file", `must hold float32 or float64 values, got dtype ${header.dtype}`);
      if (header.shape.length !== 2) throw invalidArgument("file", `must be a 2-D matrix, got shape (${header.shape.join(", ")})`);
      if (header.fortranOrder) throw invalidArgument("file", "must be in C order (numpy.ascontiguousarray)");
      const [rows, dims] = header.shape as [number, number];
      const width = header.dtype === "<f4" ? 4 : 8;
      if (bytes.length - header.dataOffset !== rows * dims * width) throw invalidArgument("file", "is truncated: data size does not match its shape");
      const sha256 = crypto.createHash("sha256").update(bytes).digest("hex");
      await putObject(store, sha256, bytes);
      return { sha256, rows, dims };
    },

    async select(request) {
      const dataset = await datasetById("dataset_id", request.datasetId);
      const strategy = STRATEGY_NAMES[request.strategy];
      if (!strategy) throw invalidArgument("strategy", `must be one of ${Object.values(STRATEGY_NAMES).join(", ")}`);
      const records = dataset.recordCount;
      let size: number;
      if (request.target?.$case === "size") {
        size = request.target.value;
        if (!Number.isInteger(size) || size < 1 || size >= records) {
          throw invalidArgument("size", `must be between 1 and ${records - 1} (the dataset has ${records} records), got ${size}`);
        }
      } else if (request.target?.$case === "ratio") {
        const ratio = request.target.value;
        if (!(ratio > 0 && ratio <= 1)) throw invalidArgument("ratio", `must be in (0, 1], got ${ratio}`);
        size = Math.min(records - 1, Math.max(1, Math.round(ratio * records)));
        if (records < 2) throw invalidArgument("ratio", "the dataset has a single record: nothing to choose between");
      } else {
        throw invalidArgument("size", "either size or ratio is required");
      }
      requireNumber("seed", request.seed, { min: 0, integer: true });

      const e = request.embedder ?? pb.Embedder.fromPartial({});
      const kind = e.kind === pb.EmbedderKind.EMBEDDER_KIND_UNSPECIFIED ? pb.EmbedderKind.EMBEDDER_KIND_WORD2VEC : e.kind;
      const embedderName = EMBEDDER_NAMES[kind];
      if (!embedderName) throw invalidArgument("embedder.kind", `must be one of ${Object.values(EMBEDDER_NAMES).join(", ")}`);
      const embedder: EmbedderRecord = { name: embedderName };
      const inputs: JobMessage["inputs"] = { dataset: { sha256: dataset.sha256, format: dataset.format } };
      if (embedderName === "word2vec" || embedderName === "tfidf") {
        embedder.dim = e.dim ? requireNumber("embedder.dim", e.dim, { min: 2, max: 4096, integer: true }) : 100;
      }
      if (embedderName === "word2vec") {
        embedder.window = e.window ? requireNumber("embedder.window", e.window, { min: 1, max: 100 }) : 5;
        embedder.min_count = e.minCount ? requireNumber("embedder.min_count", e.minCount, { min: 1, max: 1_000_000 }) : 1;
        embedder.epochs = e.epochs ? requireNumber("embedder.epochs", e.epochs, { min: 1, max: 1000 }) : 5;
      }
      if (embedderName === "precomputed") {
        if (!/^[0-9a-f]{64}$/.test(e.precomputedSha256)) throw invalidArgument("embedder.precomputed_sha256", "must be the sha256 UploadEmbeddings returned");
        const bytes = await getObject(store, e.precomputedSha256);
        if (!bytes) throw notFound("embeddings", e.precomputedSha256);
        const rows = readNpyHeader(bytes).shape[0];
        if (rows !== records) throw invalidArgument("embedder.precomputed_sha256", `matrix has ${rows} rows but the dataset has ${records} records`);
        embedder.precomputed_sha256 = e.precomputedSha256;
        inputs.precomputed = { sha256: e.precomputedSha256 };
      }
      if (embedderName === "st") {
        if (!e.modelDir.startsWith("/")) throw invalidArgument("embedder.model_dir", "must be an absolute directory on the worker");
        embedder.model_dir = e.modelDir;
      }

      const [row] = await db
        .insert(selections)
        .values({ datasetId: dataset.id, strategy, size, seed: request.seed, embedder, status: "queued" })
        .returning();
      const job: JobMessage = {
        id: row!.id,
        kind: "select",
        spec: { kind: "select", strategy, size, seed: request.seed, embedder: coreEmbedder(embedder), device: "auto" },
        inputs,
      };
      try {
        await publishJson(deps.bus.js, deps.bus.names.jobs("select"), job, row!.id);
      } catch (err) {
        await db.delete(selections).where(eq(selections.id, row!.id));
        throw unavailable(`could not queue the job: ${(err as Error).message}`);
      }
      return { selection: selectionToPb(row!, records) };
    },

    async getSelection(request) {
      const found = await selectionById(request.id);
      return { selection: selectionToPb(found.selection, found.records) };
    },

    async listSelections(request) {
      const page = readPage(request.page);
      const where = request.datasetId ? eq(selections.datasetId, requireId("dataset_id", request.datasetId)) : undefined;
      const rows = await db
        .select({ selection: selections, records: datasets.recordCount })
        .from(selections)
        .innerJoin(datasets, eq(datasets.id, selections.datasetId))
        .where(where)
        .orderBy(desc(selections.createdAt), desc(selections.id))
        .limit(page.limit)
        .offset(page.offset);
      return { selections: rows.map((r) => selectionToPb(r.selection, r.records)), nextPageToken: nextPageToken(page, rows.length) };
    },

    async *watchSelection(request, ctx) {
      const id = requireId("id", request.id);
      // Subscribe before the first read so no update falls between the two.
      const subscription = deps.bus.nc.subscribe(deps.bus.names.events("select", id, "*"));
      const onAbort = () => subscription.unsubscribe();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        let found = await selectionById(id);
        let last = "";
        let progress: pb.Progress | undefined;
        const render = () => {
          const selection = selectionToPb(found.selection, found.records);
          if (progress && !isFinalStatus(found.selection.status)) selection.progress = progress;
          return selection;
        };
        const changes = (async function* () {
          for await (const m of subscription) yield m;
        })();
        let pending = changes.next();
        for (;;) {
          const selection = render();
          const key = JSON.stringify(pb.Selection.toJSON(selection));
          if (key !== last) {
            last = key;
            yield { selection };
          }
          if (isFinalStatus(found.selection.status) || ctx.signal.aborted) return;
          // Wake on an event or every second, whichever is first: the
          // recorder writes the final status a moment after the event.
          const tick = new Promise<"tick">((resolve) => setTimeout(() => resolve("tick"), 1000));
          const next = await Promise.race([pending, tick]);
          if (next !== "tick") {
            if (next.done) return;
            pending = changes.next();
            const event = decodeJson<{ type: string; phase?: string; done?: number; total?: number }>(next.value.data);
            if (event.type === "progress") progress = { phase: event.phase ?? "", done: event.done ?? 0, total: event.total ?? 0 };
          }
          found = await selectionById(id);
        }
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        subscription.unsubscribe();
      }
    },

    async *exportSubset(request) {
      const found = await doneSelection(request.id);
      const order = request.order === pb.ExportOrder.EXPORT_ORDER_SELECTION ? selectionMembers.position : selectionMembers.recordIndex;
      const members = await db
        .select({ index: selectionMembers.recordIndex })
        .from(selectionMembers)
        .where(eq(selectionMembers.selectionId, found.selection.id))
        .orderBy(order);
      const [dataset] = await db.select().from(datasets).where(eq(datasets.id, found.selection.datasetId));
      const bytes = await getObject(store, dataset!.sha256);
      if (!bytes) throw failedPrecondition(`dataset file ${dataset!.sha256} is missing from the object store`);
      const subset = buildSubset(bytes, members.map((m) => m.index));
      for (let offset = 0; offset < subset.length; offset += 1 << 20) yield { chunk: subset.subarray(offset, offset + (1 << 20)) };
    },

    async getSelectionPlot(request) {
      const found = await doneSelection(request.id);
      if (!found.selection.plotSha256) throw failedPrecondition(`selection ${request.id} has no picture`);
      const png = await getObject(store, found.selection.plotSha256);
      if (!png) throw failedPrecondition(`picture ${found.selection.plotSha256} is missing from the object store`);
      return { png: Buffer.from(png) };
    },
  };
}

/** The embedder as the core's spec names it: a sentence-transformers model travels as `path`. */
function coreEmbedder(embedder: EmbedderRecord): Record<string, unknown> {
  const { model_dir, precomputed_sha256: _sha, ...rest } = embedder;
  return model_dir ? { ...rest, path: model_dir } : rest;
}
