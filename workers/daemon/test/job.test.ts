import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeJson } from "@uniformity/lib";
import { parseJobMessage } from "../src/job";

describe("parseJobMessage", () => {
  const sha = "a".repeat(64);
  it("accepts a job and defaults spec and inputs", () => {
    assert.deepEqual(parseJobMessage(encodeJson({ id: "run-1", kind: "train" })), { ok: true, job: { id: "run-1", kind: "train", spec: {}, inputs: {} } });
    const job = { id: "s_2", kind: "select", spec: { size: 3 }, inputs: { dataset: { sha256: sha, format: "alpaca" } } };
    assert.deepEqual(parseJobMessage(encodeJson(job)), { ok: true, job });
  });
  it("refuses ids that would escape a subject token or a directory", () => {
    for (const id of ["a.b", "../x", "", "a b", 7]) assert.equal(parseJobMessage(encodeJson({ id, kind: "select" })).ok, false);
  });
  it("keeps id and kind of a bad job so its failure can be reported", () => {
    assert.deepEqual(parseJobMessage(encodeJson({ id: "e1", kind: "eval", inputs: { model: { sha256: "xyz" } } })), {
      ok: false,
      error: "input model needs a hex sha256",
      id: "e1",
      kind: "eval",
    });
    assert.deepEqual(parseJobMessage(encodeJson({ id: "e1", kind: "bake" })), { ok: false, error: "job kind must be one of select, train, eval, selftest", id: "e1" });
    assert.deepEqual(parseJobMessage(new TextEncoder().encode("{")), { ok: false, error: "job message is not JSON" });
  });
});
