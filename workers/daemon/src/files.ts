// Bytes between the object store and this worker's disk: job inputs into a
// local cache named by sha256, and result files out under theirs.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { putObject, streamObject } from "@uniformity/lib";
import type { ObjectStore } from "nats";

/** An input no retry can bring back: the job fails at once, like the core's exit 2. */
export class MissingInput extends Error {}

/** Returns the cached file for `sha256`, downloading and verifying it first when absent. */
export async function fetchInput(store: ObjectStore, cacheDir: string, sha256: string, signal: AbortSignal): Promise<string> {
  const target = path.join(cacheDir, sha256);
  // Files only appear under their final name after verification, so presence means good bytes.
  if (await exists(target)) return target;
  const info = await store.info(sha256);
  if (!info || info.deleted) throw new MissingInput(`input object ${sha256} is not in the object store`);
  await fs.mkdir(cacheDir, { recursive: true });
  const partial = `${target}.${randomUUID()}.part`;
  const hash = createHash("sha256");
  try {
    await pipeline(
      streamObject(store, sha256),
      async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(partial),
      { signal },
    );
    const actual = hash.digest("hex");
    if (actual !== sha256) throw new Error(`input object ${sha256} arrived with sha256 ${actual}`);
    // Concurrent jobs may fetch the same object; rename is atomic, so either copy wins intact.
    await fs.rename(partial, target);
    return target;
  } finally {
    await fs.rm(partial, { force: true });
  }
}

export interface StoredFile {
  sha256: string;
  bytes: number;
  name: string;
}

/** Uploads each result file (path relative to the job dir) and returns its object-store reference. */
export async function uploadResultFiles(store: ObjectStore, files: Record<string, unknown>, jobDir: string): Promise<Record<string, unknown>> {
  const stored: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(files)) {
    if (typeof value !== "string") {
      stored[key] = value;
      continue;
    }
    const local = path.resolve(jobDir, value);
    const { sha256, bytes } = await hashFile(local);
    await putObject(store, sha256, createReadStream(local));
    stored[key] = { sha256, bytes, name: path.basename(local) } satisfies StoredFile;
  }
  return stored;
}

export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
