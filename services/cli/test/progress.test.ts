// The progress bar: what a terminal sees, what a log file sees, and silence under --json.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProgressBar, renderProgress } from "../src/progress";
import { sink } from "./helpers";

test("render: bar, percent, amounts and detail", () => {
  assert.equal(renderProgress({ phase: "embed", done: 500, total: 1000 }), "embed  [############............]   50%  500/1,000");
  assert.equal(
    renderProgress({ phase: "upload", done: 1024 * 1024, total: 4 * 1024 * 1024 }, "bytes"),
    "upload  [######..................]   25%  1.0 MiB/4.0 MiB",
  );
  assert.equal(renderProgress({ phase: "train", done: 7, total: 0, detail: "loss 1.2000" }), "train  7  loss 1.2000");
  assert.equal(renderProgress({ phase: "queued", done: 0, total: 0 }), "queued");
  assert.equal(renderProgress({ phase: "x", done: 20, total: 10 }), "x  [########################]  100%  20/10");
});

test("terminal: one line redrawn with \\r, a new line per phase, throttled between", () => {
  const stream = sink(true, 60);
  let now = 0;
  const bar = new ProgressBar(stream, { enabled: true, tty: true, columns: 60, now: () => now });
  bar.update({ phase: "embed", done: 0, total: 100 });
  now = 10;
  bar.update({ phase: "embed", done: 1, total: 100 }); // too soon: skipped
  now = 200;
  bar.update({ phase: "embed", done: 50, total: 100 });
  bar.update({ phase: "select", done: 0, total: 10 });
  bar.end();
  const text = stream.text();
  assert.equal((text.match(/\r/g) ?? []).length, 3);
  assert.ok(!text.includes(" 1/100"));
  assert.ok(text.includes("\rembed  [############............]   50%  50/100\x1b[K\n\rselect"));
  assert.ok(text.endsWith("\n"));
  for (const line of text.split(/[\r\n]/)) assert.ok(line.replace("\x1b[K", "").length < 60);
});

test("log file: plain lines only at phase changes and each further tenth", () => {
  const stream = sink(false);
  const bar = new ProgressBar(stream, { enabled: true, tty: false });
  for (let done = 0; done <= 1000; done += 7) bar.update({ phase: "embed", done, total: 1000 });
  bar.update({ phase: "embed", done: 1000, total: 1000 });
  bar.update({ phase: "select", done: 0, total: 0 });
  bar.update({ phase: "select", done: 5, total: 0 });
  bar.end();
  const lines = stream.text().trimEnd().split("\n");
  assert.equal(lines.length, 12); // 0%..100% of embed, one line for select
  assert.ok(lines.every((line) => !line.includes("\r")));
  assert.match(lines[10]!, /^embed .* 100%/);
  assert.equal(lines[11], "select");
});

test("disabled (--json): nothing at all", () => {
  const stream = sink(true);
  const bar = new ProgressBar(stream, { enabled: false, tty: true });
  bar.update({ phase: "embed", done: 1, total: 2 });
  bar.end();
  assert.equal(stream.text(), "");
});
