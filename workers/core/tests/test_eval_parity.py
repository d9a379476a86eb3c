"""Parity with lm-evaluation-harness: the same tiny model and the same task
files through lm_eval.simple_evaluate (the harness's own arc / truthfulqa
yamls, pointed at local files) and through our `eval` job must give the same
acc, acc_norm, mc1, mc2 (1e-4), stderrs and per-choice log-likelihoods.

Offline: the reference runs with HF_DATASETS_OFFLINE / HF_HUB_OFFLINE set
and a private datasets cache."""

import json
import os
import subprocess
import sys

import pytest
from eval_fixtures import tiny_setup

CORE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lm_eval_reference.py")

import lm_eval  # noqa: E402,F401  (pinned in requirements.txt: the parity test must run, never skip)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """Run the harness and our job side by side (two processes, two cores)."""
    tiny = tiny_setup(str(tmp_path_factory.getbasetemp() / "eval-tiny"))
    work = tmp_path_factory.mktemp("parity")
    env = dict(os.environ, PYTHONPATH=CORE, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    ref_out = work / "reference.json"
    ref = subprocess.Popen([sys.executable, REFERENCE, "--model", tiny["model_dir"], "--data", tiny["data_dir"],
                            "--work", str(work / "lm_eval"), "--arc-shots", "0,3", "--tqa-shots", "0",
                            "--batch-size", "8", "--out", str(ref_out)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spec = {"kind": "eval", "model_dir": tiny["model_dir"], "data_dir": tiny["data_dir"],
            "tasks": [{"name": "arc_challenge", "shots": 0}, {"name": "arc_challenge", "shots": 3},
                      {"name": "truthfulqa_mc", "shots": 0}],
            "batch_size": 8, "device": "cpu", "precision": "fp32", "output_dir": str(work / "ours")}
    (work / "spec.json").write_text(json.dumps(spec))
    ours = subprocess.run([sys.executable, "-m", "uniformity_core", "eval", "--spec", str(work / "spec.json")],
                          env=env, capture_output=True, text=True, timeout=300)
    _, ref_err = ref.communicate(timeout=300)
    assert ref.returncode == 0, ref_err[-3000:]
    assert ours.returncode == 0, ours.stderr[-3000:]
    result = [json.loads(l) for l in ours.stdout.splitlines()][-1]
    samples = {}
    for name in os.listdir(work / "ours"):
        if name.startswith("samples_"):
            samples[name] = [json.loads(l) for l in (work / "ours" / name).read_text().splitlines()]
    return json.loads(ref_out.read_text()), result, samples


# (our task, shots, our metric) -> (reference task, reference metric)
PAIRS = {
    ("arc_challenge", 0, "acc"): ("ref_arc_challenge_0shot", "acc"),
    ("arc_challenge", 0, "acc_norm"): ("ref_arc_challenge_0shot", "acc_norm"),
    ("arc_challenge", 3, "acc"): ("ref_arc_challenge_3shot", "acc"),
    ("arc_challenge", 3, "acc_norm"): ("ref_arc_challenge_3shot", "acc_norm"),
    ("truthfulqa_mc", 0, "mc1"): ("ref_truthfulqa_mc1_0shot", "acc"),
    ("truthfulqa_mc", 0, "mc2"): ("ref_truthfulqa_mc2_0shot", "acc"),
}


def test_metrics_equal_the_harness(both):
    ref, result, _ = both
    ours = {(s["task"], s["shots"], s["metric"]): s for s in result["scores"]}
    assert set(ours) == set(PAIRS)
    for key, (task, metric) in PAIRS.items():
        theirs = ref["results"][task]
        assert ours[key]["value"] == pytest.approx(theirs[metric], abs=1e-4), key
        assert ours[key]["stderr"] == pytest.approx(theirs[f"{metric}_stderr"], abs=1e-4), key
        assert ours[key]["n"] == len(ref["lls"][task])


def test_loglikelihoods_equal_the_harness(both):
    ref, _, samples = both
    pairs = [("samples_arc_challenge_0shot.jsonl", "loglikelihoods", "ref_arc_challenge_0shot"),
             ("samples_arc_challenge_3shot.jsonl", "loglikelihoods", "ref_arc_challenge_3shot"),
             ("samples_truthfulqa_mc_0shot.jsonl", "mc1_loglikelihoods", "ref_truthfulqa_mc1_0shot"),
             ("samples_truthfulqa_mc_0shot.jsonl", "mc2_loglikelihoods", "ref_truthfulqa_mc2_0shot")]
    worst = 0.0
    for fname, field, task in pairs:
        ours = [row[field] for row in samples[fname]]
        theirs = ref["lls"][task]
        assert [len(x) for x in ours] == [len(x) for x in theirs], task
        for a, b in zip(ours, theirs):
            worst = max(worst, max(abs(x - y) for x, y in zip(a, b)))
    # float32 sums of ~10 token log-probs: the two computations differ in
    # rounding only (the harness sums in float32 too).
    assert worst < 1e-4, worst
