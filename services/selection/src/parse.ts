// Parsing and validating an instruction dataset's bytes. Pure: the service
// calls it before anything is stored, so a bad file leaves no trace.

export type DatasetFormatName = "alpaca" | "sharegpt";

export class DatasetError extends Error {
  constructor(
    /** Where: "line 12", "record 3", or "file". */
    readonly where: string,
    readonly field: string | undefined,
    problem: string,
  ) {
    super(field ? `${where}: field "${field}" ${problem}` : `${where}: ${problem}`);
    this.name = "DatasetError";
  }
}

export interface ParsedDataset {
  format: DatasetFormatName;
  recordCount: number;
  /** "json" for one array, "jsonl" for one object a line. */
  container: "json" | "jsonl";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decode(bytes: Uint8Array): string {
  try {
    const text = utf8.decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    const at = firstBadUtf8Byte(bytes);
    if (at < 0) throw new DatasetError("file", undefined, "is not valid UTF-8");
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    throw new DatasetError(`line ${line}`, undefined, `is not valid UTF-8 (byte ${at})`);
  }
}

/** Offset of the first byte that cannot start or continue a UTF-8 sequence; only used to point at the problem. */
function firstBadUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const extra = lead < 0x80 ? 0 : lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
    if (extra < 0 || i + extra >= bytes.length + (extra === 0 ? 1 : 0)) return i;
    for (let k = 1; k <= extra; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += extra + 1;
  }
  return -1;
}

function detect(record: unknown, where: string): DatasetFormatName {
  if (record && typeof record === "object" && !Array.isArray(record)) {
    if ("conversations" in record) return "sharegpt";
    if ("instruction" in record) return "alpaca";
  }
  throw new DatasetError(where, undefined, 'cannot detect the format: expected an object with "instruction" (alpaca) or "conversations" (sharegpt)');
}

function checkAlpaca(record: unknown, where: string): void {
  if (!record || typeof record !== "object" || Array.isArray(record)) throw new DatasetError(where, undefined, "must be a JSON object");
  const r = record as Record<string, unknown>;
  for (const field of ["instruction", "output"]) {
    if (!(field in r)) throw new DatasetError(where, field, "is missing");
    if (typeof r[field] !== "string") throw new DatasetError(where, field, `must be a string, got ${kindOf(r[field])}`);
  }
  if ("input" in r && r.input !== null && typeof r.input !== "string") {
    throw new DatasetError(where, "input", `must be a string, got ${kindOf(r.input)}`);
  }
}

function checkShareGpt(record: unknown, where: string): void {
  if (!record || typeof record !== "object" || Array.isArray(record)) throw new DatasetError(where, undefined, "must be a JSON object");
  const turns = (record as Record<string, unknown>).conversations;
  if (turns === undefined) throw new DatasetError(where, "conversations", "is missing");
  if (!Array.isArray(turns)) throw new DatasetError(where, "conversations", `must be an array, got ${kindOf(turns)}`);
  if (turns.length === 0) throw new DatasetError(where, "conversations", "is empty");
  turns.forEach((turn, i) => {
    if (!turn || typeof turn !== "object" || Array.isArray(turn)) throw new DatasetError(where, `conversations[${i}]`, "must be an object");
    const t = turn as Record<string, unknown>;
    for (const field of ["from", "value"]) {
      if (typeof t[field] !== "string") throw new DatasetError(where, `conversations[${i}].${field}`, t[field] === undefined ? "is missing" : `must be a string, got ${kindOf(t[field])}`);
    }
  });
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Parses and validates every record; throws DatasetError naming the record or line and the field. */
export function parseDataset(bytes: Uint8Array, requested: DatasetFormatName | "auto"): ParsedDataset {
  const text = decode(bytes);
  const start = text.search(/\S/);
  if (start < 0) throw new DatasetError("file", undefined, "is empty: no records");

  let records: { value: unknown; where: string }[];
  let container: "json" | "jsonl";
  if (text[start] === "[") {
    container = "json";
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      const position = /position (\d+)/.exec((err as Error).message);
      const where = position ? `line ${lineOfOffset(text, Number(position[1]))}` : "file";
      throw new DatasetError(where, undefined, `not valid JSON (${(err as Error).message})`);
    }
    records = (parsed as unknown[]).map((value, i) => ({ value, where: `record ${i}` }));
  } else if (text[start] === "{") {
    container = "jsonl";
    records = [];
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo++;
      if (!line.trim()) continue;
      try {
        records.push({ value: JSON.parse(line), where: `line ${lineNo}` });
      } catch (err) {
        throw new DatasetError(`line ${lineNo}`, undefined, `not valid JSON (${(err as Error).message})`);
      }
    }
  } else {
    throw new DatasetError(`line ${lineOfOffset(text, start)}`, undefined, "not JSON: expected a JSON array or one JSON object per line");
  }
  if (records.length === 0) throw new DatasetError("file", undefined, "holds zero records");

  const format = requested === "auto" ? detect(records[0]!.value, records[0]!.where) : requested;
  const check = format === "alpaca" ? checkAlpaca : checkShareGpt;
  for (const record of records) check(record.value, record.where);
  return { format, recordCount: records.length, container };
}
