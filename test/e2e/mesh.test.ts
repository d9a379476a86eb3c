// The whole mesh as a user meets it: CLI -> gRPC services -> Postgres, NATS
// and a worker running the Python core.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { connect } from "nats";
import { wireNames } from "@uniformity/lib";
import { alpacaRecords, natsUrl, sha256, startMesh, type Mesh } from "../src/harness";

let mesh: Mesh;

before(async () => {
  mesh = await startMesh({ env: { UNIFORMITY_HEARTBEAT_TTL_MS: "3000" } });
});

after(async () => {
  await mesh?.stop();
});

function writeFile(name: string, content: string): string {
  const file = path.join(mesh.scratch.dataDir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function objectCount(): Promise<number> {
  const nc = await connect({ servers: natsUrl() });
  try {
    const store = await nc.jetstream().views.os(wireNames(mesh.scratch.namespace).datasetsBucket);
    return (await store.list()).length;
  } finally {
    await nc.close();
  }
}

test("import prints an id; show gives the right count and sha256; re-import returns the same dataset", async () => {
  const content = JSON.stringify(alpacaRecords(2000));
  const file = writeFile("sample.json", content);
  const first = await mesh.cli(["dataset", "import", file]);
  assert.equal(first.code, 0, first.stderr);
  const id = first.stdout.trim().split("\n")[0]!.trim();
  assert.match(id, /^[0-9a-f-]{36}$/);

  const shown = await mesh.cli(["dataset", "show", id, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  const dataset = JSON.parse(shown.stdout);
  assert.equal(dataset.recordCount, 2000);
  assert.equal(dataset.sha256, sha256(content));
  assert.equal(dataset.format, "alpaca");
  assert.equal(dataset.name, "sample");

  const again = await mesh.cli(["dataset", "import", file, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  const result = JSON.parse(again.stdout);
  assert.equal(result.dataset.id, id);
  assert.equal(result.existing, true);

  const listed = JSON.parse((await mesh.cli(["dataset", "list", "--json"])).stdout);
  assert.equal(listed.length, 1);
});

test("sharegpt JSONL is detected", async () => {
  const lines = [0, 1, 2].map((i) => JSON.stringify({ conversations: [{ from: "human", value: `q${i}` }, { from: "gpt", value: `a${i}` }] })).join("\n");
  const res = await mesh.cli(["dataset", "import", writeFile("chat.jsonl", lines), "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.equal(out.dataset.format, "sharegpt");
  assert.equal(out.dataset.recordCount, 3);
});

test("a malformed file exits non-zero naming line and field, and stores nothing", async () => {
  const before = JSON.parse((await mesh.cli(["dataset", "list", "--json"])).stdout).length;
  const objectsBefore = await objectCount();
  const bad = ['{"instruction":"a","input":"","output":"b"}', '{"instruction":"a","input":"","output":"b"}', '{"instruction":"a","input":7,"output":"b"}'].join("\n");
  const res = await mesh.cli(["dataset", "import", writeFile("bad.jsonl", bad)]);
  assert.notEqual(res.code, 0);
  const errorLines = res.stderr.trim().split("\n").filter((l) => l.startsWith("uniformity:"));
  assert.equal(errorLines.length, 1, `one error line, got: ${res.stderr}`);
  assert.match(res.stderr, /line 3: field "input" must be a string/);
  const afterCount = JSON.parse((await mesh.cli(["dataset", "list", "--json"])).stdout).length;
  assert.equal(afterCount, before);
  assert.equal(await objectCount(), objectsBefore);

  for (const [name, content, expected] of [
    ["empty.json", "[]", /zero records/],
    ["notjson.txt", "hello there", /not JSON/],
    ["unknown.json", '[{"prompt":"x"}]', /cannot detect the format/],
  ] as const) {
    const r = await mesh.cli(["dataset", "import", writeFile(name, content)]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, expected);
  }
});

test("unknown ids are NOT_FOUND, malformed ids INVALID_ARGUMENT", async () => {
  const missing = await mesh.cli(["dataset", "show", "00000000-0000-4000-8000-000000000000"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /dataset 00000000-0000-4000-8000-000000000000 not found/);
  const malformed = await mesh.cli(["runs", "show", "nope"]);
  assert.equal(malformed.code, 1);
  assert.match(malformed.stderr, /id: must be a UUID/);
});

test("workers list shows the daemon; a self-test job runs the Python core through NATS", async () => {
  const listed = await mesh.cli(["workers", "list", "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  const workers = JSON.parse(listed.stdout);
  assert.equal(workers.length, 1);
  assert.equal(workers[0].slots, 1);

  const res = await mesh.cli(["workers", "selftest", "--steps", "3", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.match(out.jobId, /^[0-9a-f-]{36}$/);
  assert.equal(out.worker, workers[0].id);
  assert.equal(out.result.kind, "selftest");
  assert.match(out.result.torch, /^2\./);

  // Without --json the progress of the three steps is shown.
  const plain = await mesh.cli(["workers", "selftest", "--steps", "3"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr + plain.stdout, /3\/3/);
});

test("cancelling an unknown run is NOT_FOUND", async () => {
  const res = await mesh.cli(["runs", "cancel", "00000000-0000-4000-8000-000000000000"]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /run 00000000-0000-4000-8000-000000000000 not found/);
});

test("every process serves Prometheus metrics: RPC counts and latencies, job counts, queue depth", async () => {
  const portOf = (part: "selection" | "training" | "worker") => {
    const line = mesh.parts[part]!.output.join("").split("\n").find((l) => l.includes('"msg":"started"'));
    return JSON.parse(line!).metrics_port as number;
  };
  const selection = await (await fetch(`http://127.0.0.1:${portOf("selection")}/metrics`)).text();
  assert.match(selection, /uniformity_rpc_requests_total\{[^}]*method="ImportDataset"[^}]*\} [1-9]/);
  assert.match(selection, /uniformity_rpc_duration_seconds_bucket\{[^}]*method="ImportDataset"/);
  assert.match(selection, /uniformity_rpc_requests_total\{[^}]*code="INVALID_ARGUMENT"/);
  const training = await (await fetch(`http://127.0.0.1:${portOf("training")}/metrics`)).text();
  assert.match(training, /uniformity_rpc_requests_total\{[^}]*method="RunSelftest"/);
  const worker = await (await fetch(`http://127.0.0.1:${portOf("worker")}/metrics`)).text();
  assert.match(worker, /uniformity_jobs_total\{[^}]*kind="selftest"[^}]*\} [1-9]/);
  assert.match(worker, /uniformity_worker_busy_slots\{/);
  assert.match(worker, /uniformity_jobs_pending\{/);
});

test("a dead worker drops out of workers list after the heartbeat TTL", async () => {
  const worker = mesh.parts.worker!;
  worker.child.kill("SIGKILL");
  await worker.exited;
  const deadline = Date.now() + 15_000;
  let workers: unknown[] = [1];
  while (Date.now() < deadline && workers.length > 0) {
    await new Promise((r) => setTimeout(r, 500));
    workers = JSON.parse((await mesh.cli(["workers", "list", "--json"])).stdout);
  }
  assert.equal(workers.length, 0);
  delete mesh.parts.worker;
});
