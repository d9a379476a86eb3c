// Checking a RunSpec at the edge and filling the study's defaults, before
// anything is queued: a bad number never costs accelerator time.
import { invalidArgument, pb } from "@uniformity/lib";

export const TASKS: Record<string, number> = { arc_challenge: 25, truthfulqa_mc: 0 };

/** The run as the core's train spec names it (snake_case, defaults filled). */
export interface TrainSettings {
  model_dir: string;
  loss: "ce" | "l2";
  optimizer: "adamw" | "sgd";
  lr: number;
  batch_size: number;
  micro_batch_size: number;
  max_length: number;
  epochs: number;
  warmup_steps: number;
  precision: "auto" | "fp32" | "fp16" | "bf16";
  gradient_checkpointing: boolean;
  gpus: number;
  seed: number;
  save_steps: number;
  lora_r: number;
}

export interface CheckedRun {
  settings: TrainSettings;
  evals: { name: string; shots: number }[];
  data: { selectionId: string } | { datasetId: string };
}

function positive(field: string, value: number, fallback: number, max: number, integer: boolean): number {
  if (value === 0) return fallback;
  if (!Number.isFinite(value) || value < 0) throw invalidArgument(field, `must be > 0, got ${value}`);
  if (integer && !Number.isInteger(value)) throw invalidArgument(field, `must be an integer, got ${value}`);
  if (value > max) throw invalidArgument(field, `must be at most ${max}, got ${value}`);
  return value;
}

function nonNegative(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0) throw invalidArgument(field, `must be a whole number >= 0, got ${value}`);
  if (value > max) throw invalidArgument(field, `must be at most ${max}, got ${value}`);
  return value;
}

export function checkRunSpec(spec: pb.RunSpec | undefined): CheckedRun {
  if (!spec) throw invalidArgument("spec", "is required");
  let data: CheckedRun["data"];
  if (spec.data?.$case === "selectionId") data = { selectionId: spec.data.value };
  else if (spec.data?.$case === "datasetId") data = { datasetId: spec.data.value };
  else throw invalidArgument("spec.selection_id", "either a selection or a dataset is required");

  if (!spec.modelDir) throw invalidArgument("spec.model_dir", "is required");
  if (!spec.modelDir.startsWith("/")) throw invalidArgument("spec.model_dir", "must be an absolute directory on the worker");

  const loss = ({ [pb.Loss.LOSS_UNSPECIFIED]: "ce", [pb.Loss.LOSS_CE]: "ce", [pb.Loss.LOSS_L2]: "l2" } as const)[spec.loss as 0 | 1 | 2];
  if (!loss) throw invalidArgument("spec.loss", "must be ce or l2");
  const optimizer = ({ [pb.Optimizer.OPTIMIZER_UNSPECIFIED]: "adamw", [pb.Optimizer.OPTIMIZER_ADAMW]: "adamw", [pb.Optimizer.OPTIMIZER_SGD]: "sgd" } as const)[
    spec.optimizer as 0 | 1 | 2
  ];
  if (!optimizer) throw invalidArgument("spec.optimizer", "must be adamw or sgd");
  const precision = (
    { [pb.Precision.PRECISION_UNSPECIFIED]: "auto", [pb.Precision.PRECISION_FP32]: "fp32", [pb.Precision.PRECISION_FP16]: "fp16", [pb.Precision.PRECISION_BF16]: "bf16" } as const
  )[spec.precision as 0 | 1 | 2 | 3];
  if (!precision) throw invalidArgument("spec.precision", "must be fp32, fp16 or bf16");

  if (spec.lr < 0 || !Number.isFinite(spec.lr)) throw invalidArgument("spec.lr", `must be > 0, got ${spec.lr}`);
  const lr = spec.lr === 0 ? 2e-5 : spec.lr;
  if (lr > 10) throw invalidArgument("spec.lr", `must be at most 10, got ${lr}`);
  const batchSize = positive("spec.batch_size", spec.batchSize, 64, 65536, true);
  const microBatchSize = nonNegative("spec.micro_batch_size", spec.microBatchSize, batchSize);
  if (microBatchSize > 0 && batchSize % microBatchSize !== 0) {
    throw invalidArgument("spec.micro_batch_size", `must divide batch_size (${batchSize}), got ${microBatchSize}`);
  }
  const settings: TrainSettings = {
    model_dir: spec.modelDir,
    loss,
    optimizer,
    lr,
    batch_size: batchSize,
    micro_batch_size: microBatchSize,
    max_length: positive("spec.max_length", spec.maxLength, 512, 131072, true),
    epochs: positive("spec.epochs", spec.epochs, 3, 1000, false),
    warmup_steps: nonNegative("spec.warmup_steps", spec.warmupSteps ?? 2, 1_000_000),
    precision,
    gradient_checkpointing: spec.gradientCheckpointing,
    gpus: nonNegative("spec.gpus", spec.gpus, 64),
    seed: nonNegative("spec.seed", spec.seed, Number.MAX_SAFE_INTEGER),
    save_steps: nonNegative("spec.save_steps", spec.saveSteps, 10_000_000),
    lora_r: nonNegative("spec.lora_r", spec.loraR, 4096),
  };
  const evals = spec.evals.map((task, i) => {
    if (!(task.name in TASKS)) throw invalidArgument(`spec.evals[${i}].name`, `must be one of ${Object.keys(TASKS).join(", ")}, got ${JSON.stringify(task.name)}`);
    const shots = task.shots ?? TASKS[task.name]!;
    return { name: task.name, shots: nonNegative(`spec.evals[${i}].shots`, shots, 100) };
  });
  if (evals.length > 0 && !spec.evalDataDir.startsWith("/")) {
    throw invalidArgument("spec.eval_data_dir", "is required with evals: an absolute directory on the worker holding the task files");
  }
  if (!Number.isInteger(spec.evalLimit) || spec.evalLimit < 0) throw invalidArgument("spec.eval_limit", `must be a whole number >= 0, got ${spec.evalLimit}`);
  return { settings, evals, data };
}
