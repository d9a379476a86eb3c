// Cutting chosen records out of a dataset file byte for byte, so an exported
// subset holds exactly the text that was imported.

/** [start, end) byte offsets of every record: top-level array elements, or non-empty lines. */
export function recordSpans(bytes: Uint8Array): [number, number][] {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  return bytes[i] === 0x5b ? arrayElementSpans(bytes, i) : lineSpans(bytes, i);
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function lineSpans(bytes: Uint8Array, from: number): [number, number][] {
  const spans: [number, number][] = [];
  let start = from;
  for (let i = from; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      let s = start;
      while (s < end && isSpace(bytes[s]!)) s++;
      if (s < end) spans.push([start, end]);
      start = i + 1;
    }
  }
  return spans;
}

function arrayElementSpans(bytes: Uint8Array, open: number): [number, number][] {
  const spans: [number, number][] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = open; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++; // skip the escaped byte
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) {
      inString = true;
      if (depth === 1 && start < 0) start = i;
    } else if (b === 0x5b || b === 0x7b) {
      if (depth === 1 && start < 0) start = i;
      depth++;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
      if (depth === 0) {
        if (start >= 0) spans.push([start, trimEnd(bytes, start, i)]);
        break;
      }
    } else if (b === 0x2c && depth === 1) {
      spans.push([start, trimEnd(bytes, start, i)]);
      start = -1;
    } else if (depth === 1 && start < 0 && !isSpace(b)) {
      start = i;
    }
  }
  return spans;
}

function trimEnd(bytes: Uint8Array, start: number, end: number): number {
  while (end > start && isSpace(bytes[end - 1]!)) end--;
  return end;
}

/** The chosen records as a file of the same container: a JSON array or JSON lines. */
export function buildSubset(bytes: Uint8Array, indices: number[]): Buffer {
  const spans = recordSpans(bytes);
  const isArray = (() => {
    let i = bytes[0] === 0xef ? 3 : 0;
    while (i < bytes.length && isSpace(bytes[i]!)) i++;
    return bytes[i] === 0x5b;
  })();
  const parts: Buffer[] = [];
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  indices.forEach((index, n) => {
    const span = spans[index];
    if (!span) throw new Error(`record ${index} is outside the dataset (${spans.length} records)`);
    if (isArray) parts.push(Buffer.from(n === 0 ? "[\n" : ",\n"));
    parts.push(source.subarray(span[0], span[1]));
    if (!isArray) parts.push(Buffer.from("\n"));
  });
  if (isArray) parts.push(Buffer.from(indices.length ? "\n]\n" : "[]\n"));
  return Buffer.concat(parts);
}
