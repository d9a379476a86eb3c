"""Supervised fine-tuning data: prompt formatting, loss masking, truncation,
the seeded batch plan and collation.

A record becomes `input_ids` plus `labels` of the same length, with label
-100 wherever the model must not be trained to predict the token (prompts,
user turns, padding). Prompt and response are tokenized separately and
concatenated, so the mask boundary is exact: tokenizing the joined text
could merge the last prompt characters with the first response characters
into one token that is neither masked nor trained correctly.
"""

import math
from dataclasses import dataclass

import torch

from .protocol import InvalidArgument
from .records import FORMATS, read_objects

IGNORE = -100

# The Stanford Alpaca prompts, verbatim.
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)

# ShareGPT conversations use the Vicuna v1.1 layout (FastChat), the template
# ShareGPT/WizardLM-trained LLaMA models were fine-tuned with.
VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
ASSISTANT_ROLES = frozenset({"gpt", "assistant", "chatgpt", "bing", "bard"})


def alpaca_prompt(instruction, input_text=""):
    if input_text:
        return PROMPT_WITH_INPUT.format(instruction=instruction, input=input_text)
    return PROMPT_NO_INPUT.format(instruction=instruction)


def _field(i, obj, key, optional=False):
    value = obj.get(key, "" if optional else None)
    if not isinstance(value, str):
        what = "is missing" if value is None else f"must be a string, got {type(value).__name__}"
        raise InvalidArgument(f"dataset record {i} field '{key}'", what)
    return value


def alpaca_segments(i, obj):
    """[(text, trained)] for one Alpaca record: the prompt is masked, the
    response (followed by EOS, added at tokenization) is trained."""
    prompt = alpaca_prompt(_field(i, obj, "instruction"), _field(i, obj, "input", optional=True))
    return [(prompt, False), (_field(i, obj, "output"), True)]


def sharegpt_segments(i, obj):
    """[(text, trained)] for one conversation: only assistant turns train."""
    turns = obj.get("conversations")
    if not isinstance(turns, list):
        what = "is missing" if turns is None else "must be a list"
        raise InvalidArgument(f"dataset record {i} field 'conversations'", what)
    system = VICUNA_SYSTEM
    segments = []
    for j, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise InvalidArgument(f"dataset record {i} field 'conversations[{j}].value'",
                                  "must be a string inside a {from, value} object")
        role = str(turn.get("from", "")).lower()
        if role == "system":
            system = turn["value"]
        elif role in ASSISTANT_ROLES:
            segments.append(("ASSISTANT:", False))
            segments.append((" " + turn["value"], True))
        else:
            segments.append(("USER: " + turn["value"] + " ", False))
    return [(system + " ", False)] + segments


def load_segments(path, fmt):
    """One segment list per record, in file order. fmt "auto" picks
    sharegpt when the first record has `conversations`, else alpaca."""
    if fmt not in FORMATS + ("auto",):
        raise InvalidArgument("dataset.format", f"must be one of {', '.join(FORMATS)}; got {fmt!r}")
    items = read_objects(path)
    if not isinstance(items, list):
        raise InvalidArgument("dataset.path", "must hold a JSON array or JSONL of objects")
    if fmt == "auto":
        first = items[0] if items else None
        fmt = "sharegpt" if isinstance(first, dict) and "conversations" in first else "alpaca"
    to_segments = alpaca_segments if fmt == "alpaca" else sharegpt_segments
    out = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            raise InvalidArgument(f"dataset record {i}", f"must be an object, got {type(obj).__name__}")
        out.append(to_segments(i, obj))
    if not out:
        raise InvalidArgument("dataset.path", "holds no records")
    return out


@dataclass
class Example:
    input_ids: list
    labels: list          # aligned with input_ids (HF convention); IGNORE = not trained
    truncated: bool

    @property
    def n_targets(self):
        # Tokens that contribute to the loss: positions t whose *next* token
        # is trained (the causal shift happens in collate).
        return sum(1 for y in self.labels[1:] if y != IGNORE)


