// workers list | selftest, and demo
import path from "node:path";
import type { pb } from "@uniformity/lib";
import { CliError, UsageError, choice, numberInRange, parseInteger, parseNumber, str, type Parsed } from "../args";
import type { Command } from "../command";
import { MODELS } from "../demo/model";
import { ROOT } from "../demo/paths";
import { fmtAgo, fmtTime } from "../output";

export function gpuText(gpus: pb.Gpu[]): string {
  if (!gpus.length) return "-";
  // Workers usually hold identical cards: "2x NVIDIA H100 (80 GiB)" reads better than a list.
  const groups = new Map<string, number>();
  for (const gpu of gpus) {
    const key = `${gpu.name} (${Math.round(gpu.memoryMib / 1024)} GiB)`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([key, count]) => `${count}x ${key}`).join(", ");
}

const listCommand: Command = {
  path: "workers list",
  summary: "List live worker daemons.",
  usage: "",
  positionals: [],
  options: {},
  async run(_args, ctx) {
    const res = await ctx.training().listWorkers({}, { signal: ctx.signal });
    ctx.out.document(res.workers);
    const now = new Date();
    ctx.out.table(
      [
        { header: "ID" },
        { header: "HOSTNAME" },
        { header: "GPUS" },
        { header: "SLOTS", align: "right" },
        { header: "BUSY", align: "right" },
        { header: "LAST SEEN" },
        { header: "STARTED" },
        { header: "VERSION" },
      ],
      res.workers.map((w) => [w.id, w.hostname, gpuText(w.gpus), String(w.slots), String(w.busy), fmtAgo(w.lastSeen, now), fmtTime(w.startedAt), w.version || "-"]),
    );
    if (!res.workers.length) ctx.out.line("(no live workers: start one with the worker daemon)");
    return 0;
  },
};

export function selftestRequest(args: Parsed): pb.RunSelftestRequest {
  const steps = str(args, "steps");
  const timeout = str(args, "timeout");
  const stepCount = steps === undefined ? 0 : parseInteger("--steps", steps, 1);
  if (stepCount > 100) throw new UsageError(`--steps must be at most 100, got ${stepCount}`);
  return {
    steps: stepCount,
    sleepS: numberInRange(args, "sleep", 0, 60) ?? 0,
    timeoutS: timeout === undefined ? 0 : parseNumber("--timeout", timeout, (v) => v > 0, "a number of seconds > 0"),
  };
}

const selftestCommand: Command = {
  path: "workers selftest",
  summary: "Send a self-test job through the queue to a worker and show what it reports.",
  usage: "[--steps N] [--sleep S] [--timeout S]",
  description: "Proves the CLI -> service -> NATS -> worker -> core path end to end.",
  positionals: [],
  options: {
    steps: { type: "string", value: "N", help: "progress lines the core emits, 1..100 (default 3)" },
    sleep: { type: "string", value: "S", help: "seconds between lines, 0..60 (default 0)" },
    timeout: { type: "string", value: "S", help: "give up when no worker finishes within S seconds (default 60)" },
  },
  async run(args, ctx) {
    const request = selftestRequest(args);
    const progress = ctx.progress();
    let jobId = "";
    let worker = "";
    let result: unknown;
    let resultSeen = false;
    try {
      for await (const message of ctx.training().runSelftest(request, { signal: ctx.signal })) {
        if (message.worker) worker = message.worker;
        const event = message.event;
        if (event?.$case === "jobId") {
          jobId = event.value;
          ctx.out.line(`job ${jobId}`);
        } else if (event?.$case === "progress") {
          progress.update({ phase: event.value.phase || "selftest", done: event.value.done, total: event.value.total });
        } else if (event?.$case === "resultJson") {
          resultSeen = true;
          try {
            result = JSON.parse(event.value);
          } catch {
            result = event.value;
          }
        }
      }
    } finally {
      progress.end();
    }
    if (!resultSeen) throw new CliError(`self-test${jobId ? ` job ${jobId}` : ""} ended without a result`);
    ctx.out.document({ jobId, worker, result });
    ctx.out.line(`result: ${JSON.stringify(result)}`);
    ctx.out.line(`worker: ${worker || "-"}`);
    return 0;
  },
};

const demoCommand: Command = {
  path: "demo",
  summary: "Run the whole study at small scale: data, uniform and random halves, three trainings, evaluation, comparison, report.",
  usage: "[--report DIR] [--model tiny|smollm2] [--seed S] [--epochs X]",
  description:
    "Runs against the configured mesh (`make demo` starts one, with embedded stores if needed). What was made before with the same settings is reused.",
  positionals: [],
  options: {
    report: { type: "string", value: "DIR", help: "where report.md and its pictures go (default ./demo-report)" },
    model: { type: "string", value: "M", help: "tiny (default: a random tiny LLaMA) or smollm2 (SmolLM2-135M-Instruct from PyPI)" },
    seed: { type: "string", value: "S", help: "seed of the data, the halves and training (default 1)" },
    epochs: { type: "string", value: "X", help: "epochs for all three runs (default 6 for tiny, 1 for smollm2)" },
  },
  async run(args, ctx) {
    const model = choice(args, "model", MODELS) ?? "tiny";
    const seed = str(args, "seed") === undefined ? 1 : parseInteger("--seed", str(args, "seed")!, 0);
    const epochs = str(args, "epochs") === undefined ? undefined : parseNumber("--epochs", str(args, "epochs")!, (v) => v > 0 && v <= 100, "a number in (0, 100]");
    const stateDir = path.join(ctx.env.UNIFORMITY_STATE_DIR ?? path.join(ROOT, ".state"), "demo");
    // Loaded here: the demo draws pictures (a native module) that no other command needs.
    const { runDemo } = await import("../demo/run.js");
    return runDemo(ctx, { model, seed, epochs, ratio: 0.5, reportDir: str(args, "report") ?? "demo-report", stateDir: path.resolve(stateDir) });
  },
};

export const workerCommands: Command[] = [listCommand, selftestCommand];
export const demoCommands: Command[] = [demoCommand];
