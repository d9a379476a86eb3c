"""`python -m uniformity_core eval --spec FILE` as the daemon runs it:
progress and result lines, exit 2 with a clear message on bad input and
nothing written."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from eval_fixtures import tiny_setup

CORE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_setup(str(tmp_path_factory.getbasetemp() / "eval-tiny"))


def run_eval(spec, tmp_path, timeout=180):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=CORE, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "uniformity_core", "eval", "--spec", str(path)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=timeout)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def base_spec(tiny, out, **over):
    spec = {"kind": "eval", "model_dir": tiny["model_dir"], "data_dir": tiny["data_dir"],
            "tasks": [{"name": "arc_challenge", "shots": 2}, {"name": "truthfulqa_mc"}],
            "limit": 6, "batch_size": 4, "device": "cpu", "precision": "fp32", "output_dir": str(out)}
    spec.update(over)
    return spec


def test_eval_job_emits_progress_and_result_and_writes_files(tiny, tmp_path):
    out = tmp_path / "out"
    rc, lines, err = run_eval(base_spec(tiny, out), tmp_path)
    assert rc == 0, err
    assert [l["type"] for l in lines][-1] == "result"
    progress = [l for l in lines if l["type"] == "progress"]
    assert {p["phase"] for p in progress} >= {"load", "score"}
    last_score = [p for p in progress if p["phase"] == "score"][-1]
    assert last_score["done"] == last_score["total"] > 0
    result = lines[-1]
    assert result["kind"] == "eval" and result["duration_s"] > 0
    got = {(s["task"], s["shots"], s["metric"]): s for s in result["scores"]}
    assert set(got) == {("arc_challenge", 2, "acc"), ("arc_challenge", 2, "acc_norm"),
                        ("truthfulqa_mc", 0, "mc1"), ("truthfulqa_mc", 0, "mc2")}
    for s in got.values():
        assert s["n"] == 6 and 0.0 <= s["value"] <= 1.0 and s["stderr"] >= 0.0
    files = sorted(os.listdir(out))
    assert files == ["eval_results.json", "samples_arc_challenge_2shot.jsonl",
                     "samples_truthfulqa_mc_0shot.jsonl"]
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["scores"] == result["scores"]
    rows = [json.loads(l) for l in (out / "samples_arc_challenge_2shot.jsonl").read_text().splitlines()]
    acc = sum(r["acc"] for r in rows) / len(rows)
    assert acc == got[("arc_challenge", 2, "acc")]["value"]


def test_default_shots_are_25_for_arc_and_0_for_truthfulqa(tiny, tmp_path):
    from uniformity_core.eval import read_tasks
    assert read_tasks({"tasks": [{"name": "arc_challenge"}, {"name": "truthfulqa_mc"}]}) == \
        [("arc_challenge", 25), ("truthfulqa_mc", 0)]


def _expect_bad_input(tiny, tmp_path, spec, *needles):
    rc, lines, err = run_eval(spec, tmp_path)
    assert rc == 2, err
    assert len(lines) == 1 and lines[0]["type"] == "error" and lines[0]["code"] == "invalid_argument"
    message = lines[0]["message"]
    for needle in needles:
        assert needle in message, message
    # nothing half-written
    assert not os.path.exists(spec["output_dir"])
    return message


def test_unknown_task(tiny, tmp_path):
    spec = base_spec(tiny, tmp_path / "out", tasks=[{"name": "hellaswag"}])
    _expect_bad_input(tiny, tmp_path, spec, "tasks[0].name", "hellaswag")


def test_unknown_spec_key(tiny, tmp_path):
    spec = base_spec(tiny, tmp_path / "out", temperature=0.7)
    _expect_bad_input(tiny, tmp_path, spec, "temperature", "unknown field")


def test_too_many_shots(tiny, tmp_path):
    spec = base_spec(tiny, tmp_path / "out", tasks=[{"name": "arc_challenge", "shots": 41}])
    _expect_bad_input(tiny, tmp_path, spec, "tasks[0].shots", "41 shots", "ARC-Challenge-Train.jsonl", "40")


def test_malformed_task_file_names_file_line_and_field(tiny, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny["data_dir"], data)
    test_file = data / "ARC-V1-Feb2018-2" / "ARC-Challenge" / "ARC-Challenge-Test.jsonl"
    lines = test_file.read_text().splitlines()
    row = json.loads(lines[4])
    del row["question"]["stem"]
    lines[4] = json.dumps(row)
    test_file.write_text("\n".join(lines) + "\n")
    spec = base_spec(tiny, tmp_path / "out", data_dir=str(data))
    _expect_bad_input(tiny, tmp_path, spec, f"{test_file}:5: question.stem")


def test_missing_task_file(tiny, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    spec = base_spec(tiny, tmp_path / "out", data_dir=str(data))
    _expect_bad_input(tiny, tmp_path, spec, "not found", "ARC-Challenge-Test.jsonl")


def test_missing_model_dir(tiny, tmp_path):
    spec = base_spec(tiny, tmp_path / "out", model_dir=str(tmp_path / "nope"))
    _expect_bad_input(tiny, tmp_path, spec, "model_dir", "not found")


def test_model_dir_that_is_not_a_causal_lm(tiny, tmp_path):
    model = tmp_path / "t5"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "t5", "d_model": 32}))
    spec = base_spec(tiny, tmp_path / "out", model_dir=str(model))
    _expect_bad_input(tiny, tmp_path, spec, "model_dir", "not a causal language model")


def test_model_dir_without_weights(tiny, tmp_path):
    model = tmp_path / "noweights"
    shutil.copytree(tiny["model_dir"], model)
    os.remove(model / "model.safetensors")
    spec = base_spec(tiny, tmp_path / "out", model_dir=str(model))
    _expect_bad_input(tiny, tmp_path, spec, "model_dir", "cannot load the model weights")
