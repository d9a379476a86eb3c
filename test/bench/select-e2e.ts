// End to end through the mesh: import a generated 20,000-record corpus, then
// `select --strategy uniform --ratio 0.5` with the default word2vec embedder,
// timed as a user waits for it (CLI to done). Goal: under 60 s on 2 cores.
import fs from "node:fs";
import path from "node:path";
import { familyRecords, startMesh } from "../src/harness";

const RECORDS = Number(process.env.BENCH_SELECT_RECORDS ?? 20_000);

(async () => {
  const mesh = await startMesh({ parts: ["selection", "worker"] });
  try {
    // Forty families of geometric sizes, as in the study's skewed corpora.
    const sizes = Array.from({ length: 40 }, (_, i) => Math.max(5, Math.round(RECORDS * 0.15 * 0.88 ** i)));
    const scale = RECORDS / sizes.reduce((a, b) => a + b, 0);
    const records = familyRecords(sizes.map((s) => Math.max(1, Math.round(s * scale))), 11).slice(0, RECORDS);
    const file = path.join(mesh.scratch.dataDir, "corpus.json");
    fs.writeFileSync(file, JSON.stringify(records));

    const t0 = performance.now();
    const imported = await mesh.cli(["dataset", "import", file, "--json"]);
    if (imported.code !== 0) throw new Error(imported.stderr);
    const importS = (performance.now() - t0) / 1000;
    const id = JSON.parse(imported.stdout).dataset.id;

    const t1 = performance.now();
    const selected = await mesh.cli(["select", id, "--strategy", "uniform", "--ratio", "0.5", "--seed", "1", "--json"]);
    if (selected.code !== 0) throw new Error(selected.stderr);
    const selectS = (performance.now() - t1) / 1000;
    const selection = JSON.parse(selected.stdout);

    const total = importS + selectS;
    const rows = [
      ["records", records.length.toLocaleString("en")],
      ["import (CLI -> service -> object store -> Postgres)", `${importS.toFixed(1)} s`],
      ["select uniform half (queue -> worker -> word2vec -> greedy -> metrics -> plot -> recorded)", `${selectS.toFixed(1)} s`],
      ["total", `${total.toFixed(1)} s (goal < 60 s: ${total < 60 ? "met" : "NOT met"})`],
      ["h_min cosine: uniform / random", `${selection.metrics.selection.hMinCosine.toExponential(3)} / ${selection.metrics.random.hMinCosine.toExponential(3)}`],
      ["coverage radius: uniform / random", `${selection.metrics.selection.coverageRadius.toExponential(3)} / ${selection.metrics.random.coverageRadius.toExponential(3)}`],
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    process.stdout.write("end-to-end selection benchmark\n" + rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join("\n") + "\n");
  } finally {
    await mesh.stop();
  }
})().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
