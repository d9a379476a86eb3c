"""`python -m uniformity_core train` as the daemon runs it: protocol lines,
exit codes, SIGTERM, and resume after a kill reproducing the uninterrupted
loss trace step for step."""

import json
import os
import signal

import pytest
from train_support import base_spec, make_alpaca, run_inprocess, run_job, start_job, steps_of, tiny_model_dir, write_json

STEP_FIELDS = {"type", "step", "epoch", "loss", "lr", "grad_norm", "tokens", "samples", "elapsed_s",
               "tokens_per_s", "total_steps"}
# What must match between an interrupted-and-resumed run and an uninterrupted one.
TRACE_FIELDS = ("step", "epoch", "loss", "lr", "grad_norm", "tokens", "samples", "total_steps")


@pytest.fixture(scope="session")
def model_dir():
    return tiny_model_dir()


@pytest.fixture(scope="session")
def data_path(tmp_path_factory):
    return write_json(str(tmp_path_factory.mktemp("data") / "alpaca.json"), make_alpaca(48))


@pytest.fixture(scope="session")
def long_spec(model_dir, data_path):
    # 48 records, batch 4, 2 epochs: 24 steps, long enough to interrupt.
    return lambda out: base_spec(model_dir, data_path, out, batch_size=4, epochs=2, save_steps=3,
                                 max_length=256, seed=5)


