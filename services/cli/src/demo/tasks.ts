// The demo's two benchmarks, in their publishers' file formats and asked
// about the dataset's own families, the same number of questions for each:
// a model that saw every family does well, one that missed the small
// families does not. Wrong answers are words of other families, so what is
// scored is whether the model learned which words belong together. ARC: ARC-Challenge-{Train,Dev,Test}.jsonl (question.stem,
// question.choices[{text,label}], answerKey); TruthfulQA: mc_task.json
// (question, mc1_targets, mc2_targets).
import { promises as fs } from "node:fs";
import path from "node:path";
import { pick, rng, type Family } from "./dataset";

export interface ArcQuestion {
  id: string;
  question: { stem: string; choices: { text: string; label: string }[] };
  answerKey: string;
}

export interface TruthfulQuestion {
  question: string;
  mc1_targets: Record<string, number>;
  mc2_targets: Record<string, number>;
}

export interface TaskFiles {
  arc: { train: ArcQuestion[]; dev: ArcQuestion[]; test: ArcQuestion[] };
  truthfulqa: TruthfulQuestion[];
}

export interface TaskOptions {
  seed: number;
  /** Test questions per family (ARC and TruthfulQA each). */
  perFamily: number;
  /** ARC train questions per family: the pool few-shot examples come from. */
  trainPerFamily: number;
}

export const DEFAULT_TASKS: TaskOptions = { seed: 1, perFamily: 2, trainPerFamily: 1 };

const LABELS = ["A", "B", "C", "D"];

/** n different term indices of a family, drawn without replacement from `free`. */
function draw(random: () => number, free: number[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n && free.length; i++) out.push(free.splice(Math.floor(random() * free.length), 1)[0]!);
  return out;
}

/** Three glosses of other families: a model that learned which words go together can tell them apart. */
function strangers(random: () => number, f: Family, families: Family[], n: number): string[] {
  const others = draw(random, families.filter((g) => g.index !== f.index).map((g) => g.index), n);
  return others.map((g) => pick(random, families[g]!.glosses));
}

function arcQuestion(random: () => number, id: string, f: Family, term: number, families: Family[]): ArcQuestion {
  // Answers are phrased as the data phrases meanings, so the scored words follow the words they followed in training.
  const options = [f.glosses[term]!, ...strangers(random, f, families, 3)].map((gloss) => `"${f.terms[term]}" means ${gloss}.`);
  const order = draw(random, [0, 1, 2, 3], 4);
  const gold = order.indexOf(0);
  return {
    id,
    question: { stem: `In ${f.domain}, what does "${f.terms[term]}" mean?`, choices: order.map((k, i) => ({ text: options[k]!, label: LABELS[i]! })) },
    answerKey: LABELS[gold]!,
  };
}

function truthfulQuestion(random: () => number, f: Family, term: number, families: Family[]): TruthfulQuestion {
  const t = f.terms[term]!;
  const right = f.glosses[term]!;
  const wrong = strangers(random, f, families, 3);
  return {
    question: `What is "${t}" in ${f.domain}?`,
    mc1_targets: Object.fromEntries([[`In ${f.domain}, "${t}" means ${right}.`, 1], ...wrong.map((w) => [`In ${f.domain}, "${t}" means ${w}.`, 0])]),
    mc2_targets: Object.fromEntries([
      [`In ${f.domain}, "${t}" means ${right}.`, 1],
      [`"${t}" is the ${f.domain} word for ${right}.`, 1],
      ...wrong.slice(0, 2).map((w) => [`In ${f.domain}, "${t}" means ${w}.`, 0]),
    ]),
  };
}

/**
 * Questions about every family alike; no term is asked twice across train and
 * test. Test questions ask about `taught` terms (ones some record explains)
 * while there are any, so a model can only know the answer from the data.
 */
export function makeTasks(families: Family[], options: Partial<TaskOptions> = {}, taught: number[][] = []): TaskFiles {
  const o = { ...DEFAULT_TASKS, ...options };
  const random = rng(o.seed ^ 0x51ed270b);
  const train: ArcQuestion[] = [];
  const test: ArcQuestion[] = [];
  const truthfulqa: TruthfulQuestion[] = [];
  for (const f of families) {
    const known = new Set(taught[f.index] ?? []);
    const fair = f.terms.map((_, i) => i).filter((i) => known.has(i));
    const rest = f.terms.map((_, i) => i).filter((i) => !known.has(i));
    const asked = draw(random, fair, o.perFamily);
    if (asked.length < o.perFamily) asked.push(...draw(random, rest, o.perFamily - asked.length));
    // Few-shot examples show the format; they may be about terms the data never explains.
    const pool = [...rest, ...fair];
    for (const term of draw(random, pool, o.trainPerFamily)) train.push(arcQuestion(random, `train-${f.index}-${term}`, f, term, families));
    for (const term of asked) test.push(arcQuestion(random, `test-${f.index}-${term}`, f, term, families));
    for (const term of asked) truthfulqa.push(truthfulQuestion(random, f, term, families));
  }
  const dev = train.filter((_, i) => i % 8 === 0);
  return { arc: { train, dev, test }, truthfulqa };
}

const jsonl = (items: unknown[]) => items.map((item) => JSON.stringify(item)).join("\n") + "\n";

/** Writes the files where the eval job looks for them (it searches below the folder); returns the folder. */
export async function writeTasks(dir: string, tasks: TaskFiles): Promise<string> {
  const arcDir = path.join(dir, "ARC-V1-Feb2018", "ARC-Challenge");
  await fs.mkdir(arcDir, { recursive: true });
  await fs.writeFile(path.join(arcDir, "ARC-Challenge-Train.jsonl"), jsonl(tasks.arc.train));
  await fs.writeFile(path.join(arcDir, "ARC-Challenge-Dev.jsonl"), jsonl(tasks.arc.dev));
  await fs.writeFile(path.join(arcDir, "ARC-Challenge-Test.jsonl"), jsonl(tasks.arc.test));
  await fs.writeFile(path.join(dir, "mc_task.json"), JSON.stringify(tasks.truthfulqa, null, 2) + "\n");
  return dir;
}
