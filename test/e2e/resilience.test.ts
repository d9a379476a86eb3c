// Start-up against unreachable stores fails in one line; a running service
// that loses Postgres and NATS reconnects and keeps serving.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { alpacaRecords, baseDatabaseUrl, freePort, natsUrl, ROOT, runNode, startMesh, type Mesh } from "../src/harness";
import { TcpProxy } from "../src/proxy";

let mesh: Mesh;
let pgProxy: TcpProxy;
let natsProxy: TcpProxy;

before(async () => {
  const pg = new URL(baseDatabaseUrl());
  const nats = new URL(natsUrl());
  pgProxy = new TcpProxy(pg.hostname, Number(pg.port || 5432));
  natsProxy = new TcpProxy(nats.hostname, Number(nats.port || 4222));
  await pgProxy.start();
  await natsProxy.start();
  mesh = await startMesh({ parts: [] });
  const db = new URL(mesh.scratch.databaseUrl);
  db.port = String(pgProxy.port);
  await mesh.start("selection", { DATABASE_URL: db.toString(), NATS_URL: `nats://127.0.0.1:${natsProxy.port}` });
});

after(async () => {
  await mesh?.stop();
  await pgProxy?.close();
  await natsProxy?.close();
});

test("unreachable Postgres or NATS at start: one clear line and exit 1", async () => {
  const closed = await freePort();
  for (const [env, expected] of [
    [{ DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/x` }, /^selection: Postgres unreachable: /],
    [{ NATS_URL: `nats://127.0.0.1:${closed}` }, /^selection: NATS unreachable: /],
  ] as const) {
    const started = Date.now();
    const res = await runNode(path.join(ROOT, "services/selection/dist/src/main.js"), [], { ...mesh.env, ...env, UNIFORMITY_SELECTION_ADDR: `127.0.0.1:${closed}` });
    assert.equal(res.code, 1);
    assert.match(res.stderr, expected);
    assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
    assert.ok(Date.now() - started < 15_000);
  }
});

test("with retries configured, start-up waits for Postgres to come back", async () => {
  const db = new URL(mesh.scratch.databaseUrl);
  db.port = String(pgProxy.port);
  pgProxy.cut();
  setTimeout(() => pgProxy.restore(), 1500);
  const running = await mesh.start("evaluation", { DATABASE_URL: db.toString(), UNIFORMITY_CONNECT_RETRIES: "10" });
  assert.match(running.output.join(""), /Postgres unreachable, retrying/);
});

test("a running service survives a Postgres and NATS outage", async () => {
  const file = path.join(mesh.scratch.dataDir, "r.json");
  const write = (n: number, seed: number) => fs.writeFileSync(file, JSON.stringify(alpacaRecords(n, seed)));
  write(50, 1);
  assert.equal((await mesh.cli(["dataset", "import", file])).code, 0);

  pgProxy.cut();
  natsProxy.cut();
  write(60, 2);
  const during = await mesh.cli(["dataset", "import", file]);
  assert.notEqual(during.code, 0, "the outage is visible to the caller");
  pgProxy.restore();
  natsProxy.restore();

  // The service reconnects by itself; a client retrying for a few seconds gets through.
  let ok = false;
  for (let attempt = 0; attempt < 30 && !ok; attempt++) {
    ok = (await mesh.cli(["dataset", "import", file])).code === 0;
    if (!ok) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(ok, mesh.parts.selection!.output.join("").slice(-2000));
  assert.equal(mesh.parts.selection!.child.exitCode, null, "the service kept running");
  const listed = JSON.parse((await mesh.cli(["dataset", "list", "--json"])).stdout);
  assert.equal(listed.length, 2);
});
