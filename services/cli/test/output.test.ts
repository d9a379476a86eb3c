// Tables, key-value blocks and JSON: the shapes users and scripts read.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pb, status } from "@uniformity/lib";
import { datasetView } from "../src/commands/dataset";
import { comparisonTable } from "../src/commands/evaluation";
import { runView } from "../src/commands/runs";
import { metricsTable, selectionView } from "../src/commands/selection";
import { gpuText } from "../src/commands/workers";
import { describeFailure } from "../src/errors";
import { enumName, enumValue, fmtAgo, fmtBytes, fmtDuration, fmtLr, formatKeyValue, formatTable, toJson } from "../src/output";

test("tables align columns, right-align numbers and trim trailing blanks", () => {
  const text = formatTable(
    [{ header: "ID" }, { header: "NAME" }, { header: "RECORDS", align: "right" }],
    [
      ["a1", "alpaca", "52,002"],
      ["b22", "wiz", "7"],
    ],
  );
  assert.equal(text, ["ID   NAME    RECORDS", "a1   alpaca   52,002", "b22  wiz           7", ""].join("\n"));
  assert.equal(formatTable([{ header: "ID" }, { header: "NAME" }], []), "ID  NAME\n");
});

test("key-value blocks line values up and leave unknown values out", () => {
  assert.equal(formatKeyValue([["id", "x"], ["error", undefined], ["records", "3"]]), "id:       x\nrecords:  3\n");
});

test("JSON: enums by readable name, timestamps ISO, bytes left out, keys in message order", () => {
  const dataset: pb.Dataset = {
    id: "d1",
    name: "alpaca",
    format: pb.DatasetFormat.DATASET_FORMAT_ALPACA,
    recordCount: 52002,
    sizeBytes: 1024,
    sha256: "ab",
    createdAt: new Date("2024-05-01T12:00:00.000Z"),
  };
  assert.equal(
    toJson(datasetView(dataset), false),
    '{"id":"d1","name":"alpaca","format":"alpaca","recordCount":52002,"sizeBytes":1024,"sha256":"ab","createdAt":"2024-05-01T12:00:00.000Z"}',
  );
  assert.equal(toJson({ png: Buffer.from([1, 2]), when: undefined, ok: true }, false), '{"ok":true}');

  const selection = pb.Selection.fromPartial({
    id: "s1",
    strategy: pb.Strategy.STRATEGY_HALF_RANDOM_MIN_DISTANCE,
    status: pb.JobStatus.JOB_STATUS_DONE,
    embedder: { kind: pb.EmbedderKind.EMBEDDER_KIND_SENTENCE_TRANSFORMERS, modelDir: "/m" },
  });
  const view = JSON.parse(toJson(selectionView(selection))) as Record<string, any>;
  assert.equal(view.strategy, "half-random-min-distance");
  assert.equal(view.status, "done");
  assert.equal(view.embedder.kind, "sentence-transformers");
  assert.deepEqual(Object.keys(view).slice(0, 4), ["id", "datasetId", "strategy", "size"]);

  const run = pb.Run.fromPartial({
    id: "r1",
    status: pb.JobStatus.JOB_STATUS_RUNNING,
    spec: { data: { $case: "selectionId", value: "s1" }, loss: pb.Loss.LOSS_CE, optimizer: pb.Optimizer.OPTIMIZER_ADAMW, precision: pb.Precision.PRECISION_BF16 },
  });
  const runJson = JSON.parse(toJson(runView(run))) as Record<string, any>;
  assert.equal(runJson.status, "running");
  assert.equal(runJson.spec.selectionId, "s1");
  assert.equal(runJson.spec.loss, "ce");
  assert.equal(runJson.spec.optimizer, "adamw");
  assert.equal(runJson.spec.precision, "bf16");
  assert.equal(runJson.spec.data, undefined);
});

test("enum names round-trip and unknown values stay visible", () => {
  assert.equal(enumName(pb.Strategy, "STRATEGY_", pb.Strategy.STRATEGY_MIN_DISTANCE), "min-distance");
  assert.equal(enumName(pb.Strategy, "STRATEGY_", 99), "99");
  assert.equal(enumValue(pb.Strategy, "STRATEGY_", "min-distance"), pb.Strategy.STRATEGY_MIN_DISTANCE);
  assert.equal(enumValue(pb.Strategy, "STRATEGY_", "unspecified"), undefined);
});

