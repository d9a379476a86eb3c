// The demo's pure parts: the generated data, the reading of a comparison,
// the report, and cutting the comparison picture into its panels.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { Resvg } from "@resvg/resvg-js";
import { pb } from "@uniformity/lib";
import { an, datasetJson, familySizes, makeDataset } from "../src/demo/dataset";
import { comparisonPanels, pngSize, splitPanels } from "../src/demo/figures";
import { comparisonMarkdown, markdownTable, reportMarkdown, type ReportInput } from "../src/demo/report";
import { chooseThresholds, familyCounts, roundUp, scoreOutcomes, smallFamilyCoverage, smooth, thresholdOutcomes, verdict, type Row } from "../src/demo/study";
import { makeTasks, writeTasks } from "../src/demo/tasks";

test("family sizes shrink geometrically down to a floor", () => {
  assert.deepEqual(familySizes({ families: 6, largest: 100, ratio: 0.5, smallest: 5 }), [100, 50, 25, 13, 6, 5]);
});

test("the dataset is deterministic for a seed and different for another", () => {
  const a = makeDataset({ families: 8, largest: 40, ratio: 0.7, smallest: 2, seed: 3 });
  const b = makeDataset({ families: 8, largest: 40, ratio: 0.7, smallest: 2, seed: 3 });
  const c = makeDataset({ families: 8, largest: 40, ratio: 0.7, smallest: 2, seed: 4 });
  assert.equal(datasetJson(a.records), datasetJson(b.records));
  assert.notEqual(datasetJson(a.records), datasetJson(c.records));
  assert.equal(a.records.length, familySizes(a.options).reduce((x, y) => x + y, 0));
  assert.deepEqual(familyCounts(a.familyOf, 8), familySizes(a.options));
  for (const r of a.records) {
    assert.ok(r.instruction.length > 0 && r.output.length > 0);
    assert.equal(typeof r.input, "string");
  }
  // The file is a JSON array of Alpaca records.
  assert.deepEqual(JSON.parse(datasetJson(a.records)), a.records);
});

test("each family has words of its own, and its records use them", () => {
  const d = makeDataset({ families: 12, largest: 30, ratio: 0.8, smallest: 3, seed: 1 });
  const owner = new Map<string, number>();
  for (const f of d.families) for (const w of [...f.terms, ...f.glosses]) {
    assert.equal(owner.has(w), false, `${w} belongs to two families`);
    owner.set(w, f.index);
  }
  d.records.forEach((r, i) => {
    const f = d.families[d.familyOf[i]!]!;
    assert.ok(r.instruction.includes(f.domain), r.instruction);
    assert.ok(f.terms.some((t) => `${r.instruction} ${r.input} ${r.output}`.includes(t)));
  });
  // Taught terms really are explained: term and meaning in one record.
  d.taught.forEach((terms, fi) => {
    const f = d.families[fi]!;
    for (const t of terms) {
      assert.ok(d.records.some((r, i) => d.familyOf[i] === fi && `${r.instruction} ${r.input} ${r.output}`.includes(f.terms[t]!) && r.output.includes(f.glosses[t]!)));
    }
  });
  assert.equal(an("orienteering"), "an");
  assert.equal(an("baking"), "a");
});

