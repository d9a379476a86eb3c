// The one NATS module: connection with reconnect, the JetStream topology
// (streams, KV bucket, object store) created idempotently, wire names, and
// JSON publish/decode with the trace context carried in headers.
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type MsgHdrs,
  type NatsConnection,
  type ObjectStore,
  type ConsumerConfig,
  type StreamConfig,
} from "nats";
import type { Logger } from "./log";
import { injectContext, inSpan, SpanKind, type Carrier } from "./telemetry";

export type JobKind = "select" | "train" | "eval" | "selftest";
/** Event subjects use the kind the DESIGN names them by: training events are `events.run.<id>.*`. */
export type EventKind = "select" | "run" | "eval" | "selftest";

export const eventKindOf = (kind: JobKind): EventKind => (kind === "train" ? "run" : kind);

/** Wire names; a namespace (tests, side-by-side meshes) prefixes every one of them. */
export interface Names {
  jobsStream: string;
  eventsStream: string;
  workersBucket: string;
  datasetsBucket: string;
  jobs(kind: JobKind | "*" | ">"): string;
  /** Every event subject: the EVENTS stream's filter. */
  allEvents: string;
  events(kind: EventKind | "*", id: string, type: string): string;
  control(kind: EventKind, id: string): string;
  recorderConsumer(kind: EventKind): string;
  workerConsumer: string;
}

export function wireNames(namespace = ""): Names {
  const prefix = namespace ? `${namespace}.` : "";
  const upper = namespace ? `${namespace}_` : "";
  return {
    jobsStream: `${upper}JOBS`,
    eventsStream: `${upper}EVENTS`,
    workersBucket: `${upper}workers`,
    datasetsBucket: `${upper}datasets`,
    jobs: (kind) => `${prefix}jobs.${kind}`,
    allEvents: `${prefix}events.>`,
    events: (kind, id, type) => `${prefix}events.${kind}.${id}.${type}`,
    control: (kind, id) => `${prefix}control.${kind}.${id}`,
    recorderConsumer: (kind) => `${upper}recorder-${kind}`,
    workerConsumer: `${upper}workers`,
  };
}

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  workersKv: KV;
  datasetsStore: ObjectStore;
  close(): Promise<void>;
}

export interface BusOptions {
  url: string;
  name: string;
  namespace: string;
  /** Attempts to reach NATS at start before giving up (0: one attempt). */
  retries: number;
  heartbeatTtlMs: number;
  log: Logger;
}

export class StartupError extends Error {}

/** Retries an async step with capped exponential backoff, logging each miss. */
export async function withRetries<T>(what: string, retries: number, log: Logger, step: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (attempt >= retries) throw new StartupError(`${what} unreachable: ${(err as Error).message}`);
      const delay = Math.min(500 * 2 ** attempt, 10_000);
      log.warn(`${what} unreachable, retrying`, { attempt: attempt + 1, retries, delay_ms: delay, error: (err as Error).message });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(config);
  }
}

export async function ensureTopology(jsm: JetStreamManager, names: Names): Promise<void> {
  // JOBS is a work queue: a job message is gone once a worker acks it.
  await ensureStream(jsm, {
    name: names.jobsStream,
    subjects: [names.jobs(">")],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: 2 * 60 * 1_000_000_000,
  });
  // EVENTS keeps history for late or restarted recorders.
  await ensureStream(jsm, {
    name: names.eventsStream,
    subjects: [names.allEvents],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 7 * 24 * 3600 * 1_000_000_000,
    duplicate_window: 2 * 60 * 1_000_000_000,
  });
}

