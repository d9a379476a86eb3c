// Import benchmark: a generated 200,000-record Alpaca file through the CLI,
// gRPC streaming, validation, the object store and Postgres. The baseline,
// measured in the same run, is the least any importer must do with the same
// bytes in one process: parse the JSON and hash it.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { alpacaRecords, startMesh } from "../src/harness";

const RECORDS = Number(process.env.BENCH_IMPORT_RECORDS ?? 200_000);

(async () => {
  const mesh = await startMesh({ parts: ["selection"] });
  try {
    const file = path.join(mesh.scratch.dataDir, "bench.json");
    fs.writeFileSync(file, JSON.stringify(alpacaRecords(RECORDS, 7)));
    const bytes = fs.statSync(file).size;
    const mb = bytes / 1e6;

    const t0 = performance.now();
    const text = fs.readFileSync(file);
    JSON.parse(text.toString("utf8"));
    crypto.createHash("sha256").update(text).digest("hex");
    const baseline = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    const res = await mesh.cli(["dataset", "import", file, "--json"]);
    const seconds = (performance.now() - t1) / 1000;
    if (res.code !== 0) throw new Error(res.stderr);
    const dataset = JSON.parse(res.stdout).dataset;
    if (dataset.recordCount !== RECORDS) throw new Error(`expected ${RECORDS} records, got ${dataset.recordCount}`);

    const t2 = performance.now();
    const again = await mesh.cli(["dataset", "import", file, "--json"]);
    const dedupe = (performance.now() - t2) / 1000;
    if (!JSON.parse(again.stdout).existing) throw new Error("re-import was not recognised");

    const rows = [
      ["records", RECORDS.toLocaleString("en")],
      ["file size", `${mb.toFixed(1)} MB`],
      ["import (CLI -> gRPC -> validate -> object store -> Postgres)", `${seconds.toFixed(2)} s`],
      ["  records/s", Math.round(RECORDS / seconds).toLocaleString("en")],
      ["  MB/s", (mb / seconds).toFixed(1)],
      ["baseline: JSON.parse + sha256 in one process", `${baseline.toFixed(2)} s (${(mb / baseline).toFixed(1)} MB/s)`],
      ["ratio import / baseline", `${(seconds / baseline).toFixed(2)}x`],
      ["re-import of the same bytes (dedupe by sha256)", `${dedupe.toFixed(2)} s`],
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    process.stdout.write("import benchmark\n" + rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join("\n") + "\n");
  } finally {
    await mesh.stop();
  }
})().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
