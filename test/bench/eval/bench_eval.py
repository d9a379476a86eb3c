"""Benchmark: our `eval` job against lm-evaluation-harness 0.4.x on the same
tiny LLaMA and the same generated task files (25-shot ARC-style questions
and 0-shot TruthfulQA-style mc1/mc2).

    .venv/bin/python test/bench/eval/bench_eval.py [--arc N] [--tqa N] [--shots K] [--batch-size B]

Both run in their own process, one after the other, on CPU in float32 at
the same batch size. Timed: the harness's simple_evaluate call (model load,
dataset build, prompts, scoring) against our job's duration_s (task files,
model load, prompts, scoring, files); process wall times (imports included)
are printed too. Scores must be identical (1e-4; asserted) and the largest
per-choice log-likelihood difference is printed. The machine may be shared:
ratios come from one run.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CORE = os.path.join(REPO, "workers", "core")
TESTS = os.path.join(CORE, "tests")
sys.path[:0] = [CORE, TESTS]

from eval_fixtures import build_tiny_model, write_task_files  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arc", type=int, default=200, help="ARC test questions")
    p.add_argument("--train", type=int, default=100, help="ARC train questions (the shot pool)")
    p.add_argument("--tqa", type=int, default=100, help="TruthfulQA questions")
    p.add_argument("--shots", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="bench-eval-")
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work):
    model_dir, data_dir = os.path.join(work, "model"), os.path.join(work, "data")
    build_tiny_model(model_dir)
    write_task_files(data_dir, n_train=args.train, n_test=args.arc, n_tqa=args.tqa, seed=7)
    env = dict(os.environ, PYTHONPATH=CORE, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    print(f"tiny LLaMA (hidden 64, 2 layers); ARC {args.arc} questions at {args.shots} shots "
          f"(pool {args.train}), TruthfulQA {args.tqa} questions (mc1 + mc2); batch {args.batch_size}; "
          f"{os.cpu_count()} cpus", flush=True)

    started = time.perf_counter()
    ref_out = os.path.join(work, "reference.json")
    subprocess.run([sys.executable, os.path.join(TESTS, "lm_eval_reference.py"), "--model", model_dir,
                    "--data", data_dir, "--work", os.path.join(work, "lm_eval"),
                    "--arc-shots", str(args.shots), "--tqa-shots", "0",
                    "--batch-size", str(args.batch_size), "--out", ref_out],
                   env=env, check=True, stderr=subprocess.DEVNULL)
    ref_wall = time.perf_counter() - started
    ref = json.load(open(ref_out))

    spec = {"kind": "eval", "model_dir": model_dir, "data_dir": data_dir,
            "tasks": [{"name": "arc_challenge", "shots": args.shots}, {"name": "truthfulqa_mc", "shots": 0}],
            "batch_size": args.batch_size, "device": "cpu", "precision": "fp32",
            "output_dir": os.path.join(work, "ours")}
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "uniformity_core", "eval", "--spec", spec_path],
                          env=env, capture_output=True, text=True, check=True)
    ours_wall = time.perf_counter() - started
    result = json.loads(proc.stdout.splitlines()[-1])

    arc_ref = f"ref_arc_challenge_{args.shots}shot"
    pairs = {("arc_challenge", "acc"): (arc_ref, "acc"), ("arc_challenge", "acc_norm"): (arc_ref, "acc_norm"),
             ("truthfulqa_mc", "mc1"): ("ref_truthfulqa_mc1_0shot", "acc"),
             ("truthfulqa_mc", "mc2"): ("ref_truthfulqa_mc2_0shot", "acc")}
    ours = {(s["task"], s["metric"]): s for s in result["scores"]}
    print(f"{'metric':<24}{'ours':>12}{'lm_eval':>12}{'|diff|':>12}")
    worst_metric = 0.0
    for key, (task, metric) in pairs.items():
        a, b = ours[key]["value"], ref["results"][task][metric]
        worst_metric = max(worst_metric, abs(a - b))
        print(f"{key[0] + ' ' + key[1]:<24}{a:>12.6f}{b:>12.6f}{abs(a - b):>12.2e}")

    def rows(name):
        with open(os.path.join(work, "ours", name)) as f:
            return [json.loads(line) for line in f]
    arc_rows = rows(f"samples_arc_challenge_{args.shots}shot.jsonl")
    tqa_rows = rows("samples_truthfulqa_mc_0shot.jsonl")
    worst_ll = 0.0
    for our_lists, task in (([r["loglikelihoods"] for r in arc_rows], arc_ref),
                            ([r["mc1_loglikelihoods"] for r in tqa_rows], "ref_truthfulqa_mc1_0shot"),
                            ([r["mc2_loglikelihoods"] for r in tqa_rows], "ref_truthfulqa_mc2_0shot")):
        for a, b in zip(our_lists, ref["lls"][task], strict=True):
            worst_ll = max(worst_ll, max(abs(x - y) for x, y in zip(a, b, strict=True)))

    print(f"max |diff| metric {worst_metric:.2e}, per-choice log-likelihood {worst_ll:.2e}")
    print(f"lm_eval simple_evaluate {ref['seconds']:.1f}s (process {ref_wall:.1f}s); "
          f"ours duration_s {result['duration_s']:.1f}s (process {ours_wall:.1f}s)")
    print(f"speed-up {ref['seconds'] / result['duration_s']:.2f}x (process {ref_wall / ours_wall:.2f}x)")
    assert worst_metric < 1e-4, worst_metric
    assert worst_ll < 1e-3, worst_ll


if __name__ == "__main__":
    main()
