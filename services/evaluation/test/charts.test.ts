import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { barChart, comparisonPanels, comparisonPng, downsample, formatTick, grid, lineChart, linearScale, logTicks, niceTicks, timeUnit, type ComparisonPictureInput } from "../src/charts";
import { hatch } from "../src/charts/bars";
import { escapeXml, truncate, wrapLabel } from "../src/charts/svg";

const count = (s: string, needle: string) => s.split(needle).length - 1;

test("nice ticks are 1, 2 or 5 times a power of ten and cover the data", () => {
  assert.deepEqual(niceTicks(0, 9.3).values, [0, 2, 4, 6, 8, 10]); // step 9.3/5 = 1.86 → 2
  assert.deepEqual(niceTicks(0, 1).values, [0, 0.2, 0.4, 0.6, 0.8, 1]); // no 0.6000000000000001
  assert.deepEqual(niceTicks(0.83, 2.41).values, [0.5, 1, 1.5, 2, 2.5]); // 0.316 → 0.5
  assert.deepEqual(niceTicks(0, 123456).values, [0, 50000, 100000, 150000]); // 24691 → 5e4
  assert.deepEqual(niceTicks(2, 2).values, [1.8, 1.9, 2, 2.1, 2.2]); // flat: ±10%, step 0.08 → 0.1
  assert.deepEqual(niceTicks(0, 0).values, [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(niceTicks(NaN, Infinity).values, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const t = niceTicks(9.3, 0);
  assert.deepEqual([t.min, t.max], [0, 10]);
});

test("log ticks use 1, 2, 5 within a few decades", () => {
  assert.deepEqual(logTicks(0.8, 2.5).values, [0.5, 1, 2, 5]);
  assert.deepEqual(logTicks(0.001, 100).values, [0.001, 0.01, 0.1, 1, 10, 100]);
});

test("linear scale maps domain onto range, flipped for y, zero width to the middle", () => {
  assert.equal(linearScale([0, 10], [100, 200])(2.5), 125);
  assert.equal(linearScale([0, 10], [300, 100])(10), 100);
  assert.equal(linearScale([0, 10], [300, 100])(0), 300);
  assert.equal(linearScale([5, 5], [0, 100])(5), 50);
});

test("tick labels are short", () => {
  assert.equal(formatTick(0.1 + 0.2), "0.3");
  assert.equal(formatTick(25000), "25k");
  assert.equal(formatTick(1500000), "1.5M");
  assert.equal(formatTick(1200), "1200");
});

test("names are escaped, truncated and wrapped", () => {
  assert.equal(escapeXml(`a<b>&"c'\u0001`), "a&lt;b&gt;&amp;&quot;c&apos;");
  assert.equal(truncate("abcdef", 4), "abc…");
  assert.equal(truncate("abcd", 4), "abcd");
  assert.deepEqual(wrapLabel("arc_challenge acc_norm", 14), ["arc_challenge", "acc_norm"]);
  assert.deepEqual(wrapLabel("a b c d", 3, 2), ["a b", "c d"]);
  assert.deepEqual(wrapLabel("one two three", 5, 2), ["one", "two…"]);
});

test("downsampling keeps about 2000 points and the spikes", () => {
  const points = Array.from({ length: 100_000 }, (_, i) => ({ x: i, y: i === 54_321 ? 99 : 1 }));
  const out = downsample(points);
  assert.ok(out.length <= 2000 && out.length >= 1000, String(out.length));
  assert.ok(out.some((p) => p.y === 99));
  assert.deepEqual(downsample(points.slice(0, 5)), points.slice(0, 5));
});

test("hatching stays inside its rectangle", () => {
  const nums = hatch(10, 20, 12, 24).match(/-?[\d.]+/g)!.map(Number);
  for (let i = 0; i < nums.length; i += 2) {
    assert.ok(nums[i]! >= 10 && nums[i]! <= 22, `x ${nums[i]}`);
    assert.ok(nums[i + 1]! >= 20 && nums[i + 1]! <= 44, `y ${nums[i + 1]}`);
  }
});

test("line chart: one polyline per curve, legend, dashed thresholds, escaped names", () => {
  const pts = (k: number) => Array.from({ length: 50 }, (_, i) => ({ x: i * 10, y: 2 / (1 + i * k) }));
  const svg = lineChart({
    title: "Loss",
    xLabel: "step",
    yLabel: "loss",
    series: [
      { name: "uniform", points: pts(0.1), raw: pts(0.12) },
      { name: `<evil & "run">`, points: [...pts(0.05), { x: 600, y: NaN }], raw: pts(0.06) },
      { name: "a run name far too long to fit in the legend box", points: [{ x: 5, y: 1 }] },
      { name: "empty", points: [] },
    ],
    hLines: [{ y: 1, label: "loss 1" }, { y: 0.5 }],
  });
  assert.equal(count(svg, 'class="smoothed"'), 2);
  assert.equal(count(svg, 'class="raw"'), 2);
  assert.equal(count(svg, "<circle"), 1); // the one-point series
  assert.equal(count(svg, 'class="threshold"'), 2);
  assert.equal(count(svg, 'stroke-dasharray="6 4"'), 2);
  assert.equal(count(svg, 'class="legend"'), 4);
  assert.ok(svg.includes(">uniform</text>"));
  assert.ok(svg.includes("&lt;evil &amp; &quot;run&quot;&gt;"));
  assert.ok(!svg.includes("<evil"));
  assert.ok(svg.includes("a run name far too lo…"));
  assert.ok(!svg.includes("NaN"));
});

test("line chart survives flat, empty and huge inputs", () => {
  const flat = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "f", points: [{ x: 0, y: 3 }, { x: 1, y: 3 }] }] });
  assert.ok(!flat.includes("NaN") && !flat.includes("Infinity"));
  const empty = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [] });
  assert.ok(!empty.includes("NaN") && empty.startsWith("<svg"));
  const big = Array.from({ length: 200_000 }, (_, i) => ({ x: i, y: Math.exp(-i / 5e4) }));
  const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "b", points: big }], logY: true });
  assert.ok(svg.length < 100_000, String(svg.length));
});

