// One job message from pull to settle: inputs fetched, spec written, the
// Python core supervised, its stdout turned into events, and the message
// settled (ack, nak(delay), term) by how the core ended.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import {
  context,
  decodeJson,
  eventKindOf,
  extractContext,
  headersToCarrier,
  inSpan,
  injectContext,
  instruments,
  publishJson,
  SpanKind,
  JOB_ACK_WAIT_MS,
  JOB_MAX_DELIVER,
  type Bus,
  type Config,
  type JobKind,
  type JobMessage,
  type Logger,
} from "@uniformity/lib";
import type { Context } from "@opentelemetry/api";
import type { JsMsg } from "nats";
import { EventQueue, type OutgoingEvent } from "./events";
import { fetchInput, MissingInput, uploadResultFiles } from "./files";
import { backoffMs, EXIT_BAD_INPUT, eventMsgId, failureMessage, outcomeOf, parseLine, type CoreLine, type Exit, type JobStatus, type Outcome } from "./lines";
import { coreCommand, localSpec, type LocalInput } from "./spec";

export interface JobEnv {
  bus: Bus;
  config: Pick<Config, "dataDir" | "pythonBin" | "coreDir">;
  log: Logger;
  workerId: string;
}

export interface RunningJob {
  /** Settles once the message has been acked, nak'd or termed. */
  done: Promise<void>;
  /** Daemon stop: SIGTERM the core; unless it finishes anyway, the message goes back with nak(). */
  shutdown(): void;
  /** Grace is over: SIGKILL the core. */
  kill(): void;
}

const JOB_KINDS: readonly JobKind[] = ["select", "train", "eval", "selftest"];
/** A core that ignores SIGTERM this long is killed. */
const KILL_AFTER_MS = 10_000;
/** A core that exited but whose pipes stay open (an orphaned grandchild) is cleaned up after this. */
const PIPE_LINGER_MS = 5_000;
const STDERR_TAIL_LINES = 20;

/** Mutable state shared by the job and whoever stops it (control subject, daemon stop). */
interface Control {
  cancelRequested: boolean;
  shuttingDown: boolean;
  child: ChildProcess | undefined;
  /** Stops the input download when the job is stopped before its core starts. */
  abort: AbortController;
  killTimer: NodeJS.Timeout | undefined;
}

export type ParsedJob = { ok: true; job: JobMessage } | { ok: false; error: string; id?: string; kind?: JobKind };

/** Checks a job message before anything trusts it: the id names subjects and directories. */
export function parseJobMessage(data: Uint8Array): ParsedJob {
  let value: unknown;
  try {
    value = decodeJson(data);
  } catch {
    return { ok: false, error: "job message is not JSON" };
  }
  if (typeof value !== "object" || value === null) return { ok: false, error: "job message is not an object" };
  const raw = value as Record<string, unknown>;
  if (typeof raw.id !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(raw.id)) return { ok: false, error: "job id must be 1-128 letters, digits, '_' or '-'" };
  const id = raw.id;
  if (!JOB_KINDS.includes(raw.kind as JobKind)) return { ok: false, error: `job kind must be one of ${JOB_KINDS.join(", ")}`, id };
  const kind = raw.kind as JobKind;
  const spec = raw.spec ?? {};
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return { ok: false, error: "job spec must be an object", id, kind };
  const inputs = raw.inputs ?? {};
  if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) return { ok: false, error: "job inputs must be an object", id, kind };
  for (const [role, input] of Object.entries(inputs)) {
    const sha256 = (input as { sha256?: unknown } | null)?.sha256;
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return { ok: false, error: `input ${role} needs a hex sha256`, id, kind };
  }
  return { ok: true, job: { id, kind, spec: spec as JobMessage["spec"], inputs: inputs as JobMessage["inputs"] } };
}

export function startJob(env: JobEnv, msg: JsMsg): RunningJob {
  const control: Control = { cancelRequested: false, shuttingDown: false, child: undefined, abort: new AbortController(), killTimer: undefined };
  // The message stays ours only while we say working() within the ack wait, download included.
  const keepAlive = setInterval(() => msg.working(), JOB_ACK_WAIT_MS / 3);
  const done = runJob(env, msg, control)
    .catch((err: Error) => {
      // A bug here must not lose the job: hand it back as a crash would.
      env.log.error("job handling failed; handing the job back", { error: err });
      msg.nak(backoffMs(msg.info.deliveryCount));
    })
    .finally(() => clearInterval(keepAlive));
  return {
    done,
    shutdown() {
      control.shuttingDown = true;
      stopCore(control);
    },
    kill() {
      signalCore(control.child, "SIGKILL");
    },
  };
}

/** SIGTERM now (the core checkpoints and exits 3), SIGKILL if it is still there later. */
function stopCore(control: Control): void {
  if (!control.child) {
    control.abort.abort();
    return;
  }
  signalCore(control.child, "SIGTERM");
  control.killTimer ??= setTimeout(() => signalCore(control.child, "SIGKILL"), KILL_AFTER_MS);
}

