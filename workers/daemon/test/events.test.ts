import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventQueue, type OutgoingEvent } from "../src/events";

const event = (n: number): OutgoingEvent => ({ subject: "s", payload: { n }, msgId: String(n) });

describe("EventQueue", () => {
  it("publishes in push order with a bounded number in flight", async () => {
    const started: number[] = [];
    let inFlight = 0;
    let most = 0;
    const queue = new EventQueue(
      async (e) => {
        started.push(e.payload.n as number);
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
      },
      (err) => assert.fail(err),
      4,
    );
    // A slow preparation (a result uploading files) must not let later lines overtake it.
    queue.push(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return event(0);
    });
    for (let n = 1; n < 20; n++) queue.push(() => event(n));
    queue.push(() => null);
    await queue.flush();
    assert.deepEqual(started, Array.from({ length: 20 }, (_, n) => n));
    assert.ok(most <= 4, `at most 4 in flight, saw ${most}`);
  });

  it("reports a failed publish and carries on", async () => {
    const errors: string[] = [];
    const sent: number[] = [];
    const queue = new EventQueue(
      async (e) => {
        if (e.payload.n === 1) throw new Error("no responders");
        sent.push(e.payload.n as number);
      },
      (err, e) => errors.push(`${e?.msgId}: ${err.message}`),
    );
    for (let n = 0; n < 3; n++) queue.push(() => event(n));
    await queue.flush();
    assert.deepEqual(sent, [0, 2]);
    assert.deepEqual(errors, ["1: no responders"]);
  });
});
