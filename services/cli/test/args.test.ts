// Command lines, good and bad: exit status and the one line a user sees.
// None of these reach a server: every check here happens before the first call.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pb } from "@uniformity/lib";
import { parseCommand } from "../src/args";
import { importHeader } from "../src/commands/dataset";
import { evaluateRequest } from "../src/commands/evaluation";
import { parseTask, startRunRequest } from "../src/commands/runs";
import { selectPlan } from "../src/commands/selection";
import { selftestRequest } from "../src/commands/workers";
import { COMMANDS, findCommand } from "../src/main";
import { cli } from "./helpers";

function parse(line: string[]) {
  const found = findCommand(line);
  assert.ok("command" in found);
  const parsed = parseCommand(found.command, found.rest);
  assert.notEqual(parsed, "help");
  return parsed as Exclude<typeof parsed, "help">;
}

const BAD: [string[], string][] = [
  [[], "missing command (see: uniformity --help)"],
  [["frobnicate"], 'unknown command "frobnicate" (see: uniformity --help)'],
  [["dataset"], "dataset needs a subcommand: import, list, show"],
  [["dataset", "drop"], 'unknown command "dataset drop" (dataset takes: import, list, show)'],
  [["dataset", "import"], "missing FILE (see: uniformity dataset import --help)"],
  [["dataset", "import", "a.json", "b.json"], 'unexpected argument "b.json" (see: uniformity dataset import --help)'],
  [["dataset", "import", "a.json", "--colour"], "unknown option --colour (see: uniformity dataset import --help)"],
  [["dataset", "import", "a.json", "--name"], "--name needs a value"],
  [["dataset", "import", "a.json", "--format", "csv"], '--format must be one of auto, alpaca, sharegpt, got "csv"'],
  [["dataset", "import", "/no/such/file.json"], "/no/such/file.json: no such file"],
  [["dataset", "list", "--json=yes"], "--json does not take a value"],
  [["select", "D", "--size", "10"], "--strategy is required: uniform, random, first, half-random-min-distance, min-distance"],
  [["select", "D", "--strategy", "greedy", "--size", "10"], '--strategy must be one of uniform, random, first, half-random-min-distance, min-distance, got "greedy"'],
  [["select", "D", "--strategy", "uniform"], "give --size or --ratio"],
  [["select", "D", "--strategy", "uniform", "--size", "10", "--ratio", "0.1"], "--size and --ratio cannot be used together"],
  [["select", "D", "--strategy", "uniform", "--size", "0"], '--size must be a positive integer, got "0"'],
  [["select", "D", "--strategy", "uniform", "--size", "10abc"], '--size must be a positive integer, got "10abc"'],
  [["select", "D", "--strategy", "uniform", "--size", "2.5"], '--size must be a positive integer, got "2.5"'],
  [["select", "D", "--strategy", "uniform", "--ratio", "0"], '--ratio must be a number in (0, 1], got "0"'],
  [["select", "D", "--strategy", "uniform", "--ratio", "1.5"], '--ratio must be a number in (0, 1], got "1.5"'],
  [["select", "D", "--strategy", "uniform", "--ratio", "abc"], '--ratio must be a number in (0, 1], got "abc"'],
  [["select", "D", "--strategy", "uniform", "--size", "5", "--embedder", "bert"], '--embedder must be word2vec, tfidf, precomputed:FILE or st:DIR, got "bert"'],
  [["select", "D", "--strategy", "uniform", "--size", "5", "--embedder", "precomputed:"], '--embedder must be word2vec, tfidf, precomputed:FILE or st:DIR, got "precomputed:"'],
  [["select", "D", "--strategy", "uniform", "--size", "5", "--embedder", "precomputed:/no/such.npy"], "/no/such.npy: no such file"],
  [["select", "D", "--strategy", "uniform", "--size", "5", "--dim", "-3"], '--dim needs a value; write --dim=VALUE for one starting with "-"'],
  [["selection", "export", "ID"], "--output is required"],
  [["selection", "export", "ID", "-o", "/no/such/dir/out.json"], "/no/such/dir: no such directory"],
  [["selection", "export", "ID", "-o", "out.json", "--order", "random"], '--order must be one of original, selection, got "random"'],
  [["train", "--model", "m"], "give --selection or --dataset"],
  [["train", "--selection", "S", "--dataset", "D", "--model", "m"], "--selection and --dataset cannot be used together"],
  [["train", "--selection", "S"], "--model is required"],
  [["train", "--selection", "S", "--model", "m", "--lr", "0"], '--lr must be a number > 0, got "0"'],
  [["train", "--selection", "S", "--model", "m", "--loss", "mse"], '--loss must be one of ce, l2, got "mse"'],
  [["train", "--selection", "S", "--model", "m", "--precision", "int8"], '--precision must be one of fp32, fp16, bf16, got "int8"'],
  [["train", "--selection", "S", "--model", "m", "--batch-size", "8", "--micro-batch-size", "16"], "--micro-batch-size (16) must not exceed --batch-size (8)"],
  [["train", "--selection", "S", "--model", "m", "--eval", "arc_challenge:many"], '--eval arc_challenge: SHOTS must be a non-negative integer, got "many"'],
  [["runs", "logs", "R", "--max-points", "0"], '--max-points must be a positive integer, got "0"'],
  [["eval", "--task", "arc_challenge", "--data", "d"], "give --run or --model"],
  [["eval", "--run", "R", "--data", "d"], "give at least one --task (arc_challenge[:SHOTS], truthfulqa_mc[:SHOTS])"],
  [["eval", "--run", "R", "--task", "arc_challenge"], "--data is required"],
  [["compare"], "missing RUN (see: uniformity compare --help)"],
  [["compare", "A", "--threshold=-1"], '--threshold must be a number > 0, got "-1"'],
  [["workers", "selftest", "--steps", "101"], "--steps must be at most 100, got 101"],
  [["workers", "selftest", "--sleep", "61"], '--sleep must be a number between 0 and 60, got "61"'],
  [["demo", "--model", "gpt2"], '--model must be one of tiny, smollm2, got "gpt2"'],
  [["demo", "--epochs", "0"], '--epochs must be a number in (0, 100], got "0"'],
];

