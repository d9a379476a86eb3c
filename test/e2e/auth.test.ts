// UNIFORMITY_TOKEN: every RPC but health needs the bearer token.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { checkHealth } from "@uniformity/lib";
import { startMesh, type Mesh } from "../src/harness";

let mesh: Mesh;

before(async () => {
  mesh = await startMesh({ parts: ["selection", "training"], env: { UNIFORMITY_TOKEN: "correct horse", UNIFORMITY_MAX_IMPORT_BYTES: "4096" } });
});

after(async () => {
  await mesh?.stop();
});

test("calls without or with a wrong token are UNAUTHENTICATED; health needs none", async () => {
  const without = await mesh.cli(["dataset", "list"], { env: { UNIFORMITY_TOKEN: "" } });
  assert.equal(without.code, 1);
  assert.match(without.stderr, /UNIFORMITY_TOKEN/);
  const wrong = await mesh.cli(["workers", "list"], { env: { UNIFORMITY_TOKEN: "battery staple" } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /UNIFORMITY_TOKEN/);
  const right = await mesh.cli(["dataset", "list", "--json"]);
  assert.equal(right.code, 0, right.stderr);
  assert.deepEqual(JSON.parse(right.stdout), []);
  assert.equal(await checkHealth(mesh.env.UNIFORMITY_SELECTION_ADDR!), true);
});

test("a file over the configured size limit is refused and nothing is stored", async () => {
  const file = path.join(mesh.scratch.dataDir, "big.json");
  fs.writeFileSync(file, JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ instruction: `q${i}`, input: "", output: `a${i}` }))));
  const res = await mesh.cli(["dataset", "import", file]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /file: is larger than the limit of 4096 bytes \(UNIFORMITY_MAX_IMPORT_BYTES\)/);
  assert.deepEqual(JSON.parse((await mesh.cli(["dataset", "list", "--json"])).stdout), []);
});

test("SIGTERM stops a service cleanly with exit 0", async () => {
  const training = mesh.parts.training!;
  training.child.kill("SIGTERM");
  assert.equal(await training.exited, 0);
  assert.match(training.output.join(""), /"msg":"stopped"/);
  delete mesh.parts.training;
});