test("tasks ask about every family alike, in the publishers' formats", async () => {
  const d = makeDataset({ families: 10, largest: 40, ratio: 0.7, smallest: 3, seed: 2 });
  const tasks = makeTasks(d.families, { perFamily: 2, trainPerFamily: 1, seed: 2 }, d.taught);
  assert.equal(tasks.arc.test.length, 20);
  assert.equal(tasks.arc.train.length, 10);
  assert.equal(tasks.truthfulqa.length, 20);
  for (const q of tasks.arc.test) {
    assert.deepEqual(q.question.choices.map((c) => c.label), ["A", "B", "C", "D"]);
    assert.equal(new Set(q.question.choices.map((c) => c.text)).size, 4);
    const family = d.families.find((f) => q.question.stem.includes(`In ${f.domain},`))!;
    const term = family.terms.findIndex((t) => q.question.stem.includes(`"${t}"`));
    const gold = q.question.choices.find((c) => c.label === q.answerKey)!;
    assert.equal(gold.text, `"${family.terms[term]}" means ${family.glosses[term]}.`);
  }
  for (const q of tasks.truthfulqa) {
    assert.equal(Object.values(q.mc1_targets).filter((v) => v === 1).length, 1);
    assert.ok(Object.values(q.mc2_targets).filter((v) => v === 1).length >= 1);
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "demo-tasks-"));
  try {
    await writeTasks(dir, tasks);
    const test = await fs.readFile(path.join(dir, "ARC-V1-Feb2018", "ARC-Challenge", "ARC-Challenge-Test.jsonl"), "utf8");
    assert.deepEqual(JSON.parse(test.split("\n")[0]!), tasks.arc.test[0]);
    assert.equal(JSON.parse(await fs.readFile(path.join(dir, "mc_task.json"), "utf8")).length, 20);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("smoothing and thresholds from the full run's curve", () => {
  assert.deepEqual(smooth([3, 6, 9, 3, 0]), [null, null, 6, 6, 4]);
  assert.equal(roundUp(2.0412, 3), 2.05);
  assert.equal(roundUp(0.12341, 3), 0.124);
  assert.equal(roundUp(2.05, 3), 2.05);
  // Smoothed: 9, 8, 7, 6, 5, 4, 3, 2, 1 (window 3 over a straight descent).
  const losses = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
  assert.deepEqual(chooseThresholds(losses), [7, 5, 2]);
  assert.deepEqual(chooseThresholds([5, 5]), []);
  // A flat curve gives no threshold below its start.
  assert.deepEqual(chooseThresholds([4, 4, 4, 4, 4, 4]), []);
});

const hit = (threshold: number, step: number, minutes: number): pb.ThresholdHit => ({ threshold, reached: step > 0, step, minutes });
const score = (task: string, metric: string, value: number, stderr: number, shots = 0): pb.Score => ({ task, shots, metric, value, stderr, n: 64 });

function handMade(): Row[] {
  const row = (runId: string, strategy: string, records: number, hits: pb.ThresholdHit[], finalLoss: number, scores: pb.Score[]): pb.RunComparison =>
    pb.RunComparison.fromPartial({ runId, name: `demo-${strategy}`, strategy, records, steps: records / 10, thresholds: hits, finalLoss, minLoss: finalLoss - 0.1, tokens: records * 8, scores });
  return [
    { variant: "full", row: row("f0000000-1", "full", 400, [hit(3, 40, 1.0), hit(2, 120, 3.0)], 1.5, [score("arc_challenge", "acc", 0.3, 0.05, 5)]) },
    { variant: "uniform", row: row("u0000000-2", "uniform", 200, [hit(3, 30, 0.5), hit(2, 0, 0)], 1.9, [score("arc_challenge", "acc", 0.5, 0.05, 5)]) },
    { variant: "random", row: row("r0000000-3", "random", 200, [hit(3, 35, 0.6), hit(2, 0, 0)], 1.8, [score("arc_challenge", "acc", 0.35, 0.05, 5)]) },
  ];
}

test("who reached each threshold first, and who scored best", () => {
  const rows = handMade();
  const outcomes = thresholdOutcomes(rows, [3, 2]);
  assert.deepEqual(outcomes[0]!.order.map((o) => o.variant), ["uniform", "random", "full"]);
  assert.deepEqual(outcomes[0]!.byMinutes, ["uniform", "random", "full"]);
  assert.deepEqual(outcomes[1]!.order.map((o) => o.variant), ["full"]);
  assert.deepEqual(outcomes[1]!.missed, ["uniform", "random"]);
  const scores = scoreOutcomes(rows);
  assert.equal(scores[0]!.best, "uniform");
  // 0.5 vs 0.35: 0.15 > hypot(0.05, 0.05) ≈ 0.071, and vs 0.3 too.
  assert.equal(scores[0]!.clear, true);
});

test("the verdict says plainly whether uniform won", () => {
  const won = verdict(handMade(), [3, 2]);
  assert.deepEqual(won.uniformFasterThanRandom, { won: 1, of: 1 });
  assert.deepEqual(won.uniformScoresAtLeastRandom, { won: 1, of: 1 });
  assert.match(won.headline, /^Uniform won here/);
  assert.ok(won.sentences.includes("Uniform reached loss ≤ 3 in the fewest steps, step 30 (30 s), then random at step 35 (36 s) and full at step 40 (1.0 min)."), won.sentences.join("\n"));
  assert.ok(won.sentences.includes("Full reached loss ≤ 2 in the fewest steps, step 120 (3.0 min). Uniform and random never got there."));

  const lost = handMade();
  lost[1]!.row.thresholds = [hit(3, 50, 0.9), hit(2, 0, 0)];
  lost[1]!.row.scores = [score("arc_challenge", "acc", 0.32, 0.05, 5)];
  const v = verdict(lost, [3, 2]);
  assert.match(v.headline, /^Uniform did not win here: faster than random \(in steps\) to 0 of 1 loss thresholds, at least as good as random on 0 of 1 scores\.$/);
  // Fewer steps but a busier machine: both orders are said.
  assert.ok(v.sentences.includes("Random reached loss ≤ 3 in the fewest steps, step 35 (36 s), then full at step 40 (1.0 min) and uniform at step 50 (54 s). By wall clock the order was random, uniform and full."), v.sentences.join("\n"));
  assert.ok(v.sentences.some((s) => s.includes("the differences are within the standard errors")));
});

test("the report embeds the pictures and states the outcome", () => {
  const rows = handMade();
  const input: ReportInput = {
    date: "2026-01-01T00:00:00Z",
    setup: [["model", "tiny"]],
    familySizes: [8, 4, 2, 1],
    familyNames: ["baking", "chess", "diving", "fencing"],
    selections: [
      { variant: "uniform", id: "u", size: 8, metrics: pb.SelectionMetrics.fromPartial({ selection: { hMinCosine: 0.2 }, full: { hMinCosine: 0 }, random: { hMinCosine: 0.01 } }), familyCounts: [3, 2, 2, 1] },
      { variant: "random", id: "r", size: 8, metrics: undefined, familyCounts: [5, 2, 1, 0] },
    ],
    rows,
    thresholds: [3, 2],
    images: { pca: "pca.png", comparison: "comparison.png", panels: [{ title: "Training loss", file: "comparison-loss.png" }] },
    stages: [{ stage: "train full", seconds: 75, reused: false }],
    reproduce: ["make demo"],
  };
  const md = reportMarkdown(input);
  assert.match(md, /\*\*Uniform won here/);
  assert.match(md, /!\[PCA[^\]]*\]\(pca\.png\)/);
  assert.match(md, /!\[[^\]]*\]\(comparison\.png\)/);
  assert.match(md, /\[Training loss\]\(comparison-loss\.png\)/);
  // Smallest half = fencing (1) and diving (2): uniform kept both whole, random neither.
  assert.match(md, /The uniform half kept 2 of the 2 smallest families whole and 100% of their records\./);
  assert.match(md, /The random half kept 0 of the 2 smallest families whole and 33% of their records\./);
  assert.match(md, /\| train full \| 1 min 15 s \|/);
  assert.match(comparisonMarkdown(rows, [3, 2]), /\| loss ≤ 2 \| step 120 \(3\.00 min\) \| not reached \| not reached \|/);
  assert.equal(markdownTable(["a", "b"], [["x|y", "1"]], ["l", "r"]), "| a | b |\n|---|---:|\n| x\\|y | 1 |\n");
});