/** Signals the core's whole process group, so data-loader or torchrun workers go with it. */
function signalCore(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

async function runJob(env: JobEnv, msg: JsMsg, control: Control): Promise<void> {
  const attempt = msg.info.deliveryCount;
  const parsed = parseJobMessage(msg.data);
  if (!parsed.ok) {
    env.log.error("invalid job message; terminating it", { error: parsed.error, job_id: parsed.id, subject: msg.subject, attempt });
    if (parsed.id && parsed.kind) {
      const subject = env.bus.names.events(eventKindOf(parsed.kind), parsed.id, "status");
      await publishJson(env.bus.js, subject, { type: "status", status: "failed", id: parsed.id, worker: env.workerId, attempt, error: parsed.error }).catch(() => undefined);
    }
    msg.term();
    instruments().jobCount.add(1, { kind: parsed.kind ?? "unknown", outcome: "invalid" });
    return;
  }
  const job = parsed.job;
  const parent = extractContext(headersToCarrier(msg.headers));
  const attributes = { "job.id": job.id, "job.kind": job.kind, "job.attempt": attempt, "worker.id": env.workerId };
  await inSpan(`job ${job.kind}`, { kind: SpanKind.CONSUMER, parent, attributes }, () => superviseJob(env, msg, job, attempt, control));
}

async function superviseJob(env: JobEnv, msg: JsMsg, job: JobMessage, attempt: number, control: Control): Promise<void> {
  const { bus, workerId } = env;
  const eventKind = eventKindOf(job.kind);
  const log = env.log.child({ job_id: job.id, kind: job.kind, attempt });
  const jobContext = context.active();
  const jobDir = path.resolve(env.config.dataDir, "jobs", job.id);
  const status = (fields: { status: JobStatus; error?: string; retry?: boolean; requeued?: boolean }) =>
    publishRetrying(
      jobContext,
      () =>
        publishJson(
          bus.js,
          bus.names.events(eventKind, job.id, "status"),
          { type: "status", ...fields, id: job.id, worker: workerId, attempt },
          `${job.id}:${attempt}:status:${fields.status}`,
        ),
    );

  const control$ = bus.nc.subscribe(bus.names.control(eventKind, job.id), {
    callback: () => {
      log.info("cancel requested");
      control.cancelRequested = true;
      stopCore(control);
    },
  });
  try {
    log.info("job started", { subject: msg.subject });
    let ended: CoreEnd;
    try {
      const specPath = await prepareJob(env, job, jobDir, control.abort.signal);
      await status({ status: "running" });
      ended = await runCore(env, job, attempt, { jobDir, specPath, jobContext, log }, control);
    } catch (err) {
      // Failures before the core ran read as the exit the core would have given.
      const error = (err as Error).message;
      if (err instanceof MissingInput) ended = { exit: { code: EXIT_BAD_INPUT, signal: null }, lastError: error, stderrTail: [] };
      else if (control.abort.signal.aborted) ended = { exit: { code: null, signal: "SIGTERM" }, stderrTail: [] };
      else ended = { exit: { code: 1, signal: null }, lastError: error, stderrTail: [] };
    }

    const outcome = outcomeOf(ended.exit, {
      deliveryCount: attempt,
      maxDeliver: JOB_MAX_DELIVER,
      cancelRequested: control.cancelRequested,
      shuttingDown: control.shuttingDown,
      errorCode: ended.lastErrorCode,
    });
    const error = outcome.status === "failed" || outcome.retry ? failureMessage(ended.exit, ended.lastError, ended.stderrTail) : undefined;
    log.info("job ended", { status: outcome.status, exit_code: ended.exit.code, signal: ended.exit.signal, error, retry: outcome.retry, requeued: outcome.requeued });
    await status({
      status: outcome.status,
      ...(error !== undefined ? { error } : {}),
      ...(outcome.retry ? { retry: true } : {}),
      ...(outcome.requeued ? { requeued: true } : {}),
    }).catch((err: Error) => log.error("status event lost", { status: outcome.status, error: err }));
    settle(msg, outcome);
    instruments().jobCount.add(1, { kind: job.kind, outcome: outcome.requeued ? "requeued" : outcome.retry ? "retried" : outcome.status });
  } finally {
    control$.unsubscribe();
  }
}

function settle(msg: JsMsg, outcome: Outcome): void {
  switch (outcome.settle) {
    case "ack":
      msg.ack();
      break;
    case "term":
      // Never retried: bad input stays bad, and a job out of deliveries has had its chances.
      msg.term();
      break;
    case "nak":
      msg.nak(outcome.delayMs);
      break;
  }
}

/** Fetches the inputs into the cache and writes the spec the core reads; returns its path. */
async function prepareJob(env: JobEnv, job: JobMessage, jobDir: string, signal: AbortSignal): Promise<string> {
  const cacheDir = path.resolve(env.config.dataDir, "cache");
  const local: Record<string, LocalInput> = {};
  for (const [role, input] of Object.entries(job.inputs)) {
    local[role] = { path: await fetchInput(env.bus.datasetsStore, cacheDir, input.sha256, signal), format: input.format };
  }
  // A redelivered job reuses its directory: the core resumes from the checkpoints left in out/.
  const outputDir = path.join(jobDir, "out");
  await fs.mkdir(outputDir, { recursive: true });
  const specPath = path.join(jobDir, "spec.json");
  await fs.writeFile(specPath, JSON.stringify(localSpec(job.spec, local, outputDir), null, 2) + "\n");
  signal.throwIfAborted();
  return specPath;
}

interface CoreEnd {
  exit: Exit;
  /** Message of the core's last `error` line, or why the job could not run. */
  lastError?: string | undefined;
  lastErrorCode?: string | undefined;
  stderrTail: string[];
}

interface CoreRun {
  jobDir: string;
  specPath: string;
  jobContext: Context;
  log: Logger;
}

/** Spawns `python -m uniformity_core <kind> --spec FILE` and follows it until its pipes close. */
async function runCore(env: JobEnv, job: JobMessage, attempt: number, run: CoreRun, control: Control): Promise<CoreEnd> {
  const { bus, workerId } = env;
  const { log } = run;
  const eventKind = eventKindOf(job.kind);
  const traceparent = injectContext(run.jobContext).traceparent;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONPATH: [path.resolve(env.config.coreDir), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
    PYTHONUNBUFFERED: "1",
  };
  if (traceparent) childEnv.TRACEPARENT = traceparent;
  else delete childEnv.TRACEPARENT;

  const [program, ...args] = coreCommand(env.config.pythonBin, job.kind, run.specPath, Number(job.spec.gpus ?? 0));
  const child = spawn(program!, args, {
    cwd: run.jobDir,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so a cancel reaches everything the core started.
    detached: true,
  });
  control.child = child;
  log.info("core started", { pid: child.pid, traceparent });

  let lastError: string | undefined;
  let lastErrorCode: string | undefined;
  let uploadError: string | undefined;
  const stderrTail: string[] = [];
  const events = new EventQueue(
    (event: OutgoingEvent) => publishRetrying(run.jobContext, () => publishJson(bus.js, event.subject, event.payload, event.msgId)),
    (err, event) => log.error("event lost", { error: err, subject: event?.subject }),
  );
  const toEvent = async (line: CoreLine, seq: number): Promise<OutgoingEvent | null> => {
    const payload: Record<string, unknown> = { ...line, id: job.id, worker: workerId, attempt };
    if (line.type === "result" && typeof line.files === "object" && line.files !== null && !Array.isArray(line.files)) {
      try {
        payload.files = await uploadResultFiles(bus.datasetsStore, line.files as Record<string, unknown>, run.jobDir);
      } catch (err) {
        // A result whose files are not stored is no result: the job counts as crashed and is retried.
        uploadError = `uploading result files: ${(err as Error).message}`;
        log.error("result upload failed", { error: err });
        return null;
      }
    }
    return { subject: bus.names.events(eventKind, job.id, line.type), payload, msgId: eventMsgId(job.id, attempt, line, seq) };
  };

  let seq = 0;
  readline.createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", (raw) => {
    const parsed = parseLine(raw);
    if (parsed.kind === "text") {
      if (parsed.text) log.info("core stdout", { line: parsed.text });
      return;
    }
    const line = parsed.line;
    if (line.type === "error" && typeof line.message === "string") {
      lastError = line.message;
      lastErrorCode = typeof line.code === "string" ? line.code : undefined;
    }
    if (line.type !== "step") log.debug("core event", { type: line.type });
    const n = seq++;
    events.push(() => toEvent(line, n));
  });
  readline.createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", (text) => {
    stderrTail.push(text);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    log.info("core stderr", { line: text });
  });

  const exit = await new Promise<Exit>((resolve) => {
    child.once("error", (err) => {
      lastError = `cannot start ${env.config.pythonBin}: ${err.message}`;
      resolve({ code: 127, signal: null });
    });
    child.once("exit", () => {
      const linger = setTimeout(() => {
        log.warn("core exited but its output stays open; killing its process group");
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // Already gone.
        }
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, PIPE_LINGER_MS);
      child.once("close", () => clearTimeout(linger));
    });
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(control.killTimer);
  await events.flush();
  if (exit.code === 0 && uploadError) return { exit: { code: 1, signal: null }, lastError: uploadError, stderrTail };
  return { exit, lastError, lastErrorCode, stderrTail };
}

/** A publish that survives a short NATS hiccup; the msgId makes the repeats harmless. */
async function publishRetrying(jobContext: Context, publish: () => Promise<unknown>, tries = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await context.with(jobContext, publish);
      return;
    } catch (err) {
      if (attempt >= tries) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** (attempt - 1)));
    }
  }
}
