// The CLI against a real gRPC server in this process with a fake
// SelectionService: bytes on the wire, token metadata, error lines.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  bind,
  createLogger,
  invalidArgument,
  pb,
  startServer,
  unimplemented,
  type CallContext,
  type Implementation,
  type RunningServer,
} from "@uniformity/lib";
import { cli } from "./helpers";

type Selection = typeof pb.SelectionServiceService;

interface Received {
  header: pb.ImportDatasetHeader | undefined;
  chunks: Buffer[];
  authorization: string;
}

const DATASET_ID = "0b8a5c9e-6f1d-4a57-9a55-2f8a3c4d5e6f";
const SELECTION_ID = "5d1c2b3a-0000-4000-8000-000000000001";

function fakeService(received: Received[]): Implementation<Selection> {
  const notHere = (what: string) => async () => {
    throw unimplemented(what, "test fake");
  };
  const metrics = (size: number, h: number): pb.UniformityMetrics => pb.UniformityMetrics.fromPartial({ size, hMinCosine: h, coverageRadius: 0.4 });
  const selection = (status: pb.JobStatus, extra: Partial<pb.Selection> = {}): pb.Selection =>
    pb.Selection.fromPartial({ id: SELECTION_ID, datasetId: DATASET_ID, strategy: pb.Strategy.STRATEGY_UNIFORM, size: 10, status, ...extra });
  return {
    async importDataset(requests: AsyncIterable<pb.ImportDatasetRequest>, ctx: CallContext) {
      const got: Received = { header: undefined, chunks: [], authorization: String(ctx.metadata.get("authorization")[0] ?? "") };
      received.push(got);
      for await (const request of requests) {
        if (request.part?.$case === "header") got.header = request.part.value;
        else if (request.part?.$case === "chunk") got.chunks.push(request.part.value);
        // A validation failure in the middle of the upload, as the real service reports one.
        if (got.header?.name === "broken" && got.chunks.length === 1) throw invalidArgument("record 17", 'field "output" must be a string');
      }
      const bytes = Buffer.concat(got.chunks);
      return {
        dataset: {
          id: DATASET_ID,
          name: got.header?.name ?? "",
          format: pb.DatasetFormat.DATASET_FORMAT_ALPACA,
          recordCount: 3,
          sizeBytes: bytes.length,
          sha256: "f".repeat(64),
          createdAt: new Date("2024-05-01T12:00:00Z"),
        },
        existing: false,
      };
    },
    getDataset: notHere("GetDataset"),
    listDatasets: notHere("ListDatasets"),
    uploadEmbeddings: notHere("UploadEmbeddings"),
    async select(request: pb.SelectRequest) {
      return { selection: selection(pb.JobStatus.JOB_STATUS_QUEUED, { datasetId: request.datasetId }) };
    },
    getSelection: notHere("GetSelection"),
    listSelections: notHere("ListSelections"),
    async *watchSelection() {
      yield { selection: selection(pb.JobStatus.JOB_STATUS_QUEUED) };
      for (let done = 0; done <= 4; done++) {
        yield { selection: selection(pb.JobStatus.JOB_STATUS_RUNNING, { progress: { phase: "select", done, total: 4 } }) };
      }
      yield {
        selection: selection(pb.JobStatus.JOB_STATUS_FAILED, { error: "worker ran out of memory", metrics: { selection: metrics(10, 0.3), full: metrics(100, 0), random: metrics(10, 0.05), emptyRecords: 0 } }),
      };
    },
    async *exportSubset(request: pb.ExportSubsetRequest) {
      yield { chunk: Buffer.from("[{\"instruction\":") };
      if (request.order === pb.ExportOrder.EXPORT_ORDER_SELECTION) throw invalidArgument("id", "selection is not done");
      yield { chunk: Buffer.from("\"hi\",\"input\":\"\",\"output\":\"yo\"}]") };
    },
    getSelectionPlot: notHere("GetSelectionPlot"),
  };
}

const silent = createLogger("test", "error", {}, () => undefined);
let open: RunningServer;
let locked: RunningServer;
const openCalls: Received[] = [];
const lockedCalls: Received[] = [];
let dir: string;
let file: string;
let content: Buffer;

before(async () => {
  open = await startServer({ address: "127.0.0.1:0", services: [bind("uniformity.v1.SelectionService", pb.SelectionServiceService, fakeService(openCalls))], token: undefined, log: silent });
  locked = await startServer({
    address: "127.0.0.1:0",
    services: [bind("uniformity.v1.SelectionService", pb.SelectionServiceService, fakeService(lockedCalls))],
    token: "s3cret",
    log: silent,
  });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "uniformity-cli-"));
  file = path.join(dir, "alpaca_small.json");
  // Two and a half chunks, so the chunking and the short last chunk are both exercised.
  content = randomBytes(2.5 * 1024 * 1024);
  await fs.writeFile(file, content);
});

after(async () => {
  await open.shutdown(0);
  await locked.shutdown(0);
  await fs.rm(dir, { recursive: true, force: true });
});

const envFor = (server: RunningServer, extra: Record<string, string> = {}) => ({ UNIFORMITY_SELECTION_ADDR: `127.0.0.1:${server.port}`, ...extra });

