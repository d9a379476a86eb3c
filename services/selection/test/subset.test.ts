import assert from "node:assert/strict";
import { test } from "node:test";
import { buildSubset, recordSpans } from "../src/subset";
import { readNpyHeader } from "../src/npy";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test("array elements are cut out byte for byte, strings with brackets and escapes included", () => {
  const text = '[\n  {"instruction": "a [x], {y}", "output": "q\\"]"},\n  {"instruction":"b","output":"c"} ,{"instruction":"\\\\","output":""}\n]';
  const bytes = enc(text);
  const spans = recordSpans(bytes).map(([s, e]) => dec(bytes.subarray(s, e)));
  assert.deepEqual(spans, ['{"instruction": "a [x], {y}", "output": "q\\"]"}', '{"instruction":"b","output":"c"}', '{"instruction":"\\\\","output":""}']);
  const subset = dec(buildSubset(bytes, [2, 0]));
  assert.equal(subset, '[\n{"instruction":"\\\\","output":""},\n{"instruction": "a [x], {y}", "output": "q\\"]"}\n]\n');
  assert.deepEqual(JSON.parse(subset), [JSON.parse(text)[2], JSON.parse(text)[0]]);
});

test("JSON lines keep their bytes, blank and CRLF lines handled", () => {
  const bytes = enc('{"a":1}\r\n\n  \n{"a":"é"}\n{"a":3}');
  assert.equal(recordSpans(bytes).length, 3);
  assert.equal(dec(buildSubset(bytes, [1, 2])), '{"a":"é"}\n{"a":3}\n');
  assert.throws(() => buildSubset(bytes, [3]), /record 3 is outside/);
});

test("npy headers give dtype and shape", () => {
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
  const padded = header.padEnd(117, " ") + "\n";
  const bytes = new Uint8Array(10 + padded.length + 24);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(bytes.buffer).setUint16(8, padded.length, true);
  bytes.set(enc(padded), 10);
  assert.deepEqual(readNpyHeader(bytes), { dtype: "<f4", shape: [3, 2], fortranOrder: false, dataOffset: 128 });
  assert.throws(() => readNpyHeader(enc("not numpy at all")), /bad magic/);
});