def tokenize_segments(tokenizer, records, max_length):
    """Examples for records = [[(text, trained)]]. Trained segments end with
    EOS, so the model learns where a response stops. The first segment gets
    the tokenizer's own special tokens (BOS for LLaMA); the rest none."""
    flat = [text for segs in records for text, _ in segs]
    firsts = []
    for segs in records:
        firsts.extend([True] + [False] * (len(segs) - 1))
    # Two batched calls (the fast tokenizer parallelises them) instead of one per segment.
    first_ids = tokenizer([t for t, f in zip(flat, firsts) if f], add_special_tokens=True)["input_ids"]
    rest_ids = tokenizer([t for t, f in zip(flat, firsts) if not f], add_special_tokens=False)["input_ids"]
    first_it, rest_it = iter(first_ids), iter(rest_ids)
    eos = tokenizer.eos_token_id
    examples = []
    for segs in records:
        ids, labels = [], []
        for k, (_, trained) in enumerate(segs):
            seg = list(next(first_it) if k == 0 else next(rest_it))
            if trained:
                seg.append(eos)
            ids.extend(seg)
            labels.extend(seg if trained else [IGNORE] * len(seg))
        truncated = len(ids) > max_length
        examples.append(Example(ids[:max_length], labels[:max_length], truncated))
    return examples


# ---------------------------------------------------------------- batch plan

def steps_per_epoch(n_examples, batch_size):
    return math.ceil(n_examples / batch_size)


def total_steps(n_examples, batch_size, epochs, max_steps=0):
    # Fractional epochs round up to whole steps; max_steps caps.
    steps = max(1, math.ceil(epochs * steps_per_epoch(n_examples, batch_size)))
    return min(steps, max_steps) if max_steps else steps


def epoch_order(n_examples, seed, epoch):
    """The shuffled record order of one epoch: a pure function of (seed,
    epoch), so a resumed run sees exactly the batches the lost run would have."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n_examples, generator=g).tolist()


def global_batch(n_examples, batch_size, seed, step):
    """Record indices of optimiser step `step` (1-based). The last batch of an
    epoch is short rather than borrowing from the next epoch."""
    spe = steps_per_epoch(n_examples, batch_size)
    epoch, k = divmod(step - 1, spe)
    order = epoch_order(n_examples, seed, epoch)
    return order[k * batch_size:(k + 1) * batch_size]


def rank_micro_batches(indices, lengths, rank, world, micro_batch_size):
    """Split one global batch into this rank's micro-batches.

    Sorting by length before dealing keeps padding small (the step's loss is
    a sum over tokens, so order inside the step does not change it). Every
    rank gets the same number of micro-batches because FSDP runs collectives
    in each forward/backward; a rank with nothing left gets empty lists,
    which the loop turns into a zero-weight dummy row.
    """
    ordered = sorted(indices, key=lambda i: (lengths[i], i))
    mine = ordered[rank::world]
    per_rank = math.ceil(len(indices) / world)
    n_micro = max(1, math.ceil(per_rank / micro_batch_size))
    # Near-equal split into n_micro pieces (sizes differ by at most one).
    base, extra = divmod(len(mine), n_micro)
    out, start = [], 0
    for m in range(n_micro):
        size = base + (1 if m < extra else 0)
        out.append(mine[start:start + size])
        start += size
    return out


def collate(examples, pad_id):
    """Right-padded tensors for one micro-batch. `targets` are the labels
    already shifted left by one (targets[t] = labels[t+1]) so the loss can
    use the full logits tensor without a sliced copy of it."""
    if not examples:
        # Dummy row for a rank with no samples in this micro-batch: it runs
        # the forward/backward that FSDP's collectives need, weighs nothing.
        examples = [Example([pad_id], [IGNORE], False)]
    width = max(len(e.input_ids) for e in examples)
    n = len(examples)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((n, width), dtype=torch.long)
    targets = torch.full((n, width), IGNORE, dtype=torch.long)
    for r, e in enumerate(examples):
        L = len(e.input_ids)
        input_ids[r, :L] = torch.tensor(e.input_ids)
        attention_mask[r, :L] = 1
        if L > 1:
            targets[r, :L - 1] = torch.tensor(e.labels[1:])
    return input_ids, attention_mask, targets
