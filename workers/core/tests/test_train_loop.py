"""The training loop, run in this process on a tiny LLaMA: learning,
accumulation equivalence, checkpointing flags, LoRA, mixed precision."""

import os
import shutil

import pytest
import torch
from safetensors.torch import load_file
from train_support import base_spec, make_alpaca, run_inprocess, steps_of, tiny_model_dir, write_json


@pytest.fixture(scope="session")
def model_dir():
    return tiny_model_dir()


@pytest.fixture(scope="session")
def data_path(tmp_path_factory):
    return write_json(str(tmp_path_factory.mktemp("data") / "alpaca.json"), make_alpaca(64))


def train_ok(tmp_path, spec):
    code, events = run_inprocess(spec, str(tmp_path))
    assert code == 0, [e for e in events if e["type"] == "error"]
    return events


def losses(events):
    return [s["loss"] for _, s in sorted(steps_of(events).items())]


@pytest.mark.parametrize("optimizer,loss,lr", [("adamw", "ce", 1e-3), ("sgd", "ce", 1.0), ("sgd", "l2", 3.0)])
def test_loss_falls_over_30_steps(tmp_path, model_dir, data_path, optimizer, loss, lr):
    spec = base_spec(model_dir, data_path, str(tmp_path / "out"), optimizer=optimizer, loss=loss,
                     lr=lr, epochs=10, max_steps=30, warmup_steps=2, batch_size=4)
    trace = losses(train_ok(tmp_path, spec))
    assert len(trace) == 30
    first, last = sum(trace[:5]) / 5, sum(trace[-5:]) / 5
    assert last < first * 0.9, (first, last)


def final_weights(output_dir):
    return load_file(os.path.join(output_dir, "final", "model.safetensors"))


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_micro_batching_does_not_change_the_step(tmp_path, model_dir, data_path, optimizer):
    """Global batch 8 as 8x1, 2x4 and 1x8 (micro-batch x accumulation): the
    same step losses, the same gradient norms and (SGD, lr 1: w1 = w0 - g)
    the same gradients."""
    runs = {}
    for micro in (8, 4, 1):
        out = str(tmp_path / f"out-{micro}")
        spec = base_spec(model_dir, data_path, out, optimizer=optimizer, lr=1.0 if optimizer == "sgd" else 1e-3,
                         warmup_steps=0, micro_batch_size=micro, max_steps=3 if optimizer == "adamw" else 1)
        runs[micro] = (steps_of(train_ok(tmp_path, spec)), final_weights(out))
    ref_steps, ref_w = runs[8]
    for micro in (4, 1):
        got_steps, got_w = runs[micro]
        for step, ref in ref_steps.items():
            assert got_steps[step]["loss"] == pytest.approx(ref["loss"], abs=1e-6)
            assert got_steps[step]["grad_norm"] == pytest.approx(ref["grad_norm"], abs=1e-6)
            assert got_steps[step]["tokens"] == ref["tokens"]
        if optimizer == "sgd":
            # Not for Adam: m/sqrt(v) turns float noise in near-zero gradients into +-lr steps.
            for name, w in ref_w.items():
                assert torch.allclose(got_w[name], w, atol=1e-6, rtol=0), name


def test_gradient_checkpointing_gives_the_same_losses(tmp_path, model_dir, data_path):
    plain = base_spec(model_dir, data_path, str(tmp_path / "a"), max_steps=3)
    ckpt = dict(plain, output_dir=str(tmp_path / "b"), gradient_checkpointing=True)
    assert losses(train_ok(tmp_path, ckpt)) == pytest.approx(losses(train_ok(tmp_path, plain)), abs=1e-6)


def test_lora_trains_and_final_is_a_merged_plain_model(tmp_path, model_dir, data_path):
    from transformers import AutoModelForCausalLM
    out = str(tmp_path / "out")
    spec = base_spec(model_dir, data_path, out, lora_r=4, lr=1e-2, epochs=3, max_steps=12)
    events = train_ok(tmp_path, spec)
    trace = losses(events)
    assert trace[-1] < trace[0]
    assert os.path.exists(os.path.join(out, "checkpoints", "step-12", "adapter_model.safetensors"))
    merged = AutoModelForCausalLM.from_pretrained(os.path.join(out, "final"))
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    assert not any("lora" in k for k in merged.state_dict())
    q_merged = merged.model.layers[0].self_attn.q_proj.weight
    assert not torch.allclose(q_merged, base.model.layers[0].self_attn.q_proj.weight)

    # Resume a LoRA run from its step-10 adapter checkpoint: steps 11-12 come out the same.
    spec = dict(spec, save_steps=5)
    out2 = str(tmp_path / "out2")
    first = steps_of(train_ok(tmp_path, dict(spec, output_dir=out2)))
    shutil.rmtree(os.path.join(out2, "checkpoints", "step-12"))
    shutil.rmtree(os.path.join(out2, "final"))
    again = steps_of(train_ok(tmp_path, dict(spec, output_dir=out2)))
    assert sorted(again) == [11, 12]
    assert [again[s]["loss"] for s in (11, 12)] == [first[s]["loss"] for s in (11, 12)]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_runs_on_cpu(tmp_path, model_dir, data_path, precision):
    spec = base_spec(model_dir, data_path, str(tmp_path / "out"), precision=precision, max_steps=3)
    trace = losses(train_ok(tmp_path, spec))
    assert len(trace) == 3 and all(x is not None for x in trace)
    # Master weights stay fp32: the final model is saved in fp32.
    assert all(w.dtype == torch.float32 for w in final_weights(str(tmp_path / "out")).values())


def test_sharegpt_dataset_trains(tmp_path, model_dir):
    from train_support import make_sharegpt
    data = write_json(str(tmp_path / "sg.json"), make_sharegpt(16))
    spec = base_spec(model_dir, data, str(tmp_path / "out"), dataset={"path": data, "format": "sharegpt"},
                     max_steps=2, max_length=256)   # the Vicuna system prompt alone is ~100 tokens here
    events = train_ok(tmp_path, spec)
    assert len(steps_of(events)) == 2
