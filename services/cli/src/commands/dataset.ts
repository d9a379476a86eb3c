// dataset import | list | show
import path from "node:path";
import { pb } from "@uniformity/lib";
import { UsageError, choice, str, type Parsed } from "../args";
import { present, type Command } from "../command";
import type { Context } from "../context";
import { inputFile, readChunks } from "../files";
import { enumName, fmtBytes, fmtInt, fmtTime } from "../output";

export function formatName(format: pb.DatasetFormat): string {
  return enumName(pb.DatasetFormat, "DATASET_FORMAT_", format);
}

export function datasetView(dataset: pb.Dataset | undefined): Record<string, unknown> | null {
  return dataset ? { ...dataset, format: formatName(dataset.format) } : null;
}

function datasetBlock(ctx: Context, d: pb.Dataset): void {
  ctx.out.keyValue([
    ["id", d.id],
    ["name", d.name],
    ["format", formatName(d.format)],
    ["records", fmtInt(d.recordCount)],
    ["size", fmtBytes(d.sizeBytes)],
    ["sha256", d.sha256],
    ["created", fmtTime(d.createdAt)],
  ]);
}

const FORMATS = ["auto", "alpaca", "sharegpt"] as const;
const FORMAT_TO_PB: Record<(typeof FORMATS)[number], pb.DatasetFormat> = {
  auto: pb.DatasetFormat.DATASET_FORMAT_UNSPECIFIED,
  alpaca: pb.DatasetFormat.DATASET_FORMAT_ALPACA,
  sharegpt: pb.DatasetFormat.DATASET_FORMAT_SHAREGPT,
};

/** The header of an import: the name defaults to the file name without its extension. */
export function importHeader(args: Parsed, file: string): pb.ImportDatasetHeader {
  const name = str(args, "name") ?? path.parse(file).name;
  if (name.length < 1 || name.length > 200) throw new UsageError(`--name must be 1 to 200 characters, got ${name.length}`);
  return { name, format: FORMAT_TO_PB[choice(args, "format", FORMATS) ?? "auto"] };
}

const importCommand: Command = {
  path: "dataset import",
  summary: "Import an Alpaca or ShareGPT dataset (JSON or JSONL).",
  usage: "FILE [--name N] [--format auto|alpaca|sharegpt]",
  description: "Streams FILE to the selection service in 1 MiB chunks; importing the same bytes again returns the existing dataset.",
  positionals: [{ name: "FILE" }],
  options: {
    name: { type: "string", value: "N", help: "name to record (default: file name without extension)" },
    format: { type: "string", value: "F", help: "record layout: auto (detect), alpaca or sharegpt (default auto)" },
  },
  async run(args, ctx) {
    const file = args.positionals[0]!;
    const header = importHeader(args, file);
    const size = await inputFile(file);
    const progress = ctx.progress("bytes");
    let sent = 0;
    async function* requests(): AsyncGenerator<pb.ImportDatasetRequest> {
      yield { part: { $case: "header", value: header } };
      progress.update({ phase: "upload", done: 0, total: size });
      for await (const chunk of readChunks(file)) {
        yield { part: { $case: "chunk", value: chunk } };
        sent += chunk.length;
        progress.update({ phase: "upload", done: sent, total: size });
      }
    }
    const stream = requests();
    let response: pb.ImportDatasetResponse;
    try {
      response = await ctx.selection().importDataset(stream, { signal: ctx.signal });
    } finally {
      progress.end();
      // When the server fails the call mid-upload nobody pulls the rest of
      // the file: finishing the generator closes it now rather than at exit.
      await stream.return(undefined);
    }
    const dataset = present(response.dataset, "dataset");
    ctx.out.document({ dataset: datasetView(dataset), existing: response.existing });
    ctx.out.line(dataset.id);
    datasetBlock(ctx, dataset);
    if (response.existing) ctx.out.line("(these bytes were imported before: this is the existing dataset)");
    return 0;
  },
};

/** Every page of a list call, so `list` shows everything rather than the first 50. */
export async function allPages<T>(fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const items: T[] = [];
  let token = "";
  do {
    const page = await fetch(token);
    items.push(...page.items);
    token = page.next;
  } while (token);
  return items;
}

const listCommand: Command = {
  path: "dataset list",
  summary: "List datasets, newest first.",
  usage: "",
  positionals: [],
  options: {},
  async run(_args, ctx) {
    const client = ctx.selection();
    const datasets = await allPages(async (pageToken) => {
      const res = await client.listDatasets({ page: { pageSize: 1000, pageToken } }, { signal: ctx.signal });
      return { items: res.datasets, next: res.nextPageToken };
    });
    ctx.out.document(datasets.map(datasetView));
    ctx.out.table(
      [
        { header: "ID" },
        { header: "NAME" },
        { header: "FORMAT" },
        { header: "RECORDS", align: "right" },
        { header: "SIZE", align: "right" },
        { header: "CREATED" },
      ],
      datasets.map((d) => [d.id, d.name, formatName(d.format), fmtInt(d.recordCount), fmtBytes(d.sizeBytes), fmtTime(d.createdAt)]),
    );
    return 0;
  },
};

const showCommand: Command = {
  path: "dataset show",
  summary: "Show one dataset.",
  usage: "ID",
  positionals: [{ name: "ID" }],
  options: {},
  async run(args, ctx) {
    const res = await ctx.selection().getDataset({ id: args.positionals[0]! }, { signal: ctx.signal });
    const dataset = present(res.dataset, "dataset");
    ctx.out.document(datasetView(dataset));
    datasetBlock(ctx, dataset);
    return 0;
  },
};

export const datasetCommands: Command[] = [importCommand, listCommand, showCommand];
