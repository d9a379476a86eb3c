// Local files on both ends of the streaming calls: read in fixed chunks so a
// multi-gigabyte dataset never sits in memory, and written through a
// temporary file so a failed download never leaves a half-written result.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { CliError, UsageError } from "./args";

/** 1 MiB: well under the 64 MiB message limit, large enough that framing costs nothing. */
export const CHUNK_BYTES = 1024 * 1024;

/** Size of a file the user named; usage error (exit 2) when it is not a readable file. */
export async function inputFile(file: string): Promise<number> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new UsageError(`${file}: no such file`);
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  if (!stat.isFile()) throw new UsageError(`${file}: not a regular file`);
  return stat.size;
}

/** Checked before any call, so a typo in -o costs nothing on the server. */
export async function outputFile(file: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new UsageError(`${path.dirname(file)}: no such directory`);
  const existing = await fs.stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`${file}: is a directory`);
}

/** The file's bytes in chunks of `size` (the last one shorter), each a fresh buffer the caller may keep. */
export async function* readChunks(file: string, size = CHUNK_BYTES): AsyncGenerator<Buffer> {
  const handle = await fs.open(file, "r");
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buffer, 0, size, null);
      if (bytesRead === 0) return;
      yield bytesRead === size ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Writes the chunks to `file` via a temporary sibling renamed at the end; returns the bytes written. */
export async function writeAtomically(file: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onChunk?: (written: number) => void): Promise<number> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.part`);
  let written = 0;
  let handle;
  try {
    handle = await fs.open(temp, "wx");
  } catch (err) {
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
  }
  try {
    for await (const chunk of chunks) {
      await handle.write(chunk);
      written += chunk.length;
      onChunk?.(written);
    }
    await handle.close();
    handle = undefined;
    await fs.rename(temp, file);
    return written;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.unlink(temp).catch(() => undefined);
    if (err instanceof CliError) throw err;
    // Local I/O errors carry a string code (ENOSPC, EACCES); anything else is the stream's own failure.
    const code = (err as NodeJS.ErrnoException).code;
    throw typeof code === "string" ? new CliError(`cannot write ${file}: ${(err as Error).message}`) : err;
  }
}
