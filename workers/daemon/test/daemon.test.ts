// The daemon in-process against the real NATS, with a fake core that speaks
// the job protocol and ends however the spec tells it to.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectBus,
  createLogger,
  decodeJson,
  encodeJson,
  getObject,
  initTelemetry,
  loadConfig,
  putObject,
  type Bus,
  type JobEvent,
  type LogLevel,
  type Telemetry,
} from "@uniformity/lib";
import { headers as natsHeaders } from "nats";
import { startDaemon, type Daemon } from "../src/daemon";
import type { WorkerRecord } from "../src/heartbeat";

const FAKE_CORE = String.raw`
import hashlib, json, os, signal, sys, time

def emit(**fields):
    print(json.dumps(fields), flush=True)

kind = sys.argv[1]
spec = json.load(open(sys.argv[sys.argv.index("--spec") + 1]))
out = spec["output_dir"]
mode = spec.get("mode", "ok")
print("fake core up", file=sys.stderr, flush=True)
print("a plain stdout line", flush=True)
emit(type="progress", phase="start", done=0, total=2, pid=os.getpid())

if mode == "bad":
    emit(type="error", code="invalid_argument", message="size: must be positive")
    sys.exit(2)
if mode == "cancel_self":
    sys.exit(3)
if mode == "crash_once":
    marker = os.path.join(out, "crashed-once")
    if not os.path.exists(marker):
        open(marker, "w").close()
        print("boom: segfault in kernel", file=sys.stderr, flush=True)
        os._exit(1)
if mode == "sleep":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    emit(type="progress", phase="sleeping", done=1, total=2, pid=os.getpid())
    while True:
        time.sleep(0.05)

data = open(spec["dataset"]["path"], "rb").read()
emit(type="step", step=1, epoch=0, loss=0.5, lr=0.001, tokens=10, elapsed_s=0.1)
subset = os.path.join(out, "subset.json")
with open(subset, "w") as f:
    json.dump({"indices": [0], "from": hashlib.sha256(data).hexdigest()}, f)
emit(type="progress", phase="start", done=2, total=2)
emit(type="result", kind=kind, dataset_sha256=hashlib.sha256(data).hexdigest(),
     dataset_format=spec["dataset"]["format"], cwd=os.getcwd(),
     traceparent=os.environ.get("TRACEPARENT"), files={"subset": "out/subset.json"})
`;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("worker daemon", { timeout: 60_000 }, () => {
  const ns = `t${randomBytes(5).toString("hex")}`;
  let tmp: string;
  let bus: Bus;
  let daemon: Daemon;
  let telemetry: Telemetry;
  let dataDir: string;
  const events: { subject: string; event: JobEvent }[] = [];

  const waitFor = async <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; events: ${JSON.stringify(events.map((e) => e.event))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const eventsOf = (id: string) => events.filter((e) => e.event.id === id).map((e) => e.event);
  const statusOf = (id: string, status: string, attempt?: number) =>
    waitFor(`${id} ${status}`, () => eventsOf(id).find((e) => e.type === "status" && e.status === status && (attempt === undefined || e.attempt === attempt)));
  const jobsOutstanding = async () => {
    const info = await bus.jsm.consumers.info(bus.names.jobsStream, bus.names.workerConsumer);
    return info.num_pending + info.num_ack_pending;
  };
  const outstandingIs = (n: number) => waitFor(`${n} jobs outstanding`, async () => ((await jobsOutstanding()) === n ? true : undefined));
  const submit = async (id: string, spec: Record<string, unknown>, inputs: Record<string, unknown> = {}, traceparent?: string) => {
    const headers = natsHeaders();
    if (traceparent) headers.set("traceparent", traceparent);
    await bus.js.publish(bus.names.jobs("selftest"), encodeJson({ id, kind: "selftest", spec, inputs }), { msgID: id, headers });
  };
  const gone = (pid: number) => {
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "ESRCH";
    }
  };

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "uniformity-daemon-"));
    const coreDir = path.join(tmp, "core");
    await fs.mkdir(path.join(coreDir, "uniformity_core"), { recursive: true });
    await fs.writeFile(path.join(coreDir, "uniformity_core", "__init__.py"), "");
    await fs.writeFile(path.join(coreDir, "uniformity_core", "__main__.py"), FAKE_CORE);
    const config = loadConfig({
      NATS_URL: process.env.NATS_URL,
      UNIFORMITY_NATS_NAMESPACE: ns,
      UNIFORMITY_DATA_DIR: path.join(tmp, "data"),
      UNIFORMITY_CORE_DIR: coreDir,
      UNIFORMITY_PYTHON: "python3",
      UNIFORMITY_WORKER_SLOTS: "2",
      UNIFORMITY_HEARTBEAT_TTL_MS: "3000",
    });
    const log = createLogger("worker", (process.env.UNIFORMITY_LOG_LEVEL as LogLevel | undefined) ?? "error", {}, (line) => process.stderr.write(line + "\n"));
    // A real propagator and tracer, so the job span's traceparent reaches the core.
    telemetry = await initTelemetry({ serviceName: "daemon-test", metricsPort: -1 });
    bus = await connectBus({ url: config.natsUrl, name: "daemon-test", namespace: ns, retries: 0, heartbeatTtlMs: config.heartbeatTtlMs, log });
    const sub = bus.nc.subscribe(bus.names.allEvents);
    void (async () => {
      for await (const m of sub) events.push({ subject: m.subject, event: decodeJson<JobEvent>(m.data) });
    })();
    daemon = await startDaemon({ config, log, bus }, { pullExpiresMs: 1_000, gpus: [{ index: 0, name: "Fake GPU", memory_mib: 1024 }] });
    dataDir = config.dataDir;
  });

  after(async () => {
    await daemon?.stop(2_000);
    if (bus) {
      for (const stream of [bus.names.jobsStream, bus.names.eventsStream, `KV_${bus.names.workersBucket}`, `OBJ_${bus.names.datasetsBucket}`]) {
        await bus.jsm.streams.delete(stream).catch(() => undefined);
      }
      await bus.close();
    }
    await telemetry?.shutdown();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it("runs a job to done: events in order, result file stored, message acked", async () => {
    const dataset = new TextEncoder().encode(JSON.stringify([{ instruction: "Say hi", input: "", output: "hi" }]));
    const datasetSha = sha256(dataset);
    await putObject(bus.datasetsStore, datasetSha, dataset);
    const traceId = randomBytes(16).toString("hex");
    await submit("done1", { mode: "ok" }, { dataset: { sha256: datasetSha, format: "alpaca" } }, `00-${traceId}-${randomBytes(8).toString("hex")}-01`);

    await statusOf("done1", "done");
    const seen = eventsOf("done1");
    const order = seen.map((e) => (e.type === "status" ? `status:${e.status}` : e.type));
    assert.deepEqual(order, ["status:running", "progress", "step", "progress", "result", "status:done"]);
    assert.ok(seen.every((e) => e.attempt === 1 && e.worker === daemon.workerId));
    const stepSubject = events.find((e) => e.event.id === "done1" && e.event.type === "step")!.subject;
    assert.equal(stepSubject, `${ns}.events.selftest.done1.step`);

    const result = seen.find((e) => e.type === "result")!;
    assert.equal(result.dataset_sha256, datasetSha, "the core read the fetched dataset");
    assert.equal(result.dataset_format, "alpaca");
    assert.ok(String(result.traceparent).includes(traceId), "the core runs inside the job's trace");
    assert.equal(result.cwd, path.resolve(dataDir, "jobs", "done1"));
    await fs.access(path.resolve(dataDir, "cache", datasetSha));

    const file = (result.files as Record<string, { sha256: string; bytes: number; name: string }>).subset!;
    assert.equal(file.name, "subset.json");
    const stored = await getObject(bus.datasetsStore, file.sha256);
    assert.ok(stored, "result file is in the object store");
    assert.equal(sha256(stored), file.sha256);
    assert.equal(stored.length, file.bytes);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(stored)), { indices: [0], from: datasetSha });

    await outstandingIs(0);
  });

  it("fails bad input (exit 2) with the core's message and never redelivers it", async () => {
    await submit("bad1", { mode: "bad" });
    const failed = await statusOf("bad1", "failed");
    assert.equal(failed.error, "size: must be positive");
    assert.equal(failed.attempt, 1);
    await outstandingIs(0);
    assert.equal(eventsOf("bad1").filter((e) => e.status === "running").length, 1);
  });

  it("fails at once when an input is missing from the object store", async () => {
    await submit("missing1", { mode: "ok" }, { dataset: { sha256: "0".repeat(64) } });
    const failed = await statusOf("missing1", "failed");
    assert.match(String(failed.error), /not in the object store/);
    await outstandingIs(0);
  });

  it("redelivers a crashed job, which succeeds on a later attempt", async () => {
    const dataset = new TextEncoder().encode("[]");
    await putObject(bus.datasetsStore, sha256(dataset), dataset);
    await submit("crash1", { mode: "crash_once" }, { dataset: { sha256: sha256(dataset), format: "alpaca" } });
    const queued = await statusOf("crash1", "queued", 1);
    assert.equal(queued.retry, true);
    assert.equal(queued.error, "core exited with code 1: boom: segfault in kernel");
    const done = await statusOf("crash1", "done");
    assert.equal(done.attempt, 2);
    await outstandingIs(0);
  });

  it("reports a core that exits 3 as cancelled", async () => {
    await submit("self3", { mode: "cancel_self" });
    await statusOf("self3", "cancelled");
    await outstandingIs(0);
  });

  it("cancels a running job from the control subject, heartbeat showing it busy meanwhile", async () => {
    await submit("cancel1", { mode: "sleep" });
    const sleeping = await waitFor("sleeping core", () => eventsOf("cancel1").find((e) => e.phase === "sleeping"));
    const pid = sleeping.pid as number;

    const record = await waitFor("busy heartbeat", async () => {
      const entry = await bus.workersKv.get(daemon.workerId);
      const value = entry?.operation === "PUT" ? decodeJson<WorkerRecord>(entry.value) : undefined;
      return value && value.busy === 1 ? value : undefined;
    });
    assert.equal(record.id, daemon.workerId);
    assert.equal(record.slots, 2);
    assert.deepEqual(record.gpus, [{ index: 0, name: "Fake GPU", memory_mib: 1024 }]);
    assert.equal(record.hostname, os.hostname());

    bus.nc.publish(bus.names.control("selftest", "cancel1"));
    await statusOf("cancel1", "cancelled");
    assert.ok(gone(pid), "the core process is gone");
    await outstandingIs(0);
  });

  it("on stop hands running jobs back to the queue and leaves the workers bucket", async () => {
    await submit("stop1", { mode: "sleep" });
    const sleeping = await waitFor("sleeping core", () => eventsOf("stop1").find((e) => e.phase === "sleeping"));
    await daemon.stop(5_000);

    const requeued = await statusOf("stop1", "queued");
    assert.equal(requeued.requeued, true);
    assert.ok(gone(sleeping.pid as number), "the core process is gone");
    const entry = await bus.workersKv.get(daemon.workerId);
    assert.ok(!entry || entry.operation !== "PUT", "heartbeat key deleted");
    await outstandingIs(1);
  });
});
