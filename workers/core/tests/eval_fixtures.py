"""A tiny LLaMA, its tokenizer and ARC / TruthfulQA files, made on the fly.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on the
generated questions, the model a 2-layer LlamaConfig with random weights.
The weights are drawn wide (initializer_range 0.3) so that the choices of a
question get clearly different log-likelihoods: with the usual 0.02 every
choice scores about -log(vocab) per token and accuracy would hinge on ties.
"""

import json
import os
import random

WORDS = ("apple river stone light cloud metal water plant energy heat cold sound wave "
         "animal forest rock moon sun earth wind rain seed root leaf cell blood bone "
         "magnet force motion speed mass gravity friction circuit battery wire glass "
         "ice steam gas liquid solid salt sugar acid base oxygen carbon iron copper "
         "fish bird insect frog snake tree flower desert ocean mountain valley storm "
         "layer shadow mirror lens planet star orbit season summer winter spring fall").split()

_BUILT = {}


def _sentence(rnd, lo, hi):
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(lo, hi)))


def arc_rows(n, seed, numeric_every=7):
    """AI2-format ARC rows: some with 3 or 5 choices, some labelled 1..4."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        k = rnd.choice((3, 4, 4, 4, 5))
        numeric = numeric_every and i % numeric_every == 3 and k <= 4
        labels = [str(j + 1) for j in range(k)] if numeric else "ABCDE"[:k]
        texts = [_sentence(rnd, 1, 4) for _ in range(k)]
        # A choice with a trailing space exercises the harness's space handling.
        if i % 11 == 5:
            texts[0] = texts[0] + " "
        stem = _sentence(rnd, 4, 12).capitalize() + "?"
        rows.append({"id": f"q{seed}-{i}",
                     "question": {"stem": stem,
                                  "choices": [{"text": t, "label": lab} for t, lab in zip(texts, labels)]},
                     "answerKey": rnd.choice(labels)})
    return rows


def truthfulqa_rows(n, seed):
    """mc_task.json entries; true answers first, as in the published file."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        mc1 = {}
        while len(mc1) < rnd.randint(3, 5):
            mc1[_sentence(rnd, 2, 6).capitalize() + "."] = 0 if mc1 else 1
        mc2 = {}
        n_true = rnd.randint(1, 3)
        n_all = n_true + rnd.randint(2, 4)
        while len(mc2) < n_all:
            mc2[_sentence(rnd, 2, 6).capitalize() + "."] = 1 if len(mc2) < n_true else 0
        rows.append({"question": _sentence(rnd, 4, 10).capitalize() + "?",
                     "mc1_targets": mc1, "mc2_targets": mc2})
    return rows


def write_task_files(data_dir, n_train=40, n_test=30, n_tqa=24, seed=0):
    """Writes the publishers' file names, ARC two folders deep as ARC ships."""
    arc_dir = os.path.join(data_dir, "ARC-V1-Feb2018-2", "ARC-Challenge")
    os.makedirs(arc_dir, exist_ok=True)
    splits = {"Train": arc_rows(n_train, seed + 1), "Dev": arc_rows(5, seed + 2),
              "Test": arc_rows(n_test, seed + 3)}
    for split, rows in splits.items():
        with open(os.path.join(arc_dir, f"ARC-Challenge-{split}.jsonl"), "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    tqa_dir = os.path.join(data_dir, "TruthfulQA", "data")
    os.makedirs(tqa_dir, exist_ok=True)
    tqa = truthfulqa_rows(n_tqa, seed + 4)
    with open(os.path.join(tqa_dir, "mc_task.json"), "w") as f:
        json.dump(tqa, f, indent=2)
    return {"arc": splits, "truthfulqa": tqa}


def build_tiny_model(model_dir, max_positions=4096):
    """Tokenizer + 2-layer LLaMA saved with save_pretrained into model_dir."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from uniformity_core.tasks import TRUTHFULQA_PRIMER

    corpus = [" ".join(WORDS), TRUTHFULQA_PRIMER, "Question: Answer: Q: A:"]
    rnd = random.Random(99)
    corpus += [_sentence(rnd, 5, 15) for _ in range(300)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=384, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    # Like LLaMA's tokenizer: BOS in front of every encoded text.
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.save_pretrained(model_dir)

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max_positions, initializer_range=0.3,
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    model.save_pretrained(model_dir)
    return model_dir


def tiny_setup(base_dir):
    """Build once per test session (several test modules share it)."""
    if base_dir not in _BUILT:
        model_dir = os.path.join(base_dir, "tiny-llama")
        data_dir = os.path.join(base_dir, "data")
        build_tiny_model(model_dir)
        rows = write_task_files(data_dir)
        _BUILT[base_dir] = {"model_dir": model_dir, "data_dir": data_dir, "rows": rows}
    return _BUILT[base_dir]
