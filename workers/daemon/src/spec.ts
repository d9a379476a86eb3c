// The spec file the core reads: the job's spec as the service wrote it, plus
// where this worker put the job's inputs and where the core writes its outputs.

export interface LocalInput {
  /** Absolute path of the cached object. */
  path: string;
  format?: string | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Role `precomputed` is the embedding matrix, so it lands on `embedder.path`;
 * any other role R (`dataset`, ...) becomes `R = {path, format}`, keeping what
 * the service already put under R.
 */
export function localSpec(spec: Record<string, unknown>, inputs: Record<string, LocalInput>, outputDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(spec);
  for (const [role, input] of Object.entries(inputs)) {
    if (role === "precomputed") {
      out.embedder = { ...(isObject(out.embedder) ? out.embedder : {}), path: input.path };
      continue;
    }
    const previous = isObject(out[role]) ? (out[role] as Record<string, unknown>) : {};
    out[role] = { ...previous, path: input.path, ...(input.format !== undefined ? { format: input.format } : {}) };
  }
  out.output_dir = outputDir;
  return out;
}

/**
 * The command line that runs the core: torchrun (as `python -m
 * torch.distributed.run`, so it is the venv's own) for a training job on
 * several GPUs, one process otherwise.
 */
export function coreCommand(pythonBin: string, kind: string, specPath: string, gpus: number): string[] {
  const core = ["-m", "uniformity_core", kind, "--spec", specPath];
  if (kind === "train" && Number.isInteger(gpus) && gpus > 1) {
    return [pythonBin, "-m", "torch.distributed.run", "--standalone", `--nproc_per_node=${gpus}`, ...core];
  }
  return [pythonBin, ...core];
}