test("dataset import --json streams the file intact in 1 MiB chunks and prints the dataset", async () => {
  const result = await cli(["dataset", "import", file, "--json"], envFor(open));
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  const got = openCalls.at(-1)!;
  assert.deepEqual(got.header, { name: "alpaca_small", format: pb.DatasetFormat.DATASET_FORMAT_UNSPECIFIED });
  assert.deepEqual(got.chunks.map((c) => c.length), [1024 * 1024, 1024 * 1024, 512 * 1024]);
  assert.ok(Buffer.concat(got.chunks).equals(content));
  assert.equal(got.authorization, "");
  const json = JSON.parse(result.stdout) as { dataset: Record<string, unknown>; existing: boolean };
  assert.equal(json.dataset.id, DATASET_ID);
  assert.equal(json.dataset.format, "alpaca");
  assert.equal(json.dataset.sizeBytes, content.length);
  assert.equal(json.dataset.createdAt, "2024-05-01T12:00:00.000Z");
  assert.equal(json.existing, false);
});

test("dataset import prints the id on the first line, then a summary; progress goes to stderr", async () => {
  const result = await cli(["dataset", "import", file, "--name", "mine", "--format", "alpaca"], envFor(open));
  assert.equal(result.code, 0);
  const lines = result.stdout.split("\n");
  assert.equal(lines[0], DATASET_ID);
  assert.match(result.stdout, /^name: +mine$/m);
  assert.match(result.stdout, /^records: +3$/m);
  assert.deepEqual(openCalls.at(-1)!.header, { name: "mine", format: pb.DatasetFormat.DATASET_FORMAT_ALPACA });
  // Not a terminal: plain lines, the last one at 100%.
  assert.match(result.stderr, /^upload .*100%.*\n$/m);
  assert.ok(!result.stderr.includes("\r"));
});

test("the bearer token travels as metadata; without it the call fails with a line naming UNIFORMITY_TOKEN", async () => {
  const refused = await cli(["dataset", "import", file, "--json"], envFor(locked));
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, "");
  assert.equal(refused.stderr, "uniformity: the selection service requires a token: set UNIFORMITY_TOKEN\n");

  const wrong = await cli(["dataset", "import", file, "--json"], envFor(locked, { UNIFORMITY_TOKEN: "guess" }));
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr, "uniformity: the selection service rejected the token in UNIFORMITY_TOKEN\n");

  const accepted = await cli(["dataset", "import", file, "--json"], envFor(locked, { UNIFORMITY_TOKEN: "s3cret" }));
  assert.equal(accepted.stderr, "");
  assert.equal(accepted.code, 0);
  assert.equal(lockedCalls.at(-1)!.authorization, "Bearer s3cret");
  assert.ok(Buffer.concat(lockedCalls.at(-1)!.chunks).equals(content));
});

test("a server error is exactly one stderr line and exit 1", async () => {
  const result = await cli(["dataset", "import", file, "--name", "broken"], envFor(open));
  assert.equal(result.code, 1);
  assert.equal(result.stderr.split("\n").filter((l) => l.startsWith("uniformity:")).length, 1);
  assert.match(result.stderr, /uniformity: record 17: field "output" must be a string\n$/);
  assert.equal(result.stdout, "");

  const json = await cli(["dataset", "import", file, "--name", "broken", "--json"], envFor(open));
  assert.equal(json.stderr, 'uniformity: record 17: field "output" must be a string\n');
  assert.equal(json.code, 1);

  const missing = await cli(["dataset", "list"], envFor(open));
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "uniformity: ListDatasets is not implemented yet (test fake)\n");
});

test("an unreachable service names its address and the variable that sets it", async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const result = await cli(["dataset", "import", file], { UNIFORMITY_SELECTION_ADDR: `127.0.0.1:${port}` });
  assert.equal(result.code, 1);
  assert.equal(result.stderr.split("\n").filter(Boolean).at(-1), `uniformity: cannot reach the selection service at 127.0.0.1:${port} (set UNIFORMITY_SELECTION_ADDR to change it)`);
});

test("select follows the job to its end; a failed job prints its figures and exits 1", async () => {
  const result = await cli(["select", DATASET_ID, "--strategy", "uniform", "--size", "10"], envFor(open));
  assert.equal(result.code, 1);
  assert.equal(result.stdout.split("\n")[0], SELECTION_ID);
  assert.match(result.stdout, /^h_min cosine +0\.3000 +0\.0000 +0\.0500$/m);
  assert.match(result.stderr, /^queued$/m);
  assert.match(result.stderr, /^select .*100%/m);
  assert.ok(result.stderr.endsWith(`uniformity: selection ${SELECTION_ID} failed: worker ran out of memory\n`));

  const json = await cli(["select", DATASET_ID, "--strategy", "uniform", "--ratio", "0.5", "--json"], envFor(open));
  assert.equal(json.code, 1);
  const view = JSON.parse(json.stdout) as Record<string, any>;
  assert.equal(view.status, "failed");
  assert.equal(view.strategy, "uniform");
  assert.equal(view.metrics.selection.hMinCosine, 0.3);
  assert.equal(json.stderr, `uniformity: selection ${SELECTION_ID} failed: worker ran out of memory\n`);
});

test("selection export writes the file only when the stream completes", async () => {
  const out = path.join(dir, "subset.json");
  const ok = await cli(["selection", "export", SELECTION_ID, "-o", out, "--json"], envFor(open));
  assert.equal(ok.code, 0);
  assert.equal(await fs.readFile(out, "utf8"), '[{"instruction":"hi","input":"","output":"yo"}]');
  assert.deepEqual(JSON.parse(ok.stdout), { id: SELECTION_ID, file: out, bytes: 47 });

  const failedOut = path.join(dir, "half.json");
  const failed = await cli(["selection", "export", SELECTION_ID, "-o", failedOut, "--order", "selection"], envFor(open));
  assert.equal(failed.code, 1);
  assert.equal(failed.stderr.split("\n").filter(Boolean).at(-1), "uniformity: id: selection is not done");
  assert.deepEqual((await fs.readdir(dir)).sort(), ["alpaca_small.json", "subset.json"]);
});
