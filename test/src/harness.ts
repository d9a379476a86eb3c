// Starts a real mesh for end-to-end tests: a throwaway Postgres database, a
// NATS namespace of its own, the services and a worker as child processes
// on free ports. stop() removes every trace of it.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "nats";
import { checkHealth, dropDatabase, ensureDatabase, freePort, migrateDatabase, openDatabase, wireNames } from "@uniformity/lib";

export { freePort };

export const ROOT = path.resolve(__dirname, "../../..");
export const CLI = path.join(ROOT, "services/cli/dist/src/main.js");

export function baseDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
}

export function natsUrl(): string {
  return process.env.NATS_URL ?? "nats://127.0.0.1:4222";
}


export interface Scratch {
  databaseUrl: string;
  namespace: string;
  dataDir: string;
  drop(): Promise<void>;
}

/** A fresh migrated database and NATS namespace, and a temp folder. */
export async function scratch(): Promise<Scratch> {
  const suffix = crypto.randomBytes(4).toString("hex");
  const url = new URL(baseDatabaseUrl());
  url.pathname = `/uniformity_t_${suffix}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  const database = openDatabase(databaseUrl);
  await migrateDatabase(database);
  await database.close();
  const namespace = `t${suffix}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "uniformity-e2e-"));
  return {
    databaseUrl,
    namespace,
    dataDir,
    async drop() {
      await dropDatabase(databaseUrl).catch(() => undefined);
      await deleteNamespace(namespace);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Deletes the streams, KV bucket and object store of a namespace. */
export async function deleteNamespace(namespace: string): Promise<void> {
  const names = wireNames(namespace);
  const nc = await connect({ servers: natsUrl() });
  try {
    const jsm = await nc.jetstreamManager();
    for (const stream of [names.jobsStream, names.eventsStream, `KV_${names.workersBucket}`, `OBJ_${names.datasetsBucket}`]) {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}

export type Part = "selection" | "training" | "evaluation" | "worker";

const SCRIPTS: Record<Part, string> = {
  selection: "services/selection/dist/src/main.js",
  training: "services/training/dist/src/main.js",
  evaluation: "services/evaluation/dist/src/main.js",
  worker: "workers/daemon/dist/src/main.js",
};

export interface Running {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export interface Mesh {
  scratch: Scratch;
  env: Record<string, string>;
  parts: Partial<Record<Part, Running>>;
  start(part: Part, extraEnv?: Record<string, string>): Promise<Running>;
  cli(args: string[], options?: { env?: Record<string, string>; input?: string }): Promise<CliResult>;
  stop(): Promise<void>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(script: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export async function startMesh(options: { parts?: Part[]; env?: Record<string, string> } = {}): Promise<Mesh> {
  const s = await scratch();
  const [selectionPort, trainingPort, evaluationPort] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    DATABASE_URL: s.databaseUrl,
    NATS_URL: natsUrl(),
    UNIFORMITY_NATS_NAMESPACE: s.namespace,
    UNIFORMITY_SELECTION_ADDR: `127.0.0.1:${selectionPort}`,
    UNIFORMITY_TRAINING_ADDR: `127.0.0.1:${trainingPort}`,
    UNIFORMITY_EVALUATION_ADDR: `127.0.0.1:${evaluationPort}`,
    UNIFORMITY_DATA_DIR: s.dataDir,
    UNIFORMITY_METRICS_PORT: "0",
    UNIFORMITY_PYTHON: process.env.UNIFORMITY_PYTHON ?? path.join(ROOT, ".venv/bin/python"),
    UNIFORMITY_CORE_DIR: path.join(ROOT, "workers/core"),
    UNIFORMITY_SHUTDOWN_GRACE_MS: "3000",
    ...options.env,
  };
  const mesh: Mesh = {
    scratch: s,
    env,
    parts: {},
    async start(part, extraEnv = {}) {
      const child = spawn(process.execPath, [path.join(ROOT, SCRIPTS[part])], { cwd: ROOT, env: { ...process.env, ...env, ...extraEnv } });
      const output: string[] = [];
      child.stdout!.on("data", (d) => output.push(String(d)));
      child.stderr!.on("data", (d) => output.push(String(d)));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      const running = { child, output, exited };
      mesh.parts[part] = running;
      const address = { selection: env.UNIFORMITY_SELECTION_ADDR, training: env.UNIFORMITY_TRAINING_ADDR, evaluation: env.UNIFORMITY_EVALUATION_ADDR, worker: undefined }[part];
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${part} exited at start:\n${output.join("")}`);
        if (address ? await checkHealth(address, 500) : output.join("").includes('"msg":"started"')) break;
        if (Date.now() > deadline) throw new Error(`${part} did not start:\n${output.join("")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return running;
    },
    cli: (args, opts = {}) => runNode(CLI, args, { ...env, ...opts.env }),
    async stop() {
      for (const running of Object.values(mesh.parts)) {
        if (running.child.exitCode === null) running.child.kill("SIGTERM");
      }
      await Promise.all(Object.values(mesh.parts).map((r) => r.exited));
      await s.drop();
    },
  };
  for (const part of options.parts ?? ["selection", "training", "evaluation", "worker"]) await mesh.start(part);
  return mesh;
}

/** A generated Alpaca dataset of n records (deterministic for a seed). */
export function alpacaRecords(n: number, seed = 1): { instruction: string; input: string; output: string }[] {
  const topics = ["sorting lists", "photosynthesis", "the french revolution", "prime numbers", "baking bread", "tcp handshakes", "poetry meter", "tax brackets"];
  const verbs = ["Explain", "Summarise", "Give an example of", "Write a question about", "List three facts about"];
  let state = seed >>> 0 || 1;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  return Array.from({ length: n }, (_, i) => {
    const topic = topics[next() % topics.length]!;
    const verb = verbs[next() % verbs.length]!;
    return { instruction: `${verb} ${topic}.`, input: i % 3 === 0 ? `Context number ${next() % 1000}.` : "", output: `Record ${i}: ${topic} ${next().toString(36)}.` };
  });
}

export function sha256(bytes: Uint8Array | string): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/**
 * Instruction records from task families of very different sizes, each with
 * its own vocabulary: a random subset over-represents the big families, a
 * uniform one does not.
 */
export function familyRecords(sizes: number[], seed = 1): { instruction: string; input: string; output: string }[] {
  let state = seed >>> 0 || 1;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  const records: { instruction: string; input: string; output: string }[] = [];
  sizes.forEach((size, family) => {
    const vocab = Array.from({ length: 12 }, (_, w) => `f${family}w${w}`);
    const pick = (n: number) => Array.from({ length: n }, () => vocab[next() % vocab.length]).join(" ");
    for (let i = 0; i < size; i++) records.push({ instruction: `Task ${family}: ${pick(6)}`, input: i % 2 ? pick(4) : "", output: pick(10) });
  });
  // Interleave deterministically so file order says nothing about families.
  for (let i = records.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [records[i], records[j]] = [records[j]!, records[i]!];
  }
  return records;
}

/** A float32 .npy file of the given rows (NumPy format 1.0). */
export function npyBytes(rows: number[][]): Buffer {
  const cols = rows[0]?.length ?? 0;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${cols}), }`;
  header = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11, " ") + "\n";
  const data = Buffer.alloc(rows.length * cols * 4);
  rows.forEach((row, i) => row.forEach((v, j) => data.writeFloatLE(v, (i * cols + j) * 4)));
  const prefix = Buffer.alloc(10);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, "latin1"), data]);
}

/** Builds a tiny random LLaMA with a tokenizer trained on the fly (HF format) in dir, with the project's venv. */
export async function tinyModel(dir: string): Promise<string> {
  const python = process.env.UNIFORMITY_PYTHON ?? path.join(ROOT, ".venv/bin/python");
  const res = await new Promise<CliResult>((resolve) => {
    const child = spawn(python, ["-m", "uniformity_core", "tiny-model", "--out", dir], { cwd: ROOT, env: { ...process.env, PYTHONPATH: path.join(ROOT, "workers/core") } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  if (res.code !== 0) throw new Error(`tiny-model failed: ${res.stderr}`);
  return dir;
}

/** Polls until check returns a value (not undefined) or the time is up. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Small task files under the publishers' names: ARC-Challenge-{Train,Dev,Test}.jsonl and mc_task.json. */
export function writeTaskFiles(dir: string, questions = 12): string {
  fs.mkdirSync(path.join(dir, "ARC-V1-Feb2018", "ARC-Challenge"), { recursive: true });
  const arc = (split: string, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const labels = ["A", "B", "C", "D"];
      return JSON.stringify({
        id: `${split}-${i}`,
        question: {
          stem: `Which word completes pattern ${i} of the ${split} set?`,
          choices: labels.map((label, k) => ({ text: `answer ${(i * 7 + k * 3) % 11} of ${k}`, label })),
        },
        answerKey: labels[i % 4],
      });
    }).join("\n") + "\n";
  const arcDir = path.join(dir, "ARC-V1-Feb2018", "ARC-Challenge");
  fs.writeFileSync(path.join(arcDir, "ARC-Challenge-Train.jsonl"), arc("train", 30));
  fs.writeFileSync(path.join(arcDir, "ARC-Challenge-Dev.jsonl"), arc("dev", 5));
  fs.writeFileSync(path.join(arcDir, "ARC-Challenge-Test.jsonl"), arc("test", questions));
  const mc = Array.from({ length: questions }, (_, i) => ({
    question: `What is true about item ${i}?`,
    mc1_targets: { [`Item ${i} is true.`]: 1, [`Item ${i} is false.`]: 0, [`Nothing about ${i}.`]: 0 },
    mc2_targets: { [`Item ${i} is true.`]: 1, [`It holds for ${i}.`]: 1, [`Item ${i} is false.`]: 0 },
  }));
  fs.writeFileSync(path.join(dir, "mc_task.json"), JSON.stringify(mc, null, 2));
  return dir;
}

/** Pids of processes whose command line mentions text (from /proc; never this process or a shell that searches). */
export function processesMatching(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
