import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, pb, status } from "@uniformity/lib";
import { checkRunSpec } from "../src/spec";
import { stepRow } from "../src/recorder";
import { strideFor } from "../src/service";

const base = (over: Partial<pb.RunSpec> = {}): pb.RunSpec =>
  pb.RunSpec.fromPartial({ data: { $case: "selectionId", value: "a7b9b2c3-dc55-4a23-ab28-350e05663ecf" }, modelDir: "/models/tiny", ...over });

const invalid = (field: string) => (err: unknown) => err instanceof ApiError && err.code === status.INVALID_ARGUMENT && err.message.startsWith(`${field}: `);

test("zero values take the study's defaults", () => {
  const { settings, evals } = checkRunSpec(base());
  assert.deepEqual(settings, {
    model_dir: "/models/tiny",
    loss: "ce",
    optimizer: "adamw",
    lr: 2e-5,
    batch_size: 64,
    micro_batch_size: 0,
    max_length: 512,
    epochs: 3,
    warmup_steps: 2,
    precision: "auto",
    gradient_checkpointing: false,
    gpus: 0,
    seed: 0,
    save_steps: 0,
    lora_r: 0,
  });
  assert.deepEqual(evals, []);
});

test("explicit values pass through; an explicit warm-up of 0 is kept", () => {
  const { settings, evals } = checkRunSpec(
    base({ loss: pb.Loss.LOSS_L2, optimizer: pb.Optimizer.OPTIMIZER_SGD, lr: 0.1, batchSize: 8, microBatchSize: 2, warmupSteps: 0, precision: pb.Precision.PRECISION_BF16, evals: [{ name: "arc_challenge" }, { name: "truthfulqa_mc", shots: 3 }], evalDataDir: "/data/tasks" }),
  );
  assert.equal(settings.loss, "l2");
  assert.equal(settings.optimizer, "sgd");
  assert.equal(settings.micro_batch_size, 2);
  assert.equal(settings.warmup_steps, 0);
  assert.equal(settings.precision, "bf16");
  assert.deepEqual(evals, [{ name: "arc_challenge", shots: 25 }, { name: "truthfulqa_mc", shots: 3 }]);
});

test("bad values are refused naming the field", () => {
  assert.throws(() => checkRunSpec(undefined), invalid("spec"));
  assert.throws(() => checkRunSpec(base({ data: undefined })), invalid("spec.selection_id"));
  assert.throws(() => checkRunSpec(base({ modelDir: "" })), invalid("spec.model_dir"));
  assert.throws(() => checkRunSpec(base({ modelDir: "relative/dir" })), invalid("spec.model_dir"));
  assert.throws(() => checkRunSpec(base({ lr: -1 })), invalid("spec.lr"));
  assert.throws(() => checkRunSpec(base({ batchSize: -8 })), invalid("spec.batch_size"));
  assert.throws(() => checkRunSpec(base({ batchSize: 8, microBatchSize: 3 })), invalid("spec.micro_batch_size"));
  assert.throws(() => checkRunSpec(base({ maxLength: -1 })), invalid("spec.max_length"));
  assert.throws(() => checkRunSpec(base({ epochs: -0.5 })), invalid("spec.epochs"));
  assert.throws(() => checkRunSpec(base({ loss: 7 as pb.Loss })), invalid("spec.loss"));
  assert.throws(() => checkRunSpec(base({ optimizer: 9 as pb.Optimizer })), invalid("spec.optimizer"));
  assert.throws(() => checkRunSpec(base({ gpus: -1 })), invalid("spec.gpus"));
  assert.throws(() => checkRunSpec(base({ evals: [{ name: "mmlu" }] })), invalid("spec.evals[0].name"));
  assert.throws(() => checkRunSpec(base({ evals: [{ name: "arc_challenge" }] })), invalid("spec.eval_data_dir"));
});

test("step events become loss rows; malformed ones are dropped", () => {
  assert.deepEqual(stepRow("r", { step: 3, epoch: 0.5, loss: 1.25, lr: 2e-5, grad_norm: 0.7, tokens: 900, samples: 8, elapsed_s: 4.5, tokens_per_s: 200 }), {
    runId: "r",
    step: 3,
    epoch: 0.5,
    loss: 1.25,
    lr: 2e-5,
    gradNorm: 0.7,
    tokens: 900,
    samples: 8,
    elapsedS: 4.5,
    tokensPerS: 200,
  });
  assert.equal(stepRow("r", { step: 0, loss: 1 }), undefined);
  assert.equal(stepRow("r", { step: 2, loss: Number.NaN }), undefined);
});

test("downsampling keeps about max_points points", () => {
  assert.equal(strideFor(100_000, 1000), 100);
  assert.equal(strideFor(999, 1000), 1);
  assert.equal(strideFor(1001, 1000), 2);
  assert.equal(strideFor(50, 0), 1);
});
