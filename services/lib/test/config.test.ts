import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../src/config";

test("defaults point at the local Postgres and NATS", () => {
  const config = loadConfig({});
  assert.equal(config.databaseUrl, "postgres://postgres@127.0.0.1:5432/uniformity");
  assert.equal(config.natsUrl, "nats://127.0.0.1:4222");
  assert.equal(config.selectionAddr, "127.0.0.1:50051");
  assert.equal(config.trainingAddr, "127.0.0.1:50052");
  assert.equal(config.evaluationAddr, "127.0.0.1:50053");
  assert.equal(config.token, undefined);
  assert.equal(config.natsNamespace, "");
});

test("a bad value names the variable and the problem in one line", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ DATABASE_URL: "mysql://x" }, /^config: DATABASE_URL must use postgres or postgresql:\/\//],
    [{ NATS_URL: "not a url" }, /^config: NATS_URL is not a URL/],
    [{ UNIFORMITY_SELECTION_ADDR: "localhost" }, /^config: UNIFORMITY_SELECTION_ADDR must be host:port/],
    [{ UNIFORMITY_WORKER_SLOTS: "0" }, /^config: UNIFORMITY_WORKER_SLOTS must be between 1 and 64, got 0/],
    [{ UNIFORMITY_MIGRATE: "maybe" }, /^config: UNIFORMITY_MIGRATE must be true or false/],
    [{ UNIFORMITY_LOG_LEVEL: "loud" }, /^config: UNIFORMITY_LOG_LEVEL must be one of debug, info, warn, error/],
    [{ UNIFORMITY_NATS_NAMESPACE: "a.b" }, /^config: UNIFORMITY_NATS_NAMESPACE may hold only/],
  ];
  for (const [env, expected] of cases) {
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && expected.test((err as Error).message) && !(err as Error).message.includes("\n"));
  }
});

test("values are parsed and trimmed", () => {
  const config = loadConfig({ UNIFORMITY_TOKEN: " s3cret ", UNIFORMITY_WORKER_SLOTS: "4", UNIFORMITY_MIGRATE: "yes", UNIFORMITY_TRAINING_ADDR: "[::1]:6000" });
  assert.equal(config.token, "s3cret");
  assert.equal(config.workerSlots, 4);
  assert.equal(config.migrateOnStart, true);
  assert.equal(config.trainingAddr, "[::1]:6000");
});
