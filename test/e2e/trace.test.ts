// One trace, CLI -> TrainingService -> NATS -> worker, captured in memory:
// every component runs in this process so one exporter sees all spans, but
// the context still crosses real gRPC metadata and real NATS headers.
import assert from "node:assert/strict";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { initTelemetry, startProcess, SpanKind, type Telemetry } from "@uniformity/lib";
import { app as trainingApp } from "@uniformity/training";
import { startDaemon, type Daemon } from "@uniformity/daemon";
import { run } from "@uniformity/cli";
import { freePort, ROOT, scratch, type Scratch } from "../src/harness";

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let space: Scratch;
let stopTraining: (graceMs: number) => Promise<void>;
let daemon: Daemon;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  telemetry = await initTelemetry({ serviceName: "e2e", spanExporter: exporter, metricsPort: -1 });
  space = await scratch();
  Object.assign(process.env, {
    DATABASE_URL: space.databaseUrl,
    UNIFORMITY_NATS_NAMESPACE: space.namespace,
    UNIFORMITY_TRAINING_ADDR: `127.0.0.1:${await freePort()}`,
    UNIFORMITY_DATA_DIR: space.dataDir,
    UNIFORMITY_PYTHON: process.env.UNIFORMITY_PYTHON ?? path.join(ROOT, ".venv/bin/python"),
    UNIFORMITY_CORE_DIR: path.join(ROOT, "workers/core"),
    UNIFORMITY_LOG_LEVEL: "warn",
  });
  const deps = await startProcess(trainingApp);
  const running = await trainingApp.start(deps);
  stopTraining = running.stop;
  daemon = await startDaemon({ config: deps.config, log: deps.log, bus: deps.bus }, { gpus: [], pullExpiresMs: 500 });
  closers.push(() => deps.bus.close(), () => deps.database.close());
});

after(async () => {
  await daemon?.stop(2000);
  await stopTraining?.(1000);
  for (const close of closers) await close().catch(() => undefined);
  await space?.drop();
  await telemetry?.shutdown();
});

test("a self-test request is one trace from the CLI through the service and NATS to the worker", async () => {
  const out = new PassThrough();
  const err = new PassThrough();
  let stderr = "";
  err.on("data", (d) => (stderr += d));
  out.resume();
  const code = await run(["workers", "selftest", "--json"], { stdout: out, stderr: err }, process.env);
  assert.equal(code, 0, stderr);

  // The worker's job span ends a moment after the last event reaches the CLI.
  let spans: ReadableSpan[] = [];
  const deadline = Date.now() + 5000;
  const byName = (name: string) => spans.find((s) => s.name === name);
  while (Date.now() < deadline) {
    spans = exporter.getFinishedSpans();
    if (byName("job selftest")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const cli = byName("cli workers selftest");
  const client = spans.find((s) => s.name === "uniformity.v1.TrainingService/RunSelftest" && s.kind === SpanKind.CLIENT);
  const server = spans.find((s) => s.name === "uniformity.v1.TrainingService/RunSelftest" && s.kind === SpanKind.SERVER);
  const publish = spans.find((s) => s.kind === SpanKind.PRODUCER && s.attributes["messaging.destination.name"] === `${space.namespace}.jobs.selftest`);
  const job = byName("job selftest");
  for (const [what, span] of Object.entries({ cli, client, server, publish, job })) assert.ok(span, `${what} span missing; have: ${spans.map((s) => s.name).join(", ")}`);

  const traceId = cli!.spanContext().traceId;
  for (const span of [client, server, publish, job]) assert.equal(span!.spanContext().traceId, traceId, `${span!.name} is in another trace`);
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
  assert.equal(parentOf(cli!), undefined, "the CLI span is the root");
  assert.equal(parentOf(client!), cli!.spanContext().spanId);
  assert.equal(parentOf(server!), client!.spanContext().spanId, "context crossed gRPC metadata");
  assert.equal(parentOf(publish!), server!.spanContext().spanId);
  assert.equal(parentOf(job!), publish!.spanContext().spanId, "context crossed NATS headers");
  assert.equal(job!.kind, SpanKind.CONSUMER);
});
