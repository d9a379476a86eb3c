// The demo's instruction dataset, made up so that the study's effect has
// something to act on: a few dozen task families of geometrically shrinking
// size, each with words of its own. A random half keeps the big families'
// share; a half spread evenly in embedding space takes the small families
// whole. Pure and deterministic for a seed.

export interface AlpacaRecord {
  instruction: string;
  input: string;
  output: string;
}

/** One task family: its subject, its own terms and what each term means. */
export interface Family {
  index: number;
  domain: string;
  /** Records of this family in the dataset. */
  size: number;
  terms: string[];
  /** glosses[i] is what terms[i] means; also words of this family only. */
  glosses: string[];
}

export interface DatasetOptions {
  seed: number;
  families: number;
  /** Records in the biggest family. */
  largest: number;
  /** Each family is this fraction of the one before (geometric sizes). */
  ratio: number;
  /** No family is smaller than this. */
  smallest: number;
}

export const DEFAULT_DATASET: DatasetOptions = { seed: 1, families: 32, largest: 200, ratio: 0.85, smallest: 3 };

export interface DemoDataset {
  options: DatasetOptions;
  families: Family[];
  /** Shuffled, so file order says nothing about families. */
  records: AlpacaRecord[];
  /** family index of records[i] */
  familyOf: number[];
  /** Per family, the terms some record gives the meaning of: what a benchmark can fairly ask. */
  taught: number[][];
}

const DOMAINS = [
  "astronomy", "baking", "beekeeping", "bookbinding", "carpentry", "chess", "cycling", "diving",
  "falconry", "fencing", "glassblowing", "herbalism", "knitting", "mapmaking", "mining", "orienteering",
  "pottery", "printing", "rowing", "sailing", "smithing", "surveying", "tailoring", "tanning",
  "viticulture", "weaving", "welding", "whaling", "winemaking", "woodturning", "yodelling", "zoology",
  "archery", "brewing", "calligraphy", "dyeing", "embroidery", "forestry", "gilding", "horology",
];

/** The indefinite article before a word. */
export function an(word: string): "a" | "an" {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

const ROLES = ["apprentice", "master", "teacher", "student", "guild member", "newcomer"];

// Each family writes its instructions its own way: one phrasing of each kind per family.
const DEFINE = [
  (d: string, t: string) => `In ${d}, what does the term "${t}" mean?`,
  (d: string, t: string) => `Explain the ${d} word "${t}".`,
  (d: string, t: string) => `${an(d) === "a" ? "A" : "An"} ${d} text uses "${t}". What is it?`,
  (d: string, t: string) => `Define "${t}" as used in ${d}.`,
];
const TRANSLATE = [
  (d: string) => `Translate these ${d} terms into plain words.`,
  (d: string) => `Give the meaning of each ${d} term below.`,
  (d: string) => `Rewrite the ${d} jargon in the input as plain words.`,
];
const SENTENCE = [
  (d: string, t: string, r: string) => `Write one sentence about ${t} for ${an(d)} ${d} ${r}.`,
  (d: string, t: string, r: string) => `Tell ${an(d)} ${d} ${r} what ${t} is for, in one line.`,
  (d: string, t: string, r: string) => `Describe ${t} to a ${r} of ${d}.`,
];
const SORT = [
  (d: string) => `Which of these words belong to ${d}?`,
  (d: string) => `List the ${d} terms found in the input.`,
  (d: string) => `Pick out the words of ${d} from this list.`,
];

/** mulberry32: small, fast and the same on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Family sizes: largest, largest·ratio, largest·ratio², … never below smallest. */
export function familySizes(o: Pick<DatasetOptions, "families" | "largest" | "ratio" | "smallest">): number[] {
  return Array.from({ length: o.families }, (_, k) => Math.max(o.smallest, Math.round(o.largest * o.ratio ** k)));
}

const CONSONANTS = "bcdfghjklmnprstvz";
const VOWELS = "aeiou";

/**
 * Made-up words from a syllable set of the family's own, so no two families
 * share a word and each family's words look alike (what an embedding sees).
 */
function familyWords(random: () => number, family: number, count: number, taken: Set<string>): string[] {
  const onsets = Array.from({ length: 4 }, (_, i) => CONSONANTS[(family * 5 + i * 3) % CONSONANTS.length]! + VOWELS[(family + i) % VOWELS.length]!);
  const codas = Array.from({ length: 3 }, (_, i) => CONSONANTS[(family * 7 + i * 5 + 2) % CONSONANTS.length]!);
  const words: string[] = [];
  while (words.length < count) {
    const syllables = 2 + Math.floor(random() * 2);
    let word = "";
    for (let s = 0; s < syllables; s++) word += pick(random, onsets) + (random() < 0.4 ? pick(random, codas) : "");
    if (!taken.has(word)) {
      taken.add(word);
      words.push(word);
    }
  }
  return words;
}

export function makeFamilies(o: DatasetOptions): Family[] {
  const random = rng(o.seed);
  const taken = new Set<string>();
  const sizes = familySizes(o);
  return sizes.map((size, index) => ({
    index,
    domain: DOMAINS[index % DOMAINS.length]! + (index >= DOMAINS.length ? ` ${Math.floor(index / DOMAINS.length) + 1}` : ""),
    size,
    terms: familyWords(random, index, 16, taken),
    glosses: familyWords(random, index, 16, taken),
  }));
}

/** Distinct indices in [0, n), k of them (k <= n). */
function sample(random: () => number, n: number, k: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(k, n)) chosen.add(Math.floor(random() * n));
  return [...chosen];
}

