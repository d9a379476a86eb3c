// Selection through the running mesh: the CLI asks, the worker's PyTorch
// core chooses, the recorder stores, and the results come back out.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { familyRecords, npyBytes, startMesh, type Mesh } from "../src/harness";

let mesh: Mesh;
let datasetId: string;
let file: string;
let records: ReturnType<typeof familyRecords>;

before(async () => {
  mesh = await startMesh({ parts: ["selection", "worker"] });
  records = familyRecords([160, 80, 40, 20, 10, 10], 5);
  file = path.join(mesh.scratch.dataDir, "families.json");
  fs.writeFileSync(file, JSON.stringify(records, null, 1));
  const res = await mesh.cli(["dataset", "import", file, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  datasetId = JSON.parse(res.stdout).dataset.id;
});

after(async () => {
  await mesh?.stop();
});

async function select(args: string[]) {
  const res = await mesh.cli(["select", datasetId, ...args, "--json"]);
  assert.equal(res.code, 0, res.stderr + mesh.parts.worker!.output.join("").slice(-3000));
  return JSON.parse(res.stdout);
}

test("uniform half: done, recorded, more uniform than random, with its picture and export", async () => {
  const selection = await select(["--strategy", "uniform", "--ratio", "0.5", "--seed", "3"]);
  assert.equal(selection.status, "done");
  assert.equal(selection.size, 160);
  const m = selection.metrics;
  assert.equal(m.selection.size, 160);
  assert.equal(m.full.size, 320);
  assert.ok(m.selection.hMinCosine > m.random.hMinCosine, `uniform h_min ${m.selection.hMinCosine} vs random ${m.random.hMinCosine}`);
  assert.ok(m.selection.coverageRadius <= m.random.coverageRadius);

  const png = path.join(mesh.scratch.dataDir, "pca.png");
  const shown = await mesh.cli(["selection", "show", selection.id, "--plot", png]);
  assert.equal(shown.code, 0, shown.stderr);
  const bytes = fs.readFileSync(png);
  assert.equal(bytes.subarray(0, 8).toString("hex"), "89504e470d0a1a0a");
  assert.ok(bytes.length > 10_000);

  const out = path.join(mesh.scratch.dataDir, "subset.json");
  const exported = await mesh.cli(["selection", "export", selection.id, "-o", out]);
  assert.equal(exported.code, 0, exported.stderr);
  const subset = JSON.parse(fs.readFileSync(out, "utf8")) as typeof records;
  assert.equal(subset.length, 160);
  // Original order, and every record is one of the dataset's, byte for byte.
  const original = fs.readFileSync(file, "utf8");
  const positions = subset.map((r) => original.indexOf(JSON.stringify(r, null, 1).replace(/\n/g, "\n ")));
  assert.ok(positions.every((p) => p > 0), "records keep their original bytes");
  assert.deepEqual([...positions].sort((a, b) => a - b), positions);

  const ordered = path.join(mesh.scratch.dataDir, "picked.json");
  assert.equal((await mesh.cli(["selection", "export", selection.id, "-o", ordered, "--order", "selection"])).code, 0);
  const picked = JSON.parse(fs.readFileSync(ordered, "utf8")) as typeof records;
  assert.equal(picked.length, 160);
  assert.deepEqual(new Set(picked.map((r) => JSON.stringify(r))), new Set(subset.map((r) => JSON.stringify(r))));
  assert.notDeepEqual(picked, subset, "pick order differs from file order");

  // The first picks reach every family, however small: nothing is left uncovered.
  const family = (r: { instruction: string }) => Number(/^Task (\d+)/.exec(r.instruction)![1]);
  assert.deepEqual([...new Set(subset.map(family))].sort(), [0, 1, 2, 3, 4, 5]);
  const listed = JSON.parse((await mesh.cli(["selection", "list", "--dataset", datasetId, "--json"])).stdout);
  assert.ok(listed.some((s: { id: string }) => s.id === selection.id));
});

test("baselines and embedders run; the same seed gives the same subset", async () => {
  const a = await select(["--strategy", "random", "--size", "50", "--seed", "9"]);
  const b = await select(["--strategy", "random", "--size", "50", "--seed", "9"]);
  const exportOf = async (id: string) => {
    const out = path.join(mesh.scratch.dataDir, `${id}.json`);
    assert.equal((await mesh.cli(["selection", "export", id, "-o", out])).code, 0);
    return fs.readFileSync(out, "utf8");
  };
  assert.equal(await exportOf(a.id), await exportOf(b.id));
  const first = await select(["--strategy", "first", "--size", "5"]);
  assert.deepEqual(JSON.parse(await exportOf(first.id)), records.slice(0, 5));
  for (const strategy of ["half-random-min-distance", "min-distance"]) {
    const s = await select(["--strategy", strategy, "--size", "40", "--embedder", "tfidf", "--dim", "16"]);
    assert.equal(s.status, "done");
    // The low-uniformity baselines crowd records together: typical nearest-neighbour distances shrink.
    assert.ok(s.metrics.selection.nnP50 < s.metrics.random.nnP50, `${strategy}: nn p50 ${s.metrics.selection.nnP50} vs random ${s.metrics.random.nnP50}`);
  }
});

test("precomputed embeddings are uploaded, checked and used", async () => {
  const rows = records.map((_, i) => [Math.cos(i), Math.sin(i), (i % 7) / 7]);
  const good = path.join(mesh.scratch.dataDir, "emb.npy");
  fs.writeFileSync(good, npyBytes(rows));
  const s = await select(["--strategy", "uniform", "--size", "20", "--embedder", `precomputed:${good}`]);
  assert.equal(s.status, "done");
  const short = path.join(mesh.scratch.dataDir, "short.npy");
  fs.writeFileSync(short, npyBytes(rows.slice(0, 10)));
  const res = await mesh.cli(["select", datasetId, "--strategy", "uniform", "--size", "20", "--embedder", `precomputed:${short}`]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /matrix has 10 rows but the dataset has 320 records/);
});

test("bad requests are refused with the field named, and record nothing", async () => {
  const before = JSON.parse((await mesh.cli(["selection", "list", "--json"])).stdout).length;
  const tooBig = await mesh.cli(["select", datasetId, "--strategy", "uniform", "--size", "320"]);
  assert.equal(tooBig.code, 1);
  assert.match(tooBig.stderr, /size: must be between 1 and 319/);
  const missing = await mesh.cli(["select", "00000000-0000-4000-8000-000000000000", "--strategy", "uniform", "--size", "3"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found/);
  const zero = await mesh.cli(["select", datasetId, "--strategy", "uniform", "--size", "0"]);
  assert.equal(zero.code, 2);
  const unknown = await mesh.cli(["select", datasetId, "--strategy", "best", "--size", "3"]);
  assert.equal(unknown.code, 2);
  assert.equal(JSON.parse((await mesh.cli(["selection", "list", "--json"])).stdout).length, before);
});

test("all-identical records: h_min is 0, reported, not a crash", async () => {
  const same = path.join(mesh.scratch.dataDir, "same.json");
  fs.writeFileSync(same, JSON.stringify(Array.from({ length: 12 }, () => ({ instruction: "same", input: "", output: "same" }))));
  const id = JSON.parse((await mesh.cli(["dataset", "import", same, "--json"])).stdout).dataset.id;
  const res = await mesh.cli(["select", id, "--strategy", "uniform", "--size", "4", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const s = JSON.parse(res.stdout);
  assert.equal(s.metrics.selection.hMinCosine, 0);
  assert.equal(s.metrics.selection.duplicates, 3);
});
