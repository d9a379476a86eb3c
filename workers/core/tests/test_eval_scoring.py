"""The scorer on a tiny LLaMA: padding, position ids and cache reuse must not
change a number, whatever the batch size."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from eval_fixtures import tiny_setup
from uniformity_core import tasks
from uniformity_core.scoring import Scorer, Tokenization, Unscorable


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    setup = tiny_setup(str(tmp_path_factory.getbasetemp() / "eval-tiny"))
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(setup["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(setup["model_dir"], dtype=torch.float32).eval()
    return setup, tokenizer, model


@pytest.fixture(scope="module")
def requests(tiny):
    """Every request of 3-shot ARC and 0-shot TruthfulQA mc1/mc2: contexts of
    many lengths, 3-5 choices of 1..n tokens, shared and repeated requests."""
    setup, _, _ = tiny
    paths = tasks.find_task_files(setup["data_dir"], ["ARC-Challenge-Train.jsonl",
                                                      "ARC-Challenge-Test.jsonl", "mc_task.json"])
    train = tasks.load_arc(paths["ARC-Challenge-Train.jsonl"])
    test = tasks.load_arc(paths["ARC-Challenge-Test.jsonl"])
    tqa = tasks.load_truthfulqa(paths["mc_task.json"])
    mc1, mc2 = tasks.truthfulqa_questions(tqa[:6], tqa, 0)
    # Ten questions or so of each kind keep the uncached reference quick.
    questions = tasks.arc_questions(test[:10], train, 3) + mc1 + mc2
    return [(q.context, c) for q in questions for c in q.continuations]


def test_tokenization_moves_trailing_spaces_to_the_continuation(tiny):
    _, tokenizer, _ = tiny
    tok = Tokenization(tokenizer)
    assert tok.encode_pair("Question: why?\nAnswer: ", "stone") == tok.encode_pair("Question: why?\nAnswer:", " stone")
    ctx, cont = tok.encode_pair("Question: why?\nAnswer:", " stone river")
    assert ctx == tokenizer.encode("Question: why?\nAnswer:")
    whole = tokenizer.encode("Question: why?\nAnswer: stone river")
    assert cont == whole[len(ctx):]
    assert ctx[0] == tokenizer.bos_token_id  # the tokenizer's own BOS, as HFLM keeps it
    # empty context: the BOS token conditions the continuation
    assert tok.encode_pair("", " stone") == ([tokenizer.bos_token_id],
                                             tokenizer.encode(" stone", add_special_tokens=False))


def _naive(model, scorer, requests):
    """The harness's computation, one request at a time, no cache: log-softmax
    over the model's logits on (ctx + cont)[:-1], summed over the continuation."""
    out = []
    with torch.inference_mode():
        for ctx, cont in scorer.encode(requests):
            inp = torch.tensor([list(ctx + cont)[:-1]])
            logp = F.log_softmax(model(inp).logits[0].to(torch.float64), dim=-1)
            out.append(float(logp[len(ctx) - 1:].gather(1, torch.tensor(cont).unsqueeze(1)).sum()))
    return np.array(out)


def test_batch_size_does_not_change_loglikelihoods(tiny, requests):
    """In float64 any padding or position mistake shows up far above 1e-6,
    while rounding noise sits near 1e-12: the right test for the logic."""
    _, tokenizer, model = tiny
    model64 = type(model)(model.config).to(torch.float64)
    model64.load_state_dict(model.state_dict())
    model64.eval()
    by_batch = {bs: np.array(Scorer(model64, tokenizer, "cpu", batch_size=bs).loglikelihoods(requests))
                for bs in (1, 8)}
    np.testing.assert_allclose(by_batch[8], by_batch[1], rtol=0, atol=1e-6)
    # and equal to the uncached one-request-at-a-time computation
    naive = _naive(model64, Scorer(model64, tokenizer, "cpu"), requests)
    np.testing.assert_allclose(by_batch[8], naive, rtol=0, atol=1e-6)


def test_batch_size_invariance_in_float32(tiny, requests):
    """In float32 the sums of ~10 log-probabilities of ~-10 each carry
    rounding noise of a few 1e-7 relative; nothing more than that moves."""
    _, tokenizer, model = tiny
    one = np.array(Scorer(model, tokenizer, "cpu", batch_size=1).loglikelihoods(requests))
    eight = np.array(Scorer(model, tokenizer, "cpu", batch_size=8).loglikelihoods(requests))
    np.testing.assert_allclose(eight, one, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eight, _naive(model, Scorer(model, tokenizer, "cpu"), requests),
                               rtol=1e-6, atol=1e-6)


def test_identical_requests_are_scored_once(tiny, monkeypatch):
    _, tokenizer, model = tiny
    scorer = Scorer(model, tokenizer, "cpu", batch_size=8)
    calls = []
    real = scorer._forward

    def counting(**kwargs):
        calls.append(tuple(kwargs["input_ids"].shape))
        return real(**kwargs)

    monkeypatch.setattr(scorer, "_forward", counting)
    ctx = "Question: why is the moon bright?\nAnswer:"
    reqs = [(ctx, " sun light"), (ctx, " rock"), (ctx, " sun light"), (ctx, " rock")]
    lls = scorer.loglikelihoods(reqs)
    assert lls[0] == lls[2] and lls[1] == lls[3]
    # one context row, then one row per distinct choice of more than one token
    multi = {cont for _, cont in scorer.encode(reqs) if len(cont) > 1}
    assert calls[0][0] == 1 and sum(c[0] for c in calls[1:]) == len(multi)


def test_left_truncation_matches_the_harness(tiny):
    _, tokenizer, model = tiny
    scorer = Scorer(model, tokenizer, "cpu", max_length=16)
    ctx = "Question: " + "stone river light " * 10 + "?\nAnswer:"
    (ctx_ids, cont_ids), = scorer.encode([(ctx, " apple tree")])
    full_ctx, full_cont = scorer.tok.encode_pair(ctx, " apple tree")
    assert len(ctx_ids) + len(cont_ids) == 17
    assert list(ctx_ids + cont_ids) == (full_ctx + full_cont)[-17:]
    with pytest.raises(Unscorable):
        scorer.encode([(ctx, " apple" * 40)])
