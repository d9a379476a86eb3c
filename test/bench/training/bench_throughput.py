"""Training throughput of the core's `train` job vs a plain Hugging Face
`Trainer`, same small LLaMA (vocab 32k), same tokenized records, same batch, one epoch,
CPU, fp32, AdamW, cross-entropy.

    .venv/bin/python test/bench/training/bench_throughput.py [--records 96] [--repeats 3] [--all-cores]

Tokens = trained (unmasked) target tokens; one epoch sees every record once
in both, so both count the same tokens, and the Trainer is fed the core's
batches in the core's order (same padding). Time = the training loop only:
the core's last step `elapsed_s` (its clock starts right before the loop),
the Trainer's `train_runtime`. Model loading is excluded from both.
The two runs alternate and the best of `repeats` is kept, because this
box's two cores are shared with other work.
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.abspath(os.path.join(HERE, "..", "..", "..", "workers", "core"))
sys.path[:0] = [CORE, os.path.join(CORE, "tests")]

from train_support import base_spec, make_alpaca, run_inprocess, steps_of, write_json  # noqa: E402

BATCH, MAX_LEN, LR = 8, 256, 1e-4


def build_model(tmp):
    # Wider than the unit-test model so a step is compute, not Python overhead.
    from uniformity_core.tiny_model import build
    corpus = write_json(os.path.join(tmp, "corpus.json"), make_alpaca(200, seed=9))
    path = build(os.path.join(tmp, "model"), corpus=corpus, vocab_size=1000, hidden=256, layers=4,
                 heads=8, max_positions=512)
    # LLaMA's real output width: the tokenizer uses the first 1000 rows, but
    # the head and the loss run over 32,000 logits per position as in 7B.
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(path)
    model.resize_token_embeddings(32000, mean_resizing=False)
    model.save_pretrained(path)
    return path


def run_core(model_dir, data, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    spec = base_spec(model_dir, data, out, batch_size=BATCH, micro_batch_size=BATCH, max_length=MAX_LEN,
                     lr=LR, epochs=1, optimizer="adamw", loss="ce")
    code, events = run_inprocess(spec, tmp)
    assert code == 0, events[-1]
    steps = steps_of(events)
    return sum(s["tokens"] for s in steps.values()), steps[max(steps)]["elapsed_s"]


def run_hf_trainer(model_dir, data, tmp):
    import torch
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments
    from uniformity_core import sft_data, train

    tokenizer = train.load_tokenizer(model_dir)
    examples = sft_data.tokenize_segments(tokenizer, sft_data.load_segments(data, "alpaca"), MAX_LEN)
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]
    tokens = sum(e.n_targets for e in examples)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(dir=tmp), per_device_train_batch_size=BATCH, num_train_epochs=1,
        learning_rate=LR, warmup_steps=2, lr_scheduler_type="constant_with_warmup", weight_decay=0.0,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, logging_steps=1, save_strategy="no",
        report_to=[], use_cpu=True, dataloader_num_workers=0, seed=0, disable_tqdm=True)
    # Same batches as the core (its seeded order, no Trainer shuffle): with
    # different batches the padding differs and the comparison measures luck.
    steps = sft_data.steps_per_epoch(len(rows), BATCH)
    order = [i for step in range(1, steps + 1) for i in sft_data.global_batch(len(rows), BATCH, 0, step)]

    class SameOrderTrainer(Trainer):
        def _get_train_sampler(self, *args, **kwargs):
            return torch.utils.data.SequentialSampler(self.train_dataset)

    trainer = SameOrderTrainer(model=model, args=args, train_dataset=[rows[i] for i in order],
                               data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True,
                                                                    label_pad_token_id=-100))
    with contextlib.redirect_stdout(io.StringIO()):   # the Trainer prints a dict per logged step
        out = trainer.train()
    return tokens, out.metrics["train_runtime"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--all-cores", action="store_true",
                    help="use every core (default: pin to one; on a shared box several threads "
                         "stall each other and runs vary 10x)")
    args = ap.parse_args()
    import logging
    logging.disable(logging.WARNING)
    if not args.all_cores:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # the core sizes its threads from this
    import torch
    torch.set_num_threads(len(os.sched_getaffinity(0)))

    with tempfile.TemporaryDirectory() as tmp:
        t = time.time()
        model_dir = build_model(tmp)
        data = write_json(os.path.join(tmp, "alpaca.json"), make_alpaca(args.records, seed=1))
        print(f"model: LLaMA hidden 256, 4 layers, vocab 32000 (tokenizer 1000); {args.records} records, batch {BATCH}, "
              f"max_length {MAX_LEN}, 1 epoch, fp32 AdamW ce on {torch.get_num_threads()} CPU threads "
              f"(built in {time.time() - t:.0f}s)")
        best = {}
        for r in range(args.repeats):
            for name, fn in (("core", run_core), ("hf_trainer", run_hf_trainer)):
                tokens, secs = fn(model_dir, data, tmp)
                rate = tokens / secs
                print(f"  run {r + 1} {name:<11} {tokens} tokens in {secs:.2f}s = {rate:.0f} tokens/s", flush=True)
                best[name] = max(best.get(name, 0), rate)
        print(f"{'runner':<12}{'tokens/s':>10}")
        for name, rate in best.items():
            print(f"{name:<12}{rate:>10.0f}")
        print(f"core / hf_trainer = {best['core'] / best['hf_trainer']:.2f} (goal >= 1)")


if __name__ == "__main__":
    main()