@pytest.fixture(scope="session")
def reference_trace(long_spec, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    code, events = run_inprocess(long_spec(str(tmp / "out")), str(tmp))
    assert code == 0
    trace = steps_of(events)
    assert sorted(trace) == list(range(1, 25))
    return trace


def trace_view(steps):
    return {s: tuple(e[f] for f in TRACE_FIELDS) for s, e in steps.items()}


def test_run_emits_protocol_lines_and_a_loadable_final_model(tmp_path, model_dir, data_path):
    out = str(tmp_path / "out")
    code, events, err = run_job(base_spec(model_dir, data_path, out, max_steps=4, save_steps=2), str(tmp_path))
    assert code == 0, err
    steps = [e for e in events if e["type"] == "step"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    for s in steps:
        assert set(s) == STEP_FIELDS
        assert s["total_steps"] == 4 and s["samples"] == 8 and s["tokens"] > 0 and s["loss"] > 0
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [2, 4]
    result = events[-1]
    assert result["type"] == "result" and result["kind"] == "train"
    assert result["steps"] == 4 and result["final_loss"] == steps[-1]["loss"]
    assert result["best_loss"] == min(s["loss"] for s in steps)
    assert result["tokens"] == sum(s["tokens"] for s in steps)
    assert result["checkpoint_dir"] == os.path.join(out, "final")
    assert isinstance(result["truncated"], int) and result["wall_s"] > 0

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(result["checkpoint_dir"], local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(result["checkpoint_dir"], local_files_only=True)
    ids = tok("### Instruction:\nname a river", return_tensors="pt")["input_ids"]
    assert torch.isfinite(model(ids).logits).all()
    assert tok.pad_token is not None


@pytest.mark.parametrize("break_it,field", [
    (lambda spec, tmp: spec.update(model_dir=str(tmp / "nope")), "model_dir"),
    (lambda spec, tmp: spec.update(loss="hinge"), "loss"),
    (lambda spec, tmp: spec.update(lr=0), "lr"),
    (lambda spec, tmp: spec.update(gpus=4), "gpus"),
    (lambda spec, tmp: spec["dataset"].update(path=write_json(str(tmp / "empty.json"), [])), "dataset.path"),
])
def test_bad_input_exits_2_with_an_error_line_naming_the_field(tmp_path, model_dir, data_path, break_it, field):
    spec = base_spec(model_dir, data_path, str(tmp_path / "out"))
    break_it(spec, tmp_path)
    code, events, err = run_job(spec, str(tmp_path))
    assert code == 2, err
    assert events[0]["type"] == "error" and events[0]["code"] == "invalid_argument"
    assert events[0]["message"].startswith(field + ":"), events[0]["message"]
    assert not any(e["type"] == "step" for e in events)


def test_broken_model_dir_exits_2(tmp_path, model_dir, data_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in os.listdir(model_dir):
        (broken / name).write_bytes(open(os.path.join(model_dir, name), "rb").read())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    code, events = run_inprocess(base_spec(str(broken), data_path, str(tmp_path / "out")), str(tmp_path))
    assert code == 2
    assert events[-1]["message"].startswith("model_dir: cannot load"), events[-1]


def read_until(proc, predicate):
    """Protocol lines from a running job up to the first that satisfies predicate."""
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if predicate(seen[-1]):
            break
    return seen


def test_kill_after_checkpoint_then_rerun_reproduces_the_trace(tmp_path, long_spec, reference_trace):
    spec = long_spec(str(tmp_path / "out"))
    proc = start_job(spec, str(tmp_path))
    first = read_until(proc, lambda e: e["type"] == "checkpoint")
    proc.kill()                                   # a crash: no chance to save anything
    rest, _ = proc.communicate(timeout=60)
    first += [json.loads(l) for l in rest.splitlines() if l.strip()]
    assert proc.returncode == -signal.SIGKILL
    assert not any(e["type"] == "result" for e in first), "the run finished before the kill"

    code, second = run_inprocess(spec, str(tmp_path))   # the daemon's redelivery: same spec, same dir
    assert code == 0
    resumed = steps_of(second)
    assert min(resumed) > 1, "the rerun started over instead of resuming"
    union = {**steps_of(first), **resumed}
    # Steps the killed run got to after its checkpoint are recomputed: they must agree too.
    for step in set(steps_of(first)) & set(resumed):
        assert trace_view({step: resumed[step]}) == trace_view({step: steps_of(first)[step]})
    assert trace_view(union) == trace_view(reference_trace)
    result = second[-1]
    assert result["type"] == "result" and result["steps"] == 24
    assert result["tokens"] == sum(e["tokens"] for e in reference_trace.values())


def test_sigterm_checkpoints_and_exits_3_then_resume_matches(tmp_path, long_spec, reference_trace):
    out = str(tmp_path / "out")
    spec = dict(long_spec(out), save_steps=0)       # the only mid-run checkpoint is the cancel's
    proc = start_job(spec, str(tmp_path))
    first = read_until(proc, lambda e: e["type"] == "step")
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=60)
    first += [json.loads(l) for l in rest.splitlines() if l.strip()]
    assert proc.returncode == 3, err
    assert first[-1] == {"type": "error", "code": "cancelled", "message": "cancelled by SIGTERM"}
    [saved] = [e for e in first if e["type"] == "checkpoint"]
    assert saved["step"] == max(steps_of(first)) < 24
    assert os.path.exists(os.path.join(saved["path"], "trainer.json"))
    assert os.path.exists(os.path.join(saved["path"], "optimizer.pt"))

    code, second = run_inprocess(spec, str(tmp_path))
    assert code == 0
    assert min(steps_of(second)) == saved["step"] + 1
    assert trace_view({**steps_of(first), **steps_of(second)}) == trace_view(reference_trace)


def test_records_without_response_tokens_are_left_out_not_trained_at_loss_zero(tmp_path, model_dir):
    # Prompts longer than max_length leave no response token: a batch of only
    # those would otherwise record a step loss of exactly 0.
    long_prompt = {"instruction": " ".join(["explain the river of stars"] * 60), "input": "", "output": "ok"}
    records = [long_prompt] * 8 + make_alpaca(8, seed=3)
    data = write_json(os.path.join(tmp_path, "mixed.json"), records)
    spec = base_spec(model_dir, data, str(tmp_path / "out"), max_length=96, batch_size=4, epochs=2)
    code, events = run_inprocess(spec, str(tmp_path))
    assert code == 0
    result = [e for e in events if e["type"] == "result"][0]
    assert result["untrainable"] == 8
    steps = steps_of(events)
    assert len(steps) == 4  # 8 trainable records, batch 4, 2 epochs
    assert all(s["loss"] > 0 and s["tokens"] > 0 for s in steps.values())
