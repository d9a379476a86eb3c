"""Pure parts of the training core: losses against naive references,
masking, the batch plan, the warm-up schedule, spec validation."""

import json
import os

import pytest
import torch
import torch.nn.functional as F
from train_support import make_alpaca, make_sharegpt, tiny_model_dir, write_json
from uniformity_core import sft_data, train
from uniformity_core.losses import token_loss_sum
from uniformity_core.protocol import InvalidArgument
from uniformity_core.sft_data import IGNORE


@pytest.fixture(scope="session")
def model_dir():
    return tiny_model_dir()


@pytest.fixture(scope="session")
def tokenizer(model_dir):
    return train.load_tokenizer(model_dir)


# ---------------------------------------------------------------- losses

def random_case(dtype, n=3, t=7, vocab=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, t, vocab, generator=g) * 3).to(dtype)
    targets = torch.randint(0, vocab, (n, t), generator=g)
    targets[0, :3] = IGNORE          # masked prompt
    targets[2, 5:] = IGNORE          # padding
    return logits, targets


def naive_l2(logits, targets):
    """The definition: MSE between logits and one-hot, over unmasked positions
    and the vocabulary."""
    valid = targets != IGNORE
    z = logits.float()[valid]
    one_hot = F.one_hot(targets[valid], z.shape[-1]).float()
    return F.mse_loss(z, one_hot, reduction="mean")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("chunk", [1, 4, 1024])
def test_l2_equals_one_hot_mse_value_and_gradient(dtype, chunk):
    logits, targets = random_case(dtype)
    count = (targets != IGNORE).sum()

    mine = logits.clone().requires_grad_(True)
    ours = token_loss_sum("l2", mine, targets, chunk_rows=chunk) / count
    ours.backward()

    ref_in = logits.clone().requires_grad_(True)
    ref = naive_l2(ref_in, targets)
    ref.backward()

    assert abs(ours.item() - ref.item()) <= 1e-6 * max(1.0, abs(ref.item()))
    tol = 1e-6 if dtype == torch.float32 else 1e-2 / logits.shape[-1]   # bf16 grads are stored in bf16
    assert torch.allclose(mine.grad.float(), ref_in.grad.float(), atol=tol, rtol=1e-2 if dtype != torch.float32 else 1e-5)
    assert mine.grad.dtype == dtype
    assert torch.all(mine.grad[targets == IGNORE] == 0)


@pytest.mark.parametrize("chunk", [2, 1024])
def test_ce_equals_cross_entropy_value_and_gradient(chunk):
    logits, targets = random_case(torch.float32, seed=1)
    mine = logits.clone().requires_grad_(True)
    ours = token_loss_sum("ce", mine, targets, chunk_rows=chunk)
    ours.backward()
    ref_in = logits.clone().requires_grad_(True)
    ref = F.cross_entropy(ref_in.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                          ignore_index=IGNORE, reduction="sum")
    ref.backward()
    assert abs(ours.item() - ref.item()) <= 1e-5 * abs(ref.item())
    assert torch.allclose(mine.grad, ref_in.grad, atol=1e-6)


def test_l2_hand_worked():
    # z = [1, 2], y = 0: ((1-1)^2 + (2-0)^2) / 2 = 2; formula (1+4 - 2*1 + 1)/2 = 2.
    logits = torch.tensor([[[1.0, 2.0]]])
    assert token_loss_sum("l2", logits, torch.tensor([[0]])).item() == pytest.approx(2.0)
    assert token_loss_sum("l2", logits, torch.tensor([[IGNORE]])).item() == 0.0


# ---------------------------------------------------------------- prompts and masking

def test_alpaca_prompt_variants():
    with_input = sft_data.alpaca_prompt("Add.", "2 and 3")
    assert with_input == (
        "Below is an instruction that describes a task, paired with an input that provides further "
        "context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nAdd.\n\n### Input:\n2 and 3\n\n### Response:\n")
    assert sft_data.alpaca_prompt("Add.") == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nAdd.\n\n### Response:\n")


