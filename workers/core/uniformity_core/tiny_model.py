"""python -m uniformity_core tiny-model --out DIR [--corpus FILE]

A small randomly initialised LLaMA in Hugging Face format, with a byte-level
BPE tokenizer trained on the fly: what the demo and the end-to-end tests
train, since no weights can be downloaded. Same layout as a real checkpoint
(config.json, model.safetensors, tokenizer files), so the same loading code
serves both."""

import argparse
import json
import os
import sys

DEFAULT_TEXT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request. ### Instruction: "
    "### Input: ### Response: Question: Answer: the a an of to in and is are was for on with as "
    "by at from that this it be write give list explain describe summarize translate name find "
    "make tell story poem answer question reason number sum two three four five seven ten"
)


def corpus_lines(path):
    """Every text field of an Alpaca or ShareGPT file (JSON array or JSONL)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    stripped = text.lstrip()
    records = json.loads(text) if stripped.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
    for record in records:
        if "conversations" in record:
            for turn in record["conversations"]:
                yield str(turn.get("value", ""))
        else:
            yield " ".join(str(record.get(k) or "") for k in ("instruction", "input", "output"))


def build(out_dir, corpus=None, vocab_size=1000, hidden=64, layers=2, heads=4, max_positions=1024, seed=0):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    os.makedirs(out_dir, exist_ok=True)
    lines = [DEFAULT_TEXT] * 5 + (list(corpus_lines(corpus)) if corpus else [])
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(lines, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(out_dir)

    torch.manual_seed(seed)
    config = LlamaConfig(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads,
                         vocab_size=tokenizer.get_vocab_size(), max_position_embeddings=max_positions,
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m uniformity_core tiny-model")
    parser.add_argument("--out", required=True, help="directory to write the model to")
    parser.add_argument("--corpus", help="Alpaca/ShareGPT file to train the tokenizer on")
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build(args.out, args.corpus, args.vocab, args.hidden, args.layers, args.heads, seed=args.seed)
    print(json.dumps({"type": "result", "kind": "tiny-model", "path": os.path.abspath(args.out)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