test("bad command lines exit 2 with one line naming the problem", async () => {
  for (const [argv, line] of BAD) {
    const result = await cli(argv);
    assert.equal(result.stderr, `uniformity: ${line}\n`, argv.join(" "));
    assert.equal(result.code, 2, argv.join(" "));
    assert.equal(result.stdout, "", argv.join(" "));
  }
});

test("--help works on every command, even beside bad flags, and exits 0", async () => {
  for (const command of COMMANDS) {
    const result = await cli([...command.path.split(" "), "--bogus", "--help"]);
    assert.equal(result.code, 0, command.path);
    assert.match(result.stdout, new RegExp(`^usage: uniformity ${command.path}`), command.path);
    assert.match(result.stdout, /--json/, command.path);
    assert.equal(result.stderr, "");
  }
  const global = await cli(["--help"]);
  assert.equal(global.code, 0);
  for (const command of COMMANDS) assert.ok(global.stdout.includes(`  ${command.path}  `), command.path);
  const group = await cli(["runs", "--help"]);
  assert.match(group.stdout, /runs logs/);
  const version = await cli(["--version"]);
  assert.match(version.stdout, /^uniformity \d+\.\d+\.\d+\n$/);
});

test("a bad service address in the environment is a one-line usage error", async () => {
  const result = await cli(["dataset", "list"], { UNIFORMITY_SELECTION_ADDR: "nowhere" });
  assert.equal(result.code, 2);
  assert.equal(result.stderr, 'uniformity: config: UNIFORMITY_SELECTION_ADDR must be host:port, got "nowhere"\n');
});

test("select flags become the SelectRequest", () => {
  const plan = selectPlan(parse(["select", "DS", "--strategy", "half-random-min-distance", "--ratio", "0.1", "--embedder", "tfidf", "--dim", "64", "--seed", "7"]));
  assert.deepEqual(plan.request, {
    datasetId: "DS",
    strategy: pb.Strategy.STRATEGY_HALF_RANDOM_MIN_DISTANCE,
    target: { $case: "ratio", value: 0.1 },
    embedder: { kind: pb.EmbedderKind.EMBEDDER_KIND_TFIDF, dim: 64, window: 0, minCount: 0, epochs: 0, precomputedSha256: "", modelDir: "" },
    seed: 7,
  });
  assert.equal(plan.embeddingsFile, undefined);
  const st = selectPlan(parse(["select", "DS", "--strategy", "uniform", "--size", "1000", "--embedder", "st:/models/mini:v2"]));
  assert.deepEqual(st.request.target, { $case: "size", value: 1000 });
  assert.equal(st.request.embedder?.kind, pb.EmbedderKind.EMBEDDER_KIND_SENTENCE_TRANSFORMERS);
  assert.equal(st.request.embedder?.modelDir, "/models/mini:v2");
  const pre = selectPlan(parse(["select", "DS", "--strategy", "random", "--size", "3", "--embedder", "precomputed:emb.npy"]));
  assert.equal(pre.embeddingsFile, "emb.npy");
  assert.equal(pre.request.embedder?.kind, pb.EmbedderKind.EMBEDDER_KIND_PRECOMPUTED);
  assert.equal(pre.request.strategy, pb.Strategy.STRATEGY_RANDOM);
});