test("small-family coverage counts whole families and the share of their records", () => {
  assert.deepEqual(smallFamilyCoverage([10, 3, 1], [5, 3, 0], 2), { whole: 1, share: 0.75 });
});

test("the comparison picture is cut into equal panels", () => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="90"><rect width="40" height="30" fill="red"/><rect y="30" width="40" height="30" fill="lime"/><rect y="60" width="40" height="30" fill="blue"/></svg>`;
  const png = new Resvg(svg).render().asPng();
  assert.deepEqual(pngSize(png), { width: 40, height: 90 });
  const panels = comparisonPanels(2, 4);
  assert.deepEqual(panels.map((p) => p.name), ["loss", "time_to_threshold", "scores"]);
  const cut = splitPanels(png, panels);
  assert.equal(cut.length, 3);
  const middle = new Resvg(`<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><image width="40" height="30" href="data:image/png;base64,${cut[1]!.png.toString("base64")}"/></svg>`).render();
  assert.deepEqual([...middle.pixels.subarray(0, 4)], [0, 255, 0, 255]);
  assert.deepEqual(pngSize(cut[2]!.png), { width: 40, height: 30 });
  // No thresholds, no scores: one panel, nothing to cut; uneven heights are refused.
  assert.deepEqual(comparisonPanels(0, 0).map((p) => p.name), ["loss"]);
  const uneven = new Resvg(svg.replace('height="90"', 'height="91"')).render().asPng();
  assert.deepEqual(splitPanels(uneven, comparisonPanels(1, 1)), []);
  assert.deepEqual(splitPanels(png, comparisonPanels(0, 0)), []);
  assert.throws(() => pngSize(Buffer.from("not a png at all, really not")), /not a PNG/);
});
