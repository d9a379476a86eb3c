// Training through the running mesh on CPU with a tiny LLaMA: steps land in
// Postgres exactly once, a killed worker's run resumes elsewhere, cancel
// stops the core.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { alpacaRecords, eventually, processesMatching, startMesh, tinyModel, type Mesh } from "../src/harness";

let mesh: Mesh;
let db: pg.Client;
let datasetId: string;
let modelDir: string;

before(async () => {
  mesh = await startMesh({ parts: ["selection", "training", "worker"] });
  db = new pg.Client({ connectionString: mesh.scratch.databaseUrl });
  await db.connect();
  modelDir = await tinyModel(path.join(mesh.scratch.dataDir, "tiny-llama"));
  const file = path.join(mesh.scratch.dataDir, "train.json");
  fs.writeFileSync(file, JSON.stringify(alpacaRecords(96, 4)));
  datasetId = JSON.parse((await mesh.cli(["dataset", "import", file, "--json"])).stdout).dataset.id;
});

after(async () => {
  await db?.end();
  await mesh?.stop();
});

const trainArgs = (extra: string[]) => ["train", "--dataset", datasetId, "--model", modelDir, "--batch-size", "8", "--max-length", "192", "--lr", "1e-3", ...extra];

async function runRow(id: string) {
  return (await db.query("select * from runs where id = $1", [id])).rows[0];
}

async function steps(id: string): Promise<number[]> {
  return (await db.query("select step from loss_points where run_id = $1 order by step", [id])).rows.map((r) => Number(r.step));
}

test("a run trains to the end: every step recorded once, summary and checkpoint kept", async () => {
  const res = await mesh.cli(trainArgs(["--epochs", "1", "--follow", "--name", "e2e"]));
  assert.equal(res.code, 0, res.stderr + mesh.parts.worker!.output.join("").slice(-3000));
  const id = /[0-9a-f]{8}-[0-9a-f-]{27}/.exec(res.stdout)![0];
  const run = await eventually("run done", 10_000, async () => ((await runRow(id))?.status === "done" ? runRow(id) : undefined));
  assert.equal(Number(run.total_steps), 12);
  assert.deepEqual(await steps(id), Array.from({ length: 12 }, (_, i) => i + 1));
  assert.equal(Number(run.step), 12);
  assert.ok(Number(run.tokens) > 0);
  assert.ok(run.best_loss <= run.latest_loss);
  assert.ok(fs.existsSync(path.join(run.checkpoint_dir, "config.json")), "final checkpoint in HF format");

  const logs = await mesh.cli(["runs", "logs", id, "--json"]);
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout.trim().split("\n").filter((l) => l.includes('"loss"')).length, 12);
  const few = await mesh.cli(["runs", "logs", id, "--json", "--max-points", "4"]);
  const fewSteps = few.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.loss !== undefined).map((e) => e.step);
  assert.deepEqual(fewSteps, [3, 6, 9, 12]);
  const shown = JSON.parse((await mesh.cli(["runs", "show", id, "--json"])).stdout);
  assert.equal(shown.status, "done");
});

test("kill -9 of the worker mid-run: a new worker resumes and every step lands exactly once", async () => {
  const started = JSON.parse((await mesh.cli(trainArgs(["--epochs", "4", "--save-steps", "4", "--json"]))).stdout);
  const id = started.id;
  await eventually("a few steps", 120_000, async () => ((await steps(id)).length >= 6 ? true : undefined));
  const worker = mesh.parts.worker!;
  worker.child.kill("SIGKILL");
  await worker.exited;
  // The core runs in its own process group: the orphan must go too, as a real crash would take it.
  for (const pid of processesMatching(id)) process.kill(pid, "SIGKILL");
  await mesh.start("worker");
  const run = await eventually("run done after resume", 180_000, async () => {
    const row = await runRow(id);
    return row.status === "done" || row.status === "failed" ? row : undefined;
  });
  assert.equal(run.status, "done", run.error);
  assert.ok(Number(run.attempts) >= 2, "it ran a second attempt");
  assert.deepEqual(await steps(id), Array.from({ length: 48 }, (_, i) => i + 1));
});

test("cancel stops the core and the run ends cancelled", async () => {
  const started = JSON.parse((await mesh.cli(trainArgs(["--epochs", "50", "--json"]))).stdout);
  const id = started.id;
  await eventually("running with steps", 60_000, async () => ((await steps(id)).length >= 2 ? true : undefined));
  const res = await mesh.cli(["runs", "cancel", id]);
  assert.equal(res.code, 0, res.stderr);
  const run = await eventually("cancelled", 30_000, async () => ((await runRow(id)).status === "cancelled" ? runRow(id) : undefined));
  assert.equal(run.status, "cancelled");
  assert.deepEqual(processesMatching(id), [], "no core process left");
});

test("bad runs fail fast with a readable reason", async () => {
  const noGpu = await mesh.cli(trainArgs(["--gpus", "4"]));
  assert.equal(noGpu.code, 1);
  assert.match(noGpu.stderr, /spec.gpus: asks for 4 GPUs but the live workers have at most 0/);
  const badLr = await mesh.cli(trainArgs(["--lr", "-1"]));
  assert.equal(badLr.code, 2);
  const missing = JSON.parse((await mesh.cli(["train", "--dataset", datasetId, "--model", "/nonexistent/model", "--json"])).stdout);
  const run = await eventually("failed", 60_000, async () => ((await runRow(missing.id)).status === "failed" ? runRow(missing.id) : undefined));
  assert.match(run.error, /model/i);
  assert.equal(Number(run.attempts), 1, "bad input is never retried");
});