function familyRecord(random: () => number, f: Family, others: Family[], taught: Set<number>): AlpacaRecord {
  const phrasing = f.index; // fixed per family: its "templates"
  const kind = Math.floor(random() * 4);
  const i = Math.floor(random() * f.terms.length);
  const term = f.terms[i]!;
  const gloss = f.glosses[i]!;
  if (kind !== 3) taught.add(i);
  if (kind === 0) {
    return { instruction: DEFINE[phrasing % DEFINE.length]!(f.domain, term), input: "", output: `In ${f.domain}, "${term}" means ${gloss}.` };
  }
  if (kind === 1) {
    const idx = [i, ...sample(random, f.terms.length, 2 + Math.floor(random() * 3)).filter((j) => j !== i)];
    idx.forEach((j) => taught.add(j));
    return {
      instruction: TRANSLATE[phrasing % TRANSLATE.length]!(f.domain),
      input: idx.map((j) => f.terms[j]).join(", "),
      output: idx.map((j) => f.glosses[j]).join(", "),
    };
  }
  if (kind === 2) {
    const role = pick(random, ROLES);
    return {
      instruction: SENTENCE[phrasing % SENTENCE.length]!(f.domain, term, role),
      input: "",
      output: `${an(f.domain) === "a" ? "A" : "An"} ${f.domain} ${role} uses ${term} for ${gloss}, as every ${f.domain} ${role} knows.`,
    };
  }
  // Sort own words from a stranger's.
  const stranger = others.length ? pick(random, others) : f;
  const own = sample(random, f.terms.length, 2).map((j) => f.terms[j]!);
  const foreign = sample(random, stranger.terms.length, 2).map((j) => stranger.terms[j]!);
  const mixed = random() < 0.5 ? [own[0], foreign[0], own[1], foreign[1]] : [foreign[0], own[0], foreign[1], own[1]];
  return { instruction: SORT[phrasing % SORT.length]!(f.domain), input: mixed.join(", "), output: own.join(", ") };
}

export function makeDataset(options: Partial<DatasetOptions> = {}): DemoDataset {
  const o = { ...DEFAULT_DATASET, ...options };
  const families = makeFamilies(o);
  const random = rng(o.seed ^ 0x9e3779b9);
  const rows: { record: AlpacaRecord; family: number }[] = [];
  const taught = families.map(() => new Set<number>());
  for (const f of families) {
    const others = families.filter((g) => g.index !== f.index);
    for (let r = 0; r < f.size; r++) rows.push({ record: familyRecord(random, f, others, taught[f.index]!), family: f.index });
  }
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return {
    options: o,
    families,
    records: rows.map((r) => r.record),
    familyOf: rows.map((r) => r.family),
    taught: taught.map((t) => [...t].sort((a, b) => a - b)),
  };
}

/** The file the demo imports: a JSON array, one record a line, so a diff of two seeds is readable. */
export function datasetJson(records: AlpacaRecord[]): string {
  return "[\n" + records.map((r) => JSON.stringify(r)).join(",\n") + "\n]\n";
}
