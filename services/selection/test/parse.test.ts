import assert from "node:assert/strict";
import { test } from "node:test";
import { DatasetError, parseDataset } from "../src/parse";

const bytes = (text: string) => new TextEncoder().encode(text);
const fails = (text: string | Uint8Array, message: RegExp, format: "auto" | "alpaca" | "sharegpt" = "auto") =>
  assert.throws(
    () => parseDataset(typeof text === "string" ? bytes(text) : text, format),
    (err: unknown) => err instanceof DatasetError && message.test(err.message),
  );

test("alpaca JSON array and JSONL are detected and counted", () => {
  const array = JSON.stringify([{ instruction: "a", input: "", output: "b" }, { instruction: "c", output: "d" }]);
  assert.deepEqual(parseDataset(bytes(array), "auto"), { format: "alpaca", recordCount: 2, container: "json" });
  const lines = '{"instruction":"a","input":"x","output":"b"}\n\n{"instruction":"c","input":null,"output":"d"}\n';
  assert.deepEqual(parseDataset(bytes(lines), "auto"), { format: "alpaca", recordCount: 2, container: "jsonl" });
});

test("sharegpt records are detected and every turn checked", () => {
  const text = JSON.stringify([{ conversations: [{ from: "human", value: "hi" }, { from: "gpt", value: "hello" }] }]);
  assert.equal(parseDataset(bytes(text), "auto").format, "sharegpt");
  fails(JSON.stringify([{ conversations: [{ from: "human" }] }]), /^record 0: field "conversations\[0\]\.value" is missing$/);
  fails(JSON.stringify([{ conversations: [] }]), /^record 0: field "conversations" is empty$/);
});

test("errors name the line or record and the field", () => {
  fails('{"instruction":"a","output":"b"}\n{"instruction":"a","output":3}\n', /^line 2: field "output" must be a string, got a number$/);
  fails('{"instruction":"a","output":"b"}\n{"instruction":"a"}\n', /^line 2: field "output" is missing$/);
  fails(JSON.stringify([{ instruction: "a", output: "b" }, { instruction: ["x"], output: "b" }]), /^record 1: field "instruction" must be a string, got an array$/);
  fails('{"instruction":"a","output":"b"}\n{"instruction": oops}\n', /^line 2: not valid JSON/);
  fails('[{"instruction":"a",\n"output":"b"},\n{oops}]', /^line 3: not valid JSON/);
});

test("empty, non-JSON, zero records, unknown shape and bad UTF-8 are refused", () => {
  fails("   \n", /^file: is empty: no records$/);
  fails("[]", /^file: holds zero records$/);
  fails("hello", /^line 1: not JSON/);
  fails(JSON.stringify([{ prompt: "a" }]), /^record 0: cannot detect the format/);
  fails(JSON.stringify([{ instruction: "a", output: "b" }]), /^record 0: field "conversations" is missing$/, "sharegpt");
  const bad = new Uint8Array([...bytes('{"instruction":"a","output":"b"}\n{"instruction":"'), 0xff, ...bytes('","output":"b"}\n')]);
  fails(bad, /^line 2: is not valid UTF-8/);
});

test("a UTF-8 byte order mark is accepted", () => {
  const text = "\ufeff" + JSON.stringify([{ instruction: "é", output: "ü" }]);
  assert.equal(parseDataset(bytes(text), "alpaca").recordCount, 1);
});
