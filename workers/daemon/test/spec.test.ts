import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { coreCommand, localSpec } from "../src/spec";

describe("localSpec", () => {
  it("adds input paths and the output dir without touching the job's spec", () => {
    const spec = { strategy: "uniform", size: 10, embedder: { kind: "precomputed", dim: 0 }, dataset: { name: "alpaca" } };
    const local = localSpec(
      spec,
      { dataset: { path: "/d/cache/aa", format: "alpaca" }, precomputed: { path: "/d/cache/bb" } },
      "/d/jobs/j1/out",
    );
    assert.deepEqual(local, {
      strategy: "uniform",
      size: 10,
      embedder: { kind: "precomputed", dim: 0, path: "/d/cache/bb" },
      dataset: { name: "alpaca", path: "/d/cache/aa", format: "alpaca" },
      output_dir: "/d/jobs/j1/out",
    });
    assert.deepEqual(spec.dataset, { name: "alpaca" });
  });
  it("creates the role's object when the spec has none", () => {
    assert.deepEqual(localSpec({}, { precomputed: { path: "/p" }, subset: { path: "/s" } }, "/o"), {
      embedder: { path: "/p" },
      subset: { path: "/s" },
      output_dir: "/o",
    });
  });
});

describe("coreCommand", () => {
  it("runs one process for every job but multi-GPU training", () => {
    assert.deepEqual(coreCommand("/v/python", "select", "/j/spec.json", 0), ["/v/python", "-m", "uniformity_core", "select", "--spec", "/j/spec.json"]);
    assert.deepEqual(coreCommand("/v/python", "train", "/j/spec.json", 1), ["/v/python", "-m", "uniformity_core", "train", "--spec", "/j/spec.json"]);
    assert.deepEqual(coreCommand("/v/python", "eval", "/j/spec.json", 4), ["/v/python", "-m", "uniformity_core", "eval", "--spec", "/j/spec.json"]);
  });

  it("uses torchrun with one process per GPU for training on several GPUs", () => {
    assert.deepEqual(coreCommand("/v/python", "train", "/j/spec.json", 2), [
      "/v/python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "uniformity_core", "train", "--spec", "/j/spec.json",
    ]);
  });
});
