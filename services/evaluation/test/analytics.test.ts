import assert from "node:assert/strict";
import { test } from "node:test";
import { lossArea, movingAverage, summarise, suggestThresholds, timeToThreshold } from "../src/analytics";

test("3-step trailing moving average, null until the window is full", () => {
  assert.deepEqual(movingAverage([3, 6, 9, 3, 0]), [null, null, 6, 6, 4]);
  assert.deepEqual(movingAverage([1, 2]), [null, null]);
  assert.deepEqual(movingAverage([5, 7], 1), [5, 7]);
  assert.throws(() => movingAverage([1], 0));
});

test("time to threshold is the first smoothed value at or below it", () => {
  // losses 4, 3, 2, 1.5, 1 -> smoothed -, -, 3, 2.1667, 1.5
  const steps = [1, 2, 3, 4, 5];
  const elapsed = [60, 120, 180, 240, 300];
  const smoothed = movingAverage([4, 3, 2, 1.5, 1]);
  assert.deepEqual(timeToThreshold(steps, elapsed, smoothed, 3), { threshold: 3, reached: true, step: 3, minutes: 3 });
  assert.deepEqual(timeToThreshold(steps, elapsed, smoothed, 2), { threshold: 2, reached: true, step: 5, minutes: 5 });
  assert.deepEqual(timeToThreshold(steps, elapsed, smoothed, 1.4), { threshold: 1.4, reached: false, step: 0, minutes: 0 });
  // A single raw dip below the threshold does not count: the smoothed value must reach it.
  assert.equal(timeToThreshold([1, 2, 3, 4], [1, 2, 3, 4], movingAverage([5, 5, 0.5, 5]), 1).reached, false);
});

test("loss area by the trapezoid rule", () => {
  assert.equal(lossArea([1, 2, 4], [4, 2, 2]), 3 + 4);
  assert.equal(lossArea([1], [9]), 0);
});

test("a summary of an unordered trace", () => {
  const points = [
    { step: 2, loss: 3, elapsedS: 20, tokens: 100 },
    { step: 1, loss: 4, elapsedS: 10, tokens: 100 },
    { step: 3, loss: 2, elapsedS: 30, tokens: 50 },
  ];
  const s = summarise(points, [3, 1]);
  assert.deepEqual(s.smoothed, [null, null, 3]);
  assert.equal(s.finalLoss, 2);
  assert.equal(s.minLoss, 2);
  assert.equal(s.area, 3.5 + 2.5);
  assert.equal(s.tokens, 250);
  assert.deepEqual(s.thresholds[0], { threshold: 3, reached: true, step: 3, minutes: 0.5 });
  assert.equal(s.thresholds[1]!.reached, false);
});

test("suggested thresholds split the reference's smoothed drop evenly", () => {
  const ref = [10, 10, 10, 6, 6, 6, 2, 2, 2].map((loss, i) => ({ step: i + 1, loss, elapsedS: i, tokens: 1 }));
  // smoothed: 10 ... 2 ; thresholds at 3/4, 1/2, 1/4 of the way: 8, 6, 4
  assert.deepEqual(suggestThresholds(ref, 3), [8, 6, 4]);
  assert.deepEqual(suggestThresholds(ref.slice(0, 2)), []);
});
