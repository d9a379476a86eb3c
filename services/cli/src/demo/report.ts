// report.md: the demo's figures in a page someone can read without having
// watched it run. Pure: figures in, markdown out.
import type { pb } from "@uniformity/lib";
import { smallFamilyCoverage, verdict, type Row, type Variant } from "./study";

export interface SelectionFigures {
  variant: Exclude<Variant, "full">;
  id: string;
  size: number;
  metrics: pb.SelectionMetrics | undefined;
  /** Records kept per family (index = family). */
  familyCounts: number[];
}

export interface StageTime {
  stage: string;
  seconds: number;
  reused: boolean;
}

export interface ReportInput {
  /** ISO time the report was written. */
  date: string;
  /** One line each: dataset, model, training, evaluation settings. */
  setup: [string, string][];
  familySizes: number[];
  familyNames: string[];
  selections: SelectionFigures[];
  rows: Row[];
  thresholds: number[];
  /** File names relative to the report, when written. */
  images: { pca?: string; comparison?: string; panels: { title: string; file: string }[] };
  stages: StageTime[];
  /** Commands that reproduce the demo. */
  reproduce: string[];
}

const num = (v: number, digits = 4) => (!Number.isFinite(v) ? String(v) : v !== 0 && Math.abs(v) < 10 ** -digits * 10 ? v.toExponential(1) : v.toFixed(digits));
const int = (v: number) => Math.round(v).toLocaleString("en-US");

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  return `${Math.floor(seconds / 60)} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
}

/** Escapes what would break a table cell. */
function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function markdownTable(header: string[], rows: string[][], align: ("l" | "r")[] = []): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `|${header.map((_, i) => (align[i] === "r" ? "---:" : "---")).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n") + "\n";
}

function thresholdCell(hit: pb.ThresholdHit | undefined): string {
  if (!hit) return "-";
  return hit.reached ? `step ${int(hit.step)} (${hit.minutes.toFixed(2)} min)` : "not reached";
}

/** The comparison with runs as columns, as the terminal shows it. */
export function comparisonMarkdown(rows: Row[], thresholds: number[]): string {
  const header = ["", ...rows.map((r) => r.variant)];
  const body: string[][] = [
    ["run", ...rows.map((r) => r.row.runId.slice(0, 8))],
    ["records", ...rows.map((r) => int(r.row.records))],
    ["steps", ...rows.map((r) => int(r.row.steps))],
    ...thresholds.map((t, i) => [`loss ≤ ${t}`, ...rows.map((r) => thresholdCell(r.row.thresholds.find((h) => h.threshold === t) ?? r.row.thresholds[i]))]),
    ["final loss", ...rows.map((r) => num(r.row.finalLoss))],
    ["min loss", ...rows.map((r) => num(r.row.minLoss))],
    ["tokens", ...rows.map((r) => int(r.row.tokens))],
  ];
  const keys = [...new Set(rows.flatMap((r) => r.row.scores.map((s) => `${s.task} ${s.metric} (${s.shots}-shot)`)))];
  for (const key of keys) {
    body.push([
      key,
      ...rows.map((r) => {
        const s = r.row.scores.find((x) => `${x.task} ${x.metric} (${x.shots}-shot)` === key);
        return s ? `${num(s.value, 3)} ± ${num(s.stderr, 3)}` : "-";
      }),
    ]);
  }
  return markdownTable(header, body, ["l", ...rows.map(() => "r" as const)]);
}

function selectionSection(input: ReportInput): string {
  const out: string[] = ["## The two halves", ""];
  const bySize = [...input.familySizes].sort((a, b) => a - b);
  const k = Math.max(1, Math.floor(input.familySizes.length / 2));
  out.push(
    `The dataset has ${input.familySizes.length} task families of ${bySize[bySize.length - 1]} down to ${bySize[0]} records, each with words of its own. ` +
      `A random half keeps each family's share; a half spread evenly in embedding space should keep the small families whole and thin out the big ones.`,
    "",
  );
  const metricRows: [string, (m: pb.UniformityMetrics) => string][] = [
    ["h_min (cosine)", (m) => num(m.hMinCosine)],
    ["nearest-neighbour distance, mean", (m) => num(m.nnMean)],
    ["coverage radius", (m) => num(m.coverageRadius)],
    ["duplicates", (m) => int(m.duplicates)],
  ];
  const uniform = input.selections.find((s) => s.variant === "uniform");
  const random = input.selections.find((s) => s.variant === "random");
  if (uniform?.metrics?.selection) {
    const sets: [string, pb.UniformityMetrics | undefined][] = [
      ["uniform half", uniform.metrics.selection],
      ["random half", random?.metrics?.selection ?? uniform.metrics.random],
      ["full set", uniform.metrics.full],
    ];
    out.push(
      markdownTable(
        ["", ...sets.map(([name]) => name)],
        metricRows.map(([label, value]) => [label, ...sets.map(([, m]) => (m ? value(m) : "-"))]),
        ["l", "r", "r", "r"],
      ),
    );
  }
  const coverage = input.selections.map((s) => ({ s, c: smallFamilyCoverage(input.familySizes, s.familyCounts, k) }));
  if (coverage.length) {
    out.push(
      coverage
        .map(
          ({ s, c }) =>
            `The ${s.variant} half kept ${c.whole} of the ${k} smallest families whole and ${Math.round(c.share * 100)}% of their records.`,
        )
        .join(" "),
      "",
    );
    const header = ["family", "records", ...input.selections.map((s) => `${s.variant} half`)];
    const rows = input.familySizes.map((size, i) => [input.familyNames[i] ?? String(i), int(size), ...input.selections.map((s) => int(s.familyCounts[i] ?? 0))]);
    out.push("<details><summary>Records per family</summary>", "", markdownTable(header, rows, ["l", "r", ...input.selections.map(() => "r" as const)]), "</details>", "");
  }
  if (input.images.pca) out.push(`![PCA of the full set, the uniform half and a random half](${input.images.pca})`, "");
  return out.join("\n");
}

export function reportMarkdown(input: ReportInput): string {
  const v = verdict(input.rows, input.thresholds);
  const out: string[] = [
    "# Uniformity demo",
    "",
    `Written ${input.date}. Three runs of the same model with the same settings: on the full dataset, on a uniform half and on a random half.`,
    "",
    `**${v.headline}**`,
    "",
    ...v.sentences.map((s) => `- ${s}`),
    "",
    "## Set-up",
    "",
    markdownTable(["", ""], input.setup.map(([k, val]) => [k, val])),
    selectionSection(input),
    "## Training and evaluation",
    "",
    `Thresholds are levels of the full run's own smoothed loss (3-step moving average). Steps decide who got there first: a step is the same work in every run, while the machine's load may change from one run to the next; the minutes (wall clock from each run's first step) are shown beside them.`,
    "",
    comparisonMarkdown(input.rows, input.thresholds),
  ];
  if (input.images.comparison) out.push(`![Loss curves, time to threshold and scores](${input.images.comparison})`, "");
  for (const panel of input.images.panels) out.push(`- [${panel.title}](${panel.file})`);
  if (input.images.panels.length) out.push("");
  out.push(
    "## Where the time went",
    "",
    markdownTable(
      ["stage", "time", ""],
      input.stages.map((s) => [s.stage, duration(s.seconds), s.reused ? "reused" : ""]),
      ["l", "r", "l"],
    ),
    "## Reproduce",
    "",
    "```sh",
    ...input.reproduce,
    "```",
    "",
  );
  return out.join("\n");
}
