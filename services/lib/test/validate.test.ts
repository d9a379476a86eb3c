import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { ApiError, toServiceError } from "../src/grpc/errors";
import { wireNames } from "../src/bus";
import { isFinalStatus, jobStatusName, jobStatusToPb, nextPageToken, readPage, requireId, requireNumber } from "../src/validate";

const invalid = (field: string) => (err: unknown) => err instanceof ApiError && err.code === status.INVALID_ARGUMENT && err.message.startsWith(`${field}: `);

test("ids must be UUIDs; the error names the field", () => {
  assert.equal(requireId("id", "A7B9B2C3-DC55-4A23-AB28-350E05663ECF"), "a7b9b2c3-dc55-4a23-ab28-350e05663ecf");
  assert.throws(() => requireId("dataset_id", ""), invalid("dataset_id"));
  assert.throws(() => requireId("dataset_id", "42"), invalid("dataset_id"));
});

test("numbers are range-checked", () => {
  assert.equal(requireNumber("lr", 2e-5, { exclusiveMin: 0 }), 2e-5);
  assert.throws(() => requireNumber("lr", 0, { exclusiveMin: 0 }), invalid("lr"));
  assert.throws(() => requireNumber("steps", 1.5, { integer: true }), invalid("steps"));
  assert.throws(() => requireNumber("steps", 101, { max: 100 }), invalid("steps"));
  assert.throws(() => requireNumber("x", Number.NaN, {}), invalid("x"));
});

test("page tokens round-trip and reject forgeries", () => {
  const first = readPage({ pageSize: 2, pageToken: "" });
  assert.deepEqual(first, { limit: 2, offset: 0 });
  const token = nextPageToken(first, 2);
  assert.deepEqual(readPage({ pageSize: 2, pageToken: token }), { limit: 2, offset: 2 });
  assert.equal(nextPageToken(first, 1), "", "a short page is the last one");
  assert.deepEqual(readPage(undefined), { limit: 50, offset: 0 });
  assert.throws(() => readPage({ pageSize: 1001, pageToken: "" }), invalid("page.page_size"));
  assert.throws(() => readPage({ pageSize: 1, pageToken: "bogus" }), invalid("page.page_token"));
});

test("job statuses map both ways", () => {
  for (const name of ["queued", "running", "done", "failed", "cancelled"] as const) assert.equal(jobStatusName(jobStatusToPb(name)), name);
  assert.equal(isFinalStatus("running"), false);
  assert.equal(isFinalStatus("cancelled"), true);
});

test("errors map to status codes; unknown errors hide their text", () => {
  assert.equal(toServiceError(new ApiError(status.NOT_FOUND, "run x not found")).code, status.NOT_FOUND);
  const internal = toServiceError(new Error("secret detail"));
  assert.equal(internal.code, status.INTERNAL);
  assert.equal(internal.details.includes("secret"), false);
  assert.equal(toServiceError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })).code, status.UNAVAILABLE);
});

test("wire names follow DESIGN, and a namespace prefixes all of them", () => {
  const plain = wireNames();
  assert.equal(plain.jobsStream, "JOBS");
  assert.equal(plain.eventsStream, "EVENTS");
  assert.equal(plain.workersBucket, "workers");
  assert.equal(plain.datasetsBucket, "datasets");
  assert.equal(plain.jobs("train"), "jobs.train");
  assert.equal(plain.events("run", "abc", "step"), "events.run.abc.step");
  assert.equal(plain.control("run", "abc"), "control.run.abc");
  assert.equal(plain.allEvents, "events.>");
  const scoped = wireNames("t1");
  assert.equal(scoped.jobsStream, "t1_JOBS");
  assert.equal(scoped.jobs(">"), "t1.jobs.>");
  assert.equal(scoped.allEvents, "t1.events.>");
});
