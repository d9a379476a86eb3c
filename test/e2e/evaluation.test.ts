// Did the subset train as well? Two tiny runs trained, scored on ARC-style
// and TruthfulQA-style files, compared with thresholds and a picture.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { alpacaRecords, eventually, startMesh, tinyModel, writeTaskFiles, type Mesh } from "../src/harness";

let mesh: Mesh;
let modelDir: string;
let dataDir: string;
const runIds: string[] = [];

before(async () => {
  mesh = await startMesh();
  modelDir = await tinyModel(path.join(mesh.scratch.dataDir, "tiny-llama"));
  dataDir = writeTaskFiles(path.join(mesh.scratch.dataDir, "tasks"), 8);
  const file = path.join(mesh.scratch.dataDir, "train.json");
  fs.writeFileSync(file, JSON.stringify(alpacaRecords(64, 8)));
  const datasetId = JSON.parse((await mesh.cli(["dataset", "import", file, "--json"])).stdout).dataset.id;
  const selection = JSON.parse((await mesh.cli(["select", datasetId, "--strategy", "uniform", "--ratio", "0.5", "--json"])).stdout);
  for (const source of [["--selection", selection.id], ["--dataset", datasetId]]) {
    const res = await mesh.cli([
      "train", ...source, "--model", modelDir, "--batch-size", "8", "--max-length", "192", "--lr", "1e-3", "--epochs", "2",
      "--eval", "arc_challenge:2", "--eval", "truthfulqa_mc", "--eval-data", dataDir, "--json",
    ]);
    assert.equal(res.code, 0, res.stderr);
    runIds.push(JSON.parse(res.stdout).id);
  }
});

after(async () => {
  await mesh?.stop();
});

async function evaluationsOf(runId: string) {
  return JSON.parse((await mesh.cli(["evaluations", "list", "--run", runId, "--json"])).stdout) as { status: string; scores: { task: string; metric: string; value: number }[] }[];
}

test("runs asked for evaluation are scored when they finish", async () => {
  for (const id of runIds) {
    const done = await eventually(`evaluation of ${id}`, 240_000, async () => {
      const list = await evaluationsOf(id).catch(() => []);
      return list.find((e) => e.status === "done" || e.status === "failed");
    });
    assert.equal(done.status, "done", JSON.stringify(done));
    const metrics = done.scores.map((s) => `${s.task}/${s.metric}`).sort();
    assert.deepEqual(metrics, ["arc_challenge/acc", "arc_challenge/acc_norm", "truthfulqa_mc/mc1", "truthfulqa_mc/mc2"]);
    for (const s of done.scores) assert.ok(s.value >= 0 && s.value <= 1);
  }
});

test("eval by model directory with a progress bar, and its errors", async () => {
  const res = await mesh.cli(["eval", "--model", modelDir, "--task", "arc_challenge:0", "--data", dataDir, "--limit", "4", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const evaluation = JSON.parse(res.stdout);
  assert.equal(evaluation.status, "done");
  assert.equal(evaluation.scores.find((s: { metric: string }) => s.metric === "acc").n, 4);

  const unknown = await mesh.cli(["eval", "--model", modelDir, "--task", "mmlu", "--data", dataDir]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown task "mmlu"/);
  const tooMany = await mesh.cli(["eval", "--model", modelDir, "--task", "arc_challenge:40", "--data", dataDir, "--json"]);
  assert.equal(tooMany.code, 1);
  assert.match(tooMany.stderr + tooMany.stdout, /shots/);
});

test("compare: thresholds, scores side by side, and the picture", async () => {
  const png = path.join(mesh.scratch.dataDir, "compare.png");
  const res = await mesh.cli(["compare", ...runIds, "--threshold", "100", "--threshold", "0.001", "--plot", png, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.equal(out.runs.length, 2);
  assert.deepEqual(out.runs.map((r: { strategy: string }) => r.strategy), ["uniform", "full"]);
  assert.deepEqual(out.runs.map((r: { records: number }) => r.records), [32, 64]);
  for (const run of out.runs) {
    assert.equal(run.thresholds[0].reached, true, "every run is below a loss of 100 by its third step");
    assert.equal(run.thresholds[0].step, 3);
    assert.equal(run.thresholds[1].reached, false);
    assert.equal(run.scores.length, 4);
  }
  const bytes = fs.readFileSync(png);
  assert.equal(bytes.subarray(1, 4).toString(), "PNG");
  assert.ok(bytes.length > 20_000);
});