test("train flags become the RunSpec; unset flags leave the server's defaults", () => {
  const request = startRunRequest(
    parse([
      "train", "--selection", "SEL", "--model", "/m/llama", "--loss", "l2", "--optim", "sgd", "--lr", "1e-4",
      "--batch-size", "32", "--micro-batch-size", "4", "--epochs", "1.5", "--warmup-steps", "0", "--precision", "bf16",
      "--gradient-checkpointing", "--gpus", "2", "--eval", "arc_challenge:25", "--eval", "truthfulqa_mc", "--eval-data", "/data/tasks", "--name", "u-10",
    ]),
  );
  assert.equal(request.name, "u-10");
  const spec = request.spec!;
  assert.deepEqual(spec.data, { $case: "selectionId", value: "SEL" });
  assert.equal(spec.loss, pb.Loss.LOSS_L2);
  assert.equal(spec.optimizer, pb.Optimizer.OPTIMIZER_SGD);
  assert.equal(spec.precision, pb.Precision.PRECISION_BF16);
  assert.equal(spec.lr, 1e-4);
  assert.equal(spec.epochs, 1.5);
  assert.equal(spec.maxLength, 0);
  assert.equal(spec.gradientCheckpointing, true);
  assert.deepEqual(spec.evals, [{ name: "arc_challenge", shots: 25 }, { name: "truthfulqa_mc" }]);
  assert.equal(spec.evalDataDir, "/data/tasks");
  assert.equal(spec.warmupSteps, 0, "an explicit 0 is sent, not the default");
  assert.throws(() => startRunRequest(parse(["train", "--dataset", "DS", "--model", "/m", "--eval", "arc_challenge"])), /--eval needs --eval-data DIR/);
  const plain = startRunRequest(parse(["train", "--dataset", "DS", "--model", "m"])).spec!;
  assert.deepEqual(plain.data, { $case: "datasetId", value: "DS" });
  assert.equal(plain.loss, pb.Loss.LOSS_UNSPECIFIED);
  assert.equal(plain.batchSize, 0);
  assert.equal(plain.warmupSteps, undefined, "unset leaves the server's default");
});

test("eval, tasks, import header and selftest requests", () => {
  assert.deepEqual(parseTask("--task", "truthfulqa_mc:0"), { name: "truthfulqa_mc", shots: 0 });
  assert.throws(() => parseTask("--task", "arc challenge"), /--task must be TASK or TASK:SHOTS/);
  const request = evaluateRequest(parse(["eval", "--model", "/m", "--task", "arc_challenge:25", "--data", "/d", "--limit", "50"]));
  assert.deepEqual(request, {
    target: { $case: "modelDir", value: "/m" },
    tasks: [{ name: "arc_challenge", shots: 25 }],
    dataDir: "/d",
    limit: 50,
    batchSize: 0,
  });
  assert.deepEqual(importHeader(parse(["dataset", "import", "/data/alpaca_data.json"]), "/data/alpaca_data.json"), {
    name: "alpaca_data",
    format: pb.DatasetFormat.DATASET_FORMAT_UNSPECIFIED,
  });
  assert.deepEqual(importHeader(parse(["dataset", "import", "x.jsonl", "--name", "wiz", "--format", "sharegpt"]), "x.jsonl"), {
    name: "wiz",
    format: pb.DatasetFormat.DATASET_FORMAT_SHAREGPT,
  });
  assert.deepEqual(selftestRequest(parse(["workers", "selftest", "--steps", "5", "--sleep", "0.5", "--timeout", "30"])), { steps: 5, sleepS: 0.5, timeoutS: 30 });
});
