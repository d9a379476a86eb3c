import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffMs, eventMsgId, failureMessage, outcomeOf, parseLine, type OutcomeContext } from "../src/lines";

describe("parseLine", () => {
  it("reads a protocol line as an event", () => {
    assert.deepEqual(parseLine('{"type":"progress","phase":"embed","done":3,"total":10}\n'), {
      kind: "event",
      line: { type: "progress", phase: "embed", done: 3, total: 10 },
    });
  });
  it("keeps anything else as text", () => {
    assert.deepEqual(parseLine("loading model"), { kind: "text", text: "loading model" });
    assert.deepEqual(parseLine("{not json"), { kind: "text", text: "{not json" });
    assert.deepEqual(parseLine('{"phase":"embed"}'), { kind: "text", text: '{"phase":"embed"}' });
    // Only the daemon speaks `status`.
    assert.deepEqual(parseLine('{"type":"status","status":"done"}'), { kind: "text", text: '{"type":"status","status":"done"}' });
    assert.deepEqual(parseLine("[1,2]"), { kind: "text", text: "[1,2]" });
  });
});

describe("eventMsgId", () => {
  it("dedupes steps across attempts and the rest per attempt", () => {
    assert.equal(eventMsgId("r1", 2, { type: "step", step: 40, loss: 1.2 }, 7), "r1:step:40");
    assert.equal(eventMsgId("r1", 2, { type: "progress" }, 7), "r1:2:progress:7");
    assert.equal(eventMsgId("r1", 3, { type: "result" }, 0), "r1:3:result:0");
  });
});

describe("backoffMs", () => {
  it("doubles from 2 s and stops at 60 s", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(backoffMs), [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert.equal(backoffMs(0), 2_000);
  });
});

describe("outcomeOf", () => {
  const first: OutcomeContext = { deliveryCount: 1, maxDeliver: 5, cancelRequested: false, shuttingDown: false };
  const exit = (code: number | null, signal: string | null = null) => ({ code, signal });

  it("acks a finished job", () => assert.deepEqual(outcomeOf(exit(0), first), { status: "done", settle: "ack" }));
  it("reads bad input and cancel from the core's error line when torchrun reports exit 1", () => {
    assert.deepEqual(outcomeOf(exit(1), { ...first, errorCode: "invalid_argument" }), { status: "failed", settle: "term" });
    assert.deepEqual(outcomeOf(exit(1), { ...first, errorCode: "cancelled" }), { status: "cancelled", settle: "ack" });
    assert.equal(outcomeOf(exit(1), { ...first, errorCode: "internal" }).retry, true);
  });
  it("terms bad input, never retried", () => assert.deepEqual(outcomeOf(exit(2), first), { status: "failed", settle: "term" }));
  it("acks a cancel by exit 3", () => assert.deepEqual(outcomeOf(exit(3), first), { status: "cancelled", settle: "ack" }));
  it("acks a cancel the user asked for, however the core ended", () => {
    assert.deepEqual(outcomeOf(exit(null, "SIGKILL"), { ...first, cancelRequested: true }), { status: "cancelled", settle: "ack" });
  });
  it("naks a crash with backoff while deliveries remain", () => {
    assert.deepEqual(outcomeOf(exit(1), first), { status: "queued", settle: "nak", delayMs: 2_000, retry: true });
    assert.deepEqual(outcomeOf(exit(null, "SIGSEGV"), { ...first, deliveryCount: 4 }), { status: "queued", settle: "nak", delayMs: 16_000, retry: true });
  });
  it("terms a crash on the last delivery", () => {
    assert.deepEqual(outcomeOf(exit(1), { ...first, deliveryCount: 5 }), { status: "failed", settle: "term" });
  });
  it("hands the job back at once on shutdown, unless it finished or was refused", () => {
    const stopping = { ...first, shuttingDown: true, deliveryCount: 5 };
    assert.deepEqual(outcomeOf(exit(3), stopping), { status: "queued", settle: "nak", delayMs: 0, requeued: true });
    assert.deepEqual(outcomeOf(exit(null, "SIGKILL"), stopping), { status: "queued", settle: "nak", delayMs: 0, requeued: true });
    assert.deepEqual(outcomeOf(exit(0), stopping), { status: "done", settle: "ack" });
    assert.deepEqual(outcomeOf(exit(2), stopping), { status: "failed", settle: "term" });
  });
});

describe("failureMessage", () => {
  it("prefers the core's error line, then the last stderr line", () => {
    assert.equal(failureMessage(exit(2), "size: must be positive", ["warning"]), "size: must be positive");
    assert.equal(failureMessage(exit(2), undefined, ["a", "ValueError: bad"]), "ValueError: bad");
    assert.equal(failureMessage(exit(2), undefined, []), "bad input");
    assert.equal(failureMessage(exit(1), undefined, ["CUDA out of memory"]), "core exited with code 1: CUDA out of memory");
    assert.equal(failureMessage(exit(null, "SIGKILL"), undefined, []), "core killed by SIGKILL");
  });
  function exit(code: number | null, signal: string | null = null) {
    return { code, signal };
  }
});
