// Drives the CLI in-process and captures what it writes.
import { Writable } from "node:stream";
import { run, type Env } from "../src/main";

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

export function sink(tty = false, columns = 80): Writable & { text: () => string; isTTY?: boolean; columns?: number } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { text: () => string; isTTY?: boolean; columns?: number };
  stream.text = () => chunks.join("");
  if (tty) {
    stream.isTTY = true;
    stream.columns = columns;
  }
  return stream;
}

/** Runs one command line with an environment of its own (never the test process's). */
export async function cli(argv: string[], env: Env = {}): Promise<Captured> {
  const stdout = sink();
  const stderr = sink();
  const code = await run(argv, { stdout, stderr }, env);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
