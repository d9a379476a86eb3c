// GPU inventory the heartbeat advertises, read from nvidia-smi when present.
import { execFile } from "node:child_process";
import type { Logger } from "@uniformity/lib";

export interface Gpu {
  index: number;
  name: string;
  /** Total memory; null when the driver reports it as unavailable. */
  memory_mib: number | null;
}

export const NVIDIA_SMI_ARGS = ["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"];

/** Parses `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`. */
export function parseGpuList(csv: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const raw of csv.split(/\r?\n/)) {
    const fields = raw.split(",").map((field) => field.trim());
    if (fields.length < 3) continue;
    const index = Number(fields[0]);
    if (fields[0] === "" || !Number.isInteger(index) || index < 0) continue;
    // A product name may itself hold a comma; index and memory are the outer fields.
    const memory = Number(fields[fields.length - 1]);
    const name = fields.slice(1, -1).join(", ");
    gpus.push({ index, name, memory_mib: fields[fields.length - 1] !== "" && Number.isFinite(memory) ? memory : null });
  }
  return gpus;
}

/** The GPUs of this machine; none (CPU only) when nvidia-smi is absent or fails. */
export function detectGpus(log: Logger, binary = "nvidia-smi"): Promise<Gpu[]> {
  return new Promise((resolve) => {
    execFile(binary, NVIDIA_SMI_ARGS, { timeout: 10_000 }, (err, stdout) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") log.warn("nvidia-smi failed; advertising CPU only", { error: err.message });
        resolve([]);
        return;
      }
      resolve(parseGpuList(stdout));
    });
  });
}