def test_alpaca_masks_prompt_and_trains_response_plus_eos(tokenizer):
    rec = {"instruction": "Name a color.", "input": "", "output": "red and blue"}
    [ex] = sft_data.tokenize_segments(tokenizer, [sft_data.alpaca_segments(0, rec)], max_length=512)
    prompt_ids = tokenizer(sft_data.alpaca_prompt("Name a color."))["input_ids"]
    response_ids = tokenizer("red and blue", add_special_tokens=False)["input_ids"]
    n = len(prompt_ids)
    assert ex.input_ids == prompt_ids + response_ids + [tokenizer.eos_token_id]
    assert ex.labels[:n] == [IGNORE] * n
    assert ex.labels[n:] == response_ids + [tokenizer.eos_token_id]
    assert ex.n_targets == len(response_ids) + 1


def test_sharegpt_trains_only_assistant_turns(tokenizer):
    conv = {"conversations": [
        {"from": "system", "value": "be brief"},
        {"from": "human", "value": "name a river"},
        {"from": "gpt", "value": "the blue river"},
        {"from": "user", "value": "and a city"},
        {"from": "chatgpt", "value": "a big city"}]}
    segs = sft_data.sharegpt_segments(0, conv)
    assert segs[0] == ("be brief ", False)
    [ex] = sft_data.tokenize_segments(tokenizer, [segs], max_length=512)
    trained = [t for t, y in zip(ex.input_ids, ex.labels) if y != IGNORE]
    expected = (tokenizer(" the blue river", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                + tokenizer(" a big city", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
    assert trained == expected
    assert tokenizer.decode([t for t, y in zip(ex.input_ids, ex.labels) if y == IGNORE]).count("USER:") == 2


def test_truncation_is_counted(tokenizer):
    recs = [sft_data.alpaca_segments(i, r) for i, r in enumerate(make_alpaca(10))]
    examples = sft_data.tokenize_segments(tokenizer, recs, max_length=40)
    assert all(len(e.input_ids) <= 40 for e in examples)
    assert sum(e.truncated for e in examples) == sum(
        len(e.input_ids) > 40 for e in sft_data.tokenize_segments(tokenizer, recs, max_length=10_000))


def test_collate_shifts_targets_and_pads():
    a = sft_data.Example([5, 6, 7], [IGNORE, 6, 7], False)
    b = sft_data.Example([8, 9], [IGNORE, IGNORE], False)
    ids, mask, targets = sft_data.collate([a, b], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 9, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert targets.tolist() == [[6, 7, IGNORE], [IGNORE, IGNORE, IGNORE]]
    ids, mask, targets = sft_data.collate([], pad_id=0)      # dummy row weighs nothing
    assert targets.tolist() == [[IGNORE]]


def test_sharegpt_bad_record_names_field(tmp_path):
    path = write_json(str(tmp_path / "d.json"), [{"conversations": [{"from": "human"}]}])
    with pytest.raises(InvalidArgument, match=r"record 0 field 'conversations\[0\].value'"):
        sft_data.load_segments(path, "sharegpt")
    path = write_json(str(tmp_path / "s.json"), make_sharegpt(3))
    assert len(sft_data.load_segments(path, "auto")) == 3


# ---------------------------------------------------------------- batch plan and schedule

def test_epoch_order_is_a_pure_function_of_seed_and_epoch():
    assert sft_data.epoch_order(20, 7, 1) == sft_data.epoch_order(20, 7, 1)
    assert sft_data.epoch_order(20, 7, 1) != sft_data.epoch_order(20, 7, 2)
    assert sorted(sft_data.epoch_order(20, 7, 0)) == list(range(20))


def test_global_batches_cover_each_epoch_once():
    # 10 records, batch 4: steps 1-3 are epoch 0 (4, 4, 2), steps 4-6 epoch 1.
    seen = [sft_data.global_batch(10, 4, seed=3, step=s) for s in range(1, 7)]
    assert [len(b) for b in seen] == [4, 4, 2, 4, 4, 2]
    assert sorted(sum(seen[:3], [])) == list(range(10))
    assert sorted(sum(seen[3:], [])) == list(range(10))
    assert sft_data.total_steps(10, 4, epochs=1.5) == 5
    assert sft_data.total_steps(10, 4, epochs=3, max_steps=4) == 4


@pytest.mark.parametrize("batch,world,micro", [(8, 1, 1), (8, 1, 3), (5, 2, 1), (9, 2, 2), (1, 2, 4)])
def test_rank_micro_batches_partition_the_batch(batch, world, micro):
    indices = list(range(100, 100 + batch))
    lengths = {i: (i * 7) % 13 for i in indices}
    per_rank = [sft_data.rank_micro_batches(indices, lengths, r, world, micro) for r in range(world)]
    assert len({len(p) for p in per_rank}) == 1                       # same count on every rank
    flat = [i for p in per_rank for mb in p for i in mb]
    assert sorted(flat) == indices                                     # each record exactly once
    assert all(len(mb) <= micro for p in per_rank for mb in p)


def test_lr_warmup_is_linear_then_constant():
    assert [train.lr_at(s, 3.0, 2) for s in (1, 2, 3, 10)] == [1.0, 2.0, 3.0, 3.0]
    assert train.lr_at(1, 3.0, 0) == 3.0


# ---------------------------------------------------------------- spec validation

def good_spec(tmp_path, model_dir):
    data = write_json(str(tmp_path / "d.json"), make_alpaca(4))
    return {"kind": "train", "dataset": {"path": data, "format": "alpaca"},
            "model_dir": model_dir, "output_dir": str(tmp_path / "out")}


@pytest.mark.parametrize("field,value,message", [
    ("loss", "mse", "loss: must be one of ce, l2"),
    ("optimizer", "lion", "optimizer: must be one of adamw, sgd"),
    ("lr", 0, "lr: must be > 0"),
    ("lr", -1e-3, "lr: must be > 0"),
    ("batch_size", 0, "batch_size: must be >= 1"),
    ("max_length", 0, "max_length: must be >= 2"),
    ("epochs", 0, "epochs: must be > 0"),
    ("precision", "fp8", "precision: must be one of"),
    ("gradient_checkpointing", "yes", "gradient_checkpointing: must be true or false"),
    ("surprise", 1, "surprise: unknown field"),
    ("output_dir", "relative/out", "output_dir: must be an absolute path"),
])
def test_bad_fields_name_the_field(tmp_path, model_dir, field, value, message):
    spec = good_spec(tmp_path, model_dir)
    spec[field] = value
    with pytest.raises(InvalidArgument, match=message):
        train.parse_spec(spec)


def test_good_spec_defaults(tmp_path, model_dir):
    cfg = train.parse_spec(good_spec(tmp_path, model_dir))
    assert (cfg.loss, cfg.optimizer, cfg.lr, cfg.batch_size, cfg.warmup_steps, cfg.epochs) == \
        ("ce", "adamw", 2e-5, 64, 2, 3.0)


def test_model_dir_checks(tmp_path, model_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidArgument, match="model_dir: has no config.json"):
        train.check_model_dir(str(empty))
    (empty / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(InvalidArgument, match="has no weights"):
        train.check_model_dir(str(empty))
    (empty / "model.safetensors").write_bytes(b"")
    with pytest.raises(InvalidArgument, match="has no tokenizer"):
        train.check_model_dir(str(empty))
    (empty / "tokenizer.json").write_text("{}")
    with pytest.raises(InvalidArgument, match="not a causal language model"):
        train.check_model_dir(str(empty))
    train.check_model_dir(model_dir)
    assert os.path.exists(os.path.join(model_dir, "config.json"))
