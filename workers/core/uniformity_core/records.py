"""Reading instruction datasets into one text per record, and the one
tokenizer every embedder uses.

Alpaca: objects with string `instruction`, `input` (may be missing) and
`output`; text = instruction, input, output joined by newlines.
ShareGPT / WizardLM: objects with `conversations: [{from, value}]`; text =
every turn's value in order, joined by newlines.
Either as a JSON array or as JSONL (one object per line).
"""

import json
import re

from .protocol import InvalidArgument

FORMATS = ("alpaca", "sharegpt")

# Word tokens: runs of lower-case letters/digits, optionally followed by one
# apostrophe suffix so "don't" and "it's" stay single words. Everything else
# (punctuation, symbols, whitespace) separates tokens. Lower-casing happens
# first, so the pattern sees only [a-z0-9'] as word characters; non-ASCII
# letters split words (good enough for English instruction data).
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text):
    """Lower-case `text` and return its word tokens (see TOKEN_RE)."""
    return TOKEN_RE.findall(text.lower())


def read_objects(path, field="dataset.path"):
    """The file's objects, from a JSON array or JSONL."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InvalidArgument(field, f"not found: {path}")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgument(field, f"cannot read {path}: {e}")
    body = raw.lstrip()
    if body.startswith("["):
        try:
            items = json.loads(body)
        except json.JSONDecodeError as e:
            raise InvalidArgument(field, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")
        return items
    items = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise InvalidArgument(field, f"invalid JSONL at line {lineno}: {e.msg}")
    return items


def _alpaca_text(i, obj):
    parts = []
    for key in ("instruction", "input", "output"):
        value = obj.get(key, "" if key == "input" else None)
        if not isinstance(value, str):
            what = "is missing" if value is None else f"must be a string, got {type(value).__name__}"
            raise InvalidArgument(f"dataset record {i} field '{key}'", what)
        parts.append(value)
    return "\n".join(parts)


def _sharegpt_text(i, obj):
    turns = obj.get("conversations")
    if not isinstance(turns, list):
        what = "is missing" if turns is None else "must be a list"
        raise InvalidArgument(f"dataset record {i} field 'conversations'", what)
    values = []
    for j, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise InvalidArgument(f"dataset record {i} field 'conversations[{j}].value'",
                                  "must be a string inside a {from, value} object")
        values.append(turn["value"])
    return "\n".join(values)


def load_texts(path, fmt):
    """One text per record, in file order. Bad records name index and field."""
    if fmt not in FORMATS:
        raise InvalidArgument("dataset.format", f"must be one of {', '.join(FORMATS)}; got {fmt!r}")
    items = read_objects(path)
    if not isinstance(items, list):
        raise InvalidArgument("dataset.path", "must hold a JSON array or JSONL of objects")
    to_text = _alpaca_text if fmt == "alpaca" else _sharegpt_text
    texts = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            raise InvalidArgument(f"dataset record {i}", f"must be an object, got {type(obj).__name__}")
        texts.append(to_text(i, obj))
    if not texts:
        raise InvalidArgument("dataset.path", "holds no records")
    return texts