test("bar chart: one rect per bar, hatched not-reached bars, error bars", () => {
  const svg = barChart({
    title: "Scores",
    yLabel: "score",
    groups: ["arc_challenge acc_norm", "hellaswag acc_norm", "truthfulqa_mc mc2", "mmlu acc"],
    series: [
      { name: "uniform", values: [0.5, 0.6, 0.4, 0.3], errors: [0.01, 0.02, 0.01, null] },
      { name: "random", values: [0.45, null, 0.42, 0.31], labels: [null, "n/r", null, null] },
    ],
    yMax: 1,
  });
  assert.equal(count(svg, '<rect class="bar'), 8);
  assert.equal(count(svg, 'class="bar missing"'), 1);
  assert.ok(svg.includes(">n/r</text>"));
  assert.equal(count(svg, 'class="error"'), 3);
  assert.ok(svg.includes(">arc_challenge</text>") && svg.includes(">acc_norm</text>")); // too wide for a quarter of the plot: wrapped
  assert.ok(svg.includes(">1</text>") && !svg.includes(">1.2</text>")); // axis stops at yMax
});

test("grid nests panels at their offsets", () => {
  const panel = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [] });
  const svg = grid([panel, panel, panel], 2, "All");
  assert.match(svg, /^<svg [^>]*width="1440" height="876"/);
  assert.ok(svg.includes('<svg x="720" y="36"') && svg.includes('<svg x="0" y="456"'));
});

// A small study: three runs, loss ~ a + b/(1+step/c) with deterministic noise.
function study(seed: number): ComparisonPictureInput {
  let s = seed;
  const noise = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.25;
  const run = (name: string, floor: number, speed: number) => {
    const steps = Array.from({ length: 120 }, (_, i) => i + 1);
    const losses = steps.map((k) => floor + 1.6 / (1 + k / speed) + noise());
    const smoothed = losses.map((_, i) => (i < 2 ? null : (losses[i]! + losses[i - 1]! + losses[i - 2]!) / 3));
    return { name, steps, losses, smoothed };
  };
  return {
    runs: [run("uniform subset (10%)", 0.85, 12), run("random subset (10%)", 1.05, 10), run("full dataset (52k examples)", 0.8, 15)],
    thresholds: [1.6, 1.3, 1.1],
    minutesToThreshold: [[3.5, 9, 21], [3, 11, null], [12, 30, 64]],
    stepsToThreshold: [[8, 21, 49], [7, 25, null], [9, 23, 50]],
    scores: [
      { group: "arc_challenge acc_norm", perRun: [{ value: 0.46, stderr: 0.015 }, { value: 0.44, stderr: 0.015 }, { value: 0.47, stderr: 0.015 }] },
      { group: "hellaswag acc_norm", perRun: [{ value: 0.76, stderr: 0.004 }, { value: 0.75, stderr: 0.004 }, { value: 0.77, stderr: 0.004 }] },
      { group: "mmlu acc", perRun: [{ value: 0.36, stderr: 0.004 }, null, { value: 0.38, stderr: 0.004 }] },
      { group: "truthfulqa_mc mc2", perRun: [{ value: 0.41, stderr: 0.014 }, { value: 0.39, stderr: 0.014 }, { value: 0.4, stderr: 0.014 }] },
    ],
  };
}

test("comparison panels are omitted when there is nothing to show", () => {
  const full = study(1);
  assert.deepEqual(comparisonPanels(full).map((p) => p.name), ["loss", "time_to_threshold", "scores"]);
  assert.deepEqual(comparisonPanels({ ...full, thresholds: [], scores: [] }).map((p) => p.name), ["loss"]);
  const [, ttt] = comparisonPanels(full);
  assert.equal(count(ttt!.svg, ">n/r</text>"), 1);
});

test("time to threshold is in minutes only when every reached threshold has a time", () => {
  const full = study(1);
  assert.equal(timeUnit(full), "minutes");
  assert.equal(timeUnit({ ...full, minutesToThreshold: [[3.5, 9, 21], [null, null, null], [12, 30, 64]] }), "steps");
});

test("comparison PNG is a real, readable picture", () => {
  const a = comparisonPng(study(1));
  assert.equal(a.png.subarray(0, 8).toString("latin1"), "\x89PNG\r\n\x1a\n");
  assert.equal(a.png.subarray(12, 16).toString("latin1"), "IHDR");
  assert.deepEqual([a.png.readUInt32BE(16), a.png.readUInt32BE(20)], [720, 3 * 420]);
  assert.ok(a.png.length > 5_000, String(a.png.length));
  assert.deepEqual(a.panels.map((p) => [p.name, p.png.readUInt32BE(16), p.png.readUInt32BE(20)]), [
    ["loss", 720, 420],
    ["time_to_threshold", 720, 420],
    ["scores", 720, 420],
  ]);
  const b = comparisonPng(study(2));
  assert.notDeepEqual(a.png, b.png);
  writeFileSync("/tmp/compare-example.png", a.png); // to look at, outside the repo
});
