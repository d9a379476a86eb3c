import json

import pytest
from uniformity_core.protocol import InvalidArgument
from uniformity_core.records import load_texts, tokenize


def test_tokenizer_lowercases_and_keeps_apostrophe_words():
    assert tokenize("Don't PANIC: 42 towels, it's 3.14!") == ["don't", "panic", "42", "towels", "it's", "3", "14"]
    assert tokenize("") == [] and tokenize("?!...") == []


def test_alpaca_json_and_jsonl_with_missing_input(tmp_path):
    rows = [{"instruction": "a", "input": "b", "output": "c"}, {"instruction": "x", "output": "y"}]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    want = ["a\nb\nc", "x\n\ny"]
    assert load_texts(str(tmp_path / "d.json"), "alpaca") == want
    assert load_texts(str(tmp_path / "d.jsonl"), "alpaca") == want


def test_sharegpt_every_turn_in_order(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}]
    (tmp_path / "s.jsonl").write_text(json.dumps(rows[0]) + "\n")
    assert load_texts(str(tmp_path / "s.jsonl"), "sharegpt") == ["hi\nhello"]


@pytest.mark.parametrize("rows,fmt,field", [
    ([{"instruction": "a", "output": "b"}, {"instruction": 3, "output": "b"}], "alpaca", "record 1 field 'instruction'"),
    ([{"instruction": "a"}], "alpaca", "record 0 field 'output'"),
    ([{"instruction": "a", "output": "b"}, "text"], "alpaca", "record 1"),
    ([{"conversations": [{"from": "human"}]}], "sharegpt", "record 0 field 'conversations[0].value'"),
    ([{"turns": []}], "sharegpt", "record 0 field 'conversations'"),
])
def test_malformed_records_name_index_and_field(tmp_path, rows, fmt, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(InvalidArgument, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_texts(str(path), fmt)


def test_missing_file_and_broken_json(tmp_path):
    with pytest.raises(InvalidArgument, match="dataset.path"):
        load_texts(str(tmp_path / "nope.json"), "alpaca")
    (tmp_path / "b.jsonl").write_text('{"instruction": "a", "output": "b"}\n{oops\n')
    with pytest.raises(InvalidArgument, match="line 2"):
        load_texts(str(tmp_path / "b.jsonl"), "alpaca")