test("number, byte and time formats", () => {
  assert.equal(fmtBytes(512), "512 B");
  assert.equal(fmtBytes(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
  assert.equal(fmtLr(2e-5), "2.00e-5");
  assert.equal(fmtLr(0.01), "0.01");
  assert.equal(fmtDuration(5), "5.0s");
  assert.equal(fmtDuration(125), "2m05s");
  assert.equal(fmtDuration(3 * 3600 + 60 * 7), "3h07m");
  assert.equal(fmtAgo(new Date(1_000), new Date(4_000)), "3.0s ago");
  assert.equal(gpuText([]), "-");
  assert.equal(
    gpuText([
      { index: 0, name: "H100", memoryMib: 81920 },
      { index: 1, name: "H100", memoryMib: 81920 },
    ]),
    "2x H100 (80 GiB)",
  );
});

test("selection metrics side by side", () => {
  const m = (h: number, size: number): pb.UniformityMetrics =>
    pb.UniformityMetrics.fromPartial({ size, hMinCosine: h, coverageRadius: 0.5, duplicates: 1 });
  const text = metricsTable({ selection: m(0.25, 100), full: m(0, 1000), random: { ...m(0.01, 100), estimated: ["coverage_radius: 2000-sample"] }, emptyRecords: 2 });
  const lines = text.split("\n");
  assert.equal(lines[0], "METRIC           SELECTION    FULL  RANDOM");
  assert.equal(lines[1], "size                   100   1,000     100");
  assert.equal(lines[2], "h_min cosine        0.2500  0.0000  0.0100");
  assert.ok(text.includes("estimated: coverage_radius: 2000-sample\n"));
  assert.ok(text.includes("records with no known word: 2\n"));
});

test("comparison: runs as columns, thresholds in request order", () => {
  const run = (id: string, name: string, reached: boolean): pb.RunComparison =>
    pb.RunComparison.fromPartial({
      runId: id,
      name,
      strategy: name,
      records: 1000,
      steps: 30,
      thresholds: [{ threshold: 1.5, reached, step: 12, minutes: 3.25 }],
      finalLoss: 1.2,
      minLoss: 1.1,
      lossAuc: 40,
      tokens: 123456,
      scores: [{ task: "arc_challenge", shots: 25, metric: "acc_norm", value: 0.5, stderr: 0.01, n: 1172 }],
    });
  const text = comparisonTable([run("r1", "uniform", true), run("r2", "random", false)], [1.5]);
  assert.match(text, /^\s+uniform\s+random\n/);
  assert.match(text, /loss <= 1\.5\s+step 12, 3\.3 min\s+not reached\n/);
  assert.match(text, /arc_challenge acc_norm \(25-shot\)\s+0\.5000 ± 0\.0100\s+0\.5000 ± 0\.0100\n/);
});

test("server failures become one actionable line", () => {
  const target = { label: "selection service", address: "10.0.0.5:50051", addressVar: "UNIFORMITY_SELECTION_ADDR" };
  assert.equal(
    describeFailure({ code: status.UNAVAILABLE, details: "No connection established. Last error: connect ECONNREFUSED 10.0.0.5:50051" }, target, false),
    "cannot reach the selection service at 10.0.0.5:50051 (set UNIFORMITY_SELECTION_ADDR to change it)",
  );
  assert.equal(
    describeFailure({ code: status.UNAVAILABLE, details: "backing store unavailable, retry shortly" }, target, false),
    "the selection service at 10.0.0.5:50051 (UNIFORMITY_SELECTION_ADDR) is unavailable: backing store unavailable, retry shortly",
  );
  assert.equal(describeFailure({ code: status.UNAUTHENTICATED, details: "x" }, target, false), "the selection service requires a token: set UNIFORMITY_TOKEN");
  assert.equal(describeFailure({ code: status.UNAUTHENTICATED, details: "x" }, target, true), "the selection service rejected the token in UNIFORMITY_TOKEN");
  assert.equal(describeFailure({ code: status.INVALID_ARGUMENT, details: "record 17:\n bad" }, target, false), "record 17: bad");
  assert.equal(describeFailure({ code: status.INTERNAL, details: "" }, target, false), "the selection service failed with INTERNAL");
});
