// UNIFORMITY_TOKEN: every RPC but health needs the bearer token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { checkHealth } from "@uniformity/lib";
import { startMesh, type Mesh } from "../src/harness";

let mesh: Mesh;

before(async () => {
  mesh = await startMesh({ parts: ["selection", "training"], env: { UNIFORMITY_TOKEN: "correct horse" } });
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

test("SIGTERM stops a service cleanly with exit 0", async () => {
  const training = mesh.parts.training!;
  training.child.kill("SIGTERM");
  assert.equal(await training.exited, 0);
  assert.match(training.output.join(""), /"msg":"stopped"/);
  delete mesh.parts.training;
});
