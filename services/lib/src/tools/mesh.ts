// `make up` / `make down`: runs the three services and one worker daemon in
// the background, records their pids under .state/, waits until each is
// healthy, and later stops exactly those processes.
//
// When `make demo` had to start embedded stores (Postgres, NATS) because the
// configured ones did not answer, it leaves the variables that reach them in
// .state/embedded/stores.json; `up` uses them while those stores run.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../config";
import { ensureDatabase, migrateDatabase, openDatabase } from "../db/client";
import { checkHealth } from "../grpc/client";

const ROOT = path.resolve(__dirname, "../../../../..");
const STATE = path.resolve(process.env.UNIFORMITY_STATE_DIR ?? path.join(ROOT, ".state"));
const PIDS = path.join(STATE, "pids");
const LOGS = path.join(STATE, "logs");
const STORES = path.join(STATE, "embedded", "stores.json");

interface Component {
  name: string;
  script: string;
  /** gRPC address to health-check, or undefined for the worker (checked by its log line). */
  address?: string;
}

/** The embedded stores' variables, when stores.json exists and every store it names still runs. */
function embeddedStores(): Record<string, string> {
  try {
    const file = JSON.parse(fs.readFileSync(STORES, "utf8")) as { env?: Record<string, string>; pids?: number[] };
    return (file.pids ?? []).every(alive) ? (file.env ?? {}) : {};
  } catch {
    return {};
  }
}

/** Applied once here rather than by each service at start: concurrent migrators race on the same DDL. */
async function migrate(databaseUrl: string): Promise<void> {
  await ensureDatabase(databaseUrl);
  const database = openDatabase(databaseUrl);
  try {
    await migrateDatabase(database);
  } finally {
    await database.close();
  }
}

function components(env: NodeJS.ProcessEnv = process.env): Component[] {
  const config = loadConfig(env);
  return [
    { name: "selection", script: "services/selection/dist/src/main.js", address: config.selectionAddr },
    { name: "training", script: "services/training/dist/src/main.js", address: config.trainingAddr },
    { name: "evaluation", script: "services/evaluation/dist/src/main.js", address: config.evaluationAddr },
    { name: "worker", script: "workers/daemon/dist/src/main.js" },
  ];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(name: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(PIDS, `${name}.pid`), "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitReady(component: Component, pid: number, deadline: number): Promise<void> {
  const log = path.join(LOGS, `${component.name}.log`);
  while (Date.now() < deadline) {
    if (!alive(pid)) {
      const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").slice(-3).join("\n") : "";
      throw new Error(`${component.name} exited during start-up; last lines of ${log}:\n${tail}`);
    }
    if (component.address ? await checkHealth(component.address, 1000) : fs.existsSync(log) && fs.readFileSync(log, "utf8").includes('"msg":"started"')) return;
    await sleep(300);
  }
  throw new Error(`${component.name} did not become healthy in time (see ${log})`);
}

async function up(): Promise<void> {
  fs.mkdirSync(PIDS, { recursive: true });
  fs.mkdirSync(LOGS, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, ...embeddedStores() };
  const pending = components(env).filter((c) => {
    const pid = readPid(c.name);
    return !(pid && alive(pid));
  });
  if (pending.some((c) => c.address) && (env.UNIFORMITY_MIGRATE ?? "true") === "true") await migrate(loadConfig(env).databaseUrl);
  env.UNIFORMITY_MIGRATE = "false";
  const started: [Component, number][] = [];
  for (const component of components(env)) {
    const existing = readPid(component.name);
    if (existing && alive(existing)) {
      process.stdout.write(`${component.name}: already running (pid ${existing})\n`);
      continue;
    }
    const out = fs.openSync(path.join(LOGS, `${component.name}.log`), "a");
    // Each process leads its own session so a terminal's Ctrl-C does not reach it; `make down` does.
    const child = spawn(process.execPath, [path.join(ROOT, component.script)], { cwd: ROOT, env, detached: true, stdio: ["ignore", out, out] });
    child.unref();
    fs.writeFileSync(path.join(PIDS, `${component.name}.pid`), String(child.pid));
    started.push([component, child.pid!]);
  }
  const deadline = Date.now() + 60_000;
  for (const [component, pid] of started) {
    await waitReady(component, pid, deadline);
    process.stdout.write(`${component.name}: healthy (pid ${pid}${component.address ? `, ${component.address}` : ""})\n`);
  }
  process.stdout.write(`logs: ${LOGS}\n`);
}

async function down(): Promise<void> {
  const names = components().map((c) => c.name);
  const running: [string, number][] = [];
  for (const name of names) {
    const pid = readPid(name);
    if (pid && alive(pid)) {
      process.kill(pid, "SIGTERM");
      running.push([name, pid]);
    }
  }
  const deadline = Date.now() + 20_000;
  for (const [name, pid] of running) {
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    if (alive(pid)) process.kill(pid, "SIGKILL");
    process.stdout.write(`${name}: stopped (pid ${pid})\n`);
  }
  for (const name of names) fs.rmSync(path.join(PIDS, `${name}.pid`), { force: true });
  if (running.length === 0) process.stdout.write("nothing was running\n");
}

const command = process.argv[2];
(command === "up" ? up() : command === "down" ? down() : Promise.reject(new Error("usage: mesh up|down")))
  .then(() => process.exit(0))
  .catch((err) => {
    process.stderr.write(`mesh: ${(err as Error).message}\n`);
    process.exit(1);
  });