export async function connectBus(options: BusOptions): Promise<Bus> {
  const nc = await withRetries("NATS", options.retries, options.log, () =>
    connect({
      servers: options.url,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      timeout: 3000,
    }),
  );
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") options.log.warn(`nats ${status.type}`, { server: String(status.data) });
    }
  })().catch(() => undefined);
  const names = wireNames(options.namespace);
  const jsm = await nc.jetstreamManager();
  await ensureTopology(jsm, names);
  const js = nc.jetstream();
  const workersKv = await js.views.kv(names.workersBucket, { ttl: options.heartbeatTtlMs, history: 1 });
  const datasetsStore = await js.views.os(names.datasetsBucket, { storage: StorageType.File });
  return {
    nc,
    js,
    jsm,
    names,
    workersKv,
    datasetsStore,
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson<T = unknown>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/** NATS headers holding the active trace context (plus any extras). */
export function traceHeaders(extra: Carrier = {}): MsgHdrs {
  const h = natsHeaders();
  for (const [key, value] of Object.entries({ ...injectContext(), ...extra })) h.set(key, value);
  return h;
}

export function headersToCarrier(h: MsgHdrs | undefined): Carrier {
  const carrier: Carrier = {};
  if (!h) return carrier;
  for (const key of h.keys()) carrier[key.toLowerCase()] = h.get(key);
  return carrier;
}

/** Publishes a JSON event or job to JetStream; msgId makes redelivered publishes idempotent. */
export async function publishJson(js: JetStreamClient, subject: string, payload: unknown, msgId?: string): Promise<{ seq: number }> {
  return inSpan(`publish ${subject.split(".").slice(0, 2).join(".")}`, { kind: SpanKind.PRODUCER, attributes: { "messaging.system": "nats", "messaging.destination.name": subject } }, async () => {
    const ack = await js.publish(subject, encodeJson(payload), { headers: traceHeaders(), ...(msgId ? { msgID: msgId } : {}) });
    return { seq: ack.seq };
  });
}

/** Creates a durable consumer, or updates it to this config when it exists: start-up is idempotent. */
async function ensureConsumer(bus: Bus, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<string> {
  try {
    await bus.jsm.consumers.info(stream, config.durable_name);
    await bus.jsm.consumers.update(stream, config.durable_name, config);
  } catch {
    await bus.jsm.consumers.add(stream, config);
  }
  return config.durable_name;
}

/** A durable pull consumer on EVENTS for one kind. */
export async function ensureRecorderConsumer(bus: Bus, kind: EventKind): Promise<string> {
  return ensureConsumer(bus, bus.names.eventsStream, {
    durable_name: bus.names.recorderConsumer(kind),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: bus.names.events(kind, "*", "*"),
    ack_wait: 30 * 1_000_000_000,
    max_deliver: -1,
  });
}

/** Stores bytes in the object store under their sha256 unless already there. */
export async function putObject(store: ObjectStore, sha256: string, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
  const existing = await store.info(sha256);
  if (existing && !existing.deleted) return;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      if (data instanceof Uint8Array) {
        for (let offset = 0; offset < data.length; offset += 1 << 20) controller.enqueue(data.subarray(offset, offset + (1 << 20)));
      } else {
        for await (const chunk of data) controller.enqueue(chunk);
      }
      controller.close();
    },
  });
  await store.put({ name: sha256 }, stream);
}

/** Reads a whole object; null when it does not exist. */
export async function getObject(store: ObjectStore, name: string): Promise<Uint8Array | null> {
  return store.getBlob(name);
}

/** Streams an object's bytes chunk by chunk. */
export async function* streamObject(store: ObjectStore, name: string): AsyncGenerator<Uint8Array> {
  const result = await store.get(name);
  if (!result) throw new Error(`object ${name} not found`);
  const reader = result.data.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    yield value;
  }
  if (!(await result.error)) return;
  throw await result.error;
}

/** Jobs redeliver at most this many times before they are failed for good. */
export const JOB_MAX_DELIVER = 5;
/** A worker must say `working()` within this window or the job goes to another worker. */
export const JOB_ACK_WAIT_MS = 30_000;

/** The durable pull consumer all worker daemons share on JOBS. */
export async function ensureWorkerConsumer(bus: Bus): Promise<string> {
  return ensureConsumer(bus, bus.names.jobsStream, {
    durable_name: bus.names.workerConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: bus.names.jobs(">"),
    ack_wait: JOB_ACK_WAIT_MS * 1_000_000,
    max_deliver: JOB_MAX_DELIVER,
    max_ack_pending: 1000,
  });
}

/** Shape of a job message on JOBS (subject jobs.<kind>, Nats-Msg-Id = id). */
export interface JobMessage {
  id: string;
  kind: JobKind;
  /** The spec handed to the Python core, before the worker adds local paths. */
  spec: Record<string, unknown>;
  /** Objects the worker must fetch from the `datasets` object store first, by role. */
  inputs: Record<string, { sha256: string; format?: string }>;
}

/** Shape of an event on EVENTS (subject events.<eventKind>.<id>.<type>). */
export interface JobEvent {
  /** progress | step | checkpoint | result | error from the core; status from the daemon. */
  type: string;
  id: string;
  worker: string;
  attempt: number;
  /** For status events. */
  status?: "running" | "queued" | "done" | "failed" | "cancelled";
  error?: string;
  [key: string]: unknown;
}
