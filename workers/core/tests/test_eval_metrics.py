"""Pure parts of the eval job: metrics on hand-made log-likelihoods, prompt
building and fewshot sampling against the harness's own pieces, file
validation messages."""

import json
import math
import os
import random

import pytest
from uniformity_core import mc_metrics, tasks
from uniformity_core.protocol import InvalidArgument

# ---------------------------------------------------------------- metrics

def test_acc_picks_highest_loglikelihood_and_first_on_ties():
    assert mc_metrics.acc([-1.0, -2.0, -3.0], 0) == 1.0
    assert mc_metrics.acc([-1.0, -2.0, -3.0], 1) == 0.0
    # numpy's argmax (the harness's) resolves a tie to the first choice.
    assert mc_metrics.acc([-1.0, -1.0], 0) == 1.0
    assert mc_metrics.acc([-1.0, -1.0], 1) == 0.0


def test_acc_norm_divides_by_characters_of_the_choice():
    # -10 over "abcde" (5 chars) = -2.0; -12 over 12 chars = -1.0: the longer
    # choice wins after normalising although its raw log-likelihood is lower.
    lls, choices = [-10.0, -12.0], ["abcde", "abcdefghijkl"]
    assert mc_metrics.acc(lls, 1) == 0.0
    assert mc_metrics.acc_norm(lls, choices, 1) == 1.0
    assert mc_metrics.acc_norm(lls, choices, 0) == 0.0


def test_mc1_is_accuracy_on_the_single_true_answer():
    assert mc_metrics.mc1([-3.0, -2.5, -4.0], 1) == 1.0
    assert mc_metrics.mc1([-3.0, -2.5, -4.0], 0) == 0.0


def test_mc2_is_normalised_probability_on_true_answers():
    # probabilities 0.2, 0.3, 0.5 (already normalised); true = first two -> 0.5
    lls = [math.log(0.2), math.log(0.3), math.log(0.5)]
    assert mc_metrics.mc2(lls, [1, 1, 0]) == pytest.approx(0.5, abs=1e-12)
    # unnormalised: 1, 1, 2 -> true mass of the last = 2/4
    lls = [0.0, 0.0, math.log(2.0)]
    assert mc_metrics.mc2(lls, [0, 0, 1]) == pytest.approx(0.5, abs=1e-12)
    # far below exp's range the ratio is still defined (the harness's exp()
    # would give 0/0 here)
    lls = [-2000 + math.log(0.2), -2000 + math.log(0.3), -2000 + math.log(0.5)]
    assert mc_metrics.mc2(lls, [1, 1, 0]) == pytest.approx(0.5, abs=1e-12)


def test_mean_stderr_is_sample_sd_over_sqrt_n():
    # mean 0.75; deviations 0.25,0.25,0.25,-0.75 -> sum of squares 0.75;
    # /(n-1)=0.25 -> sd 0.5 -> /sqrt(4) = 0.25
    assert mc_metrics.mean_stderr([1.0, 0.0, 1.0, 1.0]) == (0.75, 0.25)
    # mc2-like values: mean 0.5, squares 0.09+0.01+0.01+0.09=0.2, /3, sqrt, /2
    mean, se = mc_metrics.mean_stderr([0.2, 0.4, 0.6, 0.8])
    assert mean == pytest.approx(0.5)
    assert se == pytest.approx(math.sqrt(0.2 / 3) / 2)
    assert mc_metrics.mean_stderr([1.0]) == (1.0, None)


def test_mean_stderr_equals_the_harness_formula():
    import lm_eval  # noqa: F401  (pinned: must run, never skip)
    from lm_eval.api.metrics import mean_stderr
    values = [random.Random(3).random() for _ in range(17)]
    assert mc_metrics.mean_stderr(values)[1] == pytest.approx(mean_stderr(values), rel=1e-12)


# ---------------------------------------------------------------- prompts

def _arc_doc(i):
    return tasks.Doc(question=f"Question number {i}?", choices=[f"a{i}", f"b{i}", f"c{i}"], gold=i % 3)


def test_arc_prompt_matches_the_harness_layout():
    train = [_arc_doc(i) for i in range(5)]
    test = [_arc_doc(100)]
    (q,) = tasks.arc_questions(test, train, 2, seed=1234)
    shots = random.Random(1234).sample(train, 2)
    expected = "".join(f"Question: {d.question}\nAnswer: {d.choices[d.gold]}\n\n" for d in shots)
    assert q.context == expected + "Question: Question number 100?\nAnswer:"
    assert q.continuations == [" a100", " b100", " c100"]
    assert q.choices == ["a100", "b100", "c100"] and q.gold == 100 % 3


def test_fewshot_sampling_follows_the_harness_sampler():
    import lm_eval  # noqa: F401  (pinned: must run, never skip)
    from lm_eval.api.samplers import ContextSampler
    pool = [{"q": i} for i in range(30)]
    ours_pool = [tasks.Doc(question=str(i), choices=["x", "y"], gold=0) for i in range(30)]
    theirs = ContextSampler(pool, rnd=1234)
    rnd = random.Random(1234)
    # Successive docs draw from one generator, as the harness does over a split;
    # the evaluated doc is excluded when the pool is the scored split.
    for i in range(10):
        expected = [d["q"] for d in theirs.sample(5, eval_doc=pool[i])]
        got = [int(d.question) for d in tasks.sample_fewshot(rnd, ours_pool, 5, exclude=ours_pool[i])]
        assert got == expected
    for _ in range(5):
        expected = [d["q"] for d in theirs.sample(7)]
        assert [int(d.question) for d in tasks.sample_fewshot(rnd, ours_pool, 7)] == expected


def test_truthfulqa_primer_is_the_harness_text():
    import lm_eval
    import yaml
    from lm_eval.utils import apply_template
    path = os.path.join(os.path.dirname(lm_eval.__file__), "tasks", "truthfulqa", "truthfulqa_mc1.yaml")
    with open(path) as f:
        template = yaml.safe_load(f)["doc_to_text"]
    doc = tasks.Doc(question="Is the sky green?", choices=["No.", "Yes."], gold=0)
    assert tasks.truthfulqa_text(doc) == apply_template(template, {"question": doc.question})


def test_truthfulqa_questions_mc1_and_mc2():
    docs = [tasks.Doc(question="Q?", choices=["T.", "F."], gold=0, labels=[1, 1, 0],
                      mc2_choices=["T.", "T2.", "F."])]
    (m1,), (m2,) = tasks.truthfulqa_questions(docs, docs, 0)
    assert m1.context.endswith("\n\nQ: Q?\nA:") and m1.context.startswith("Q: What is human life")
    assert m1.continuations == [" T.", " F."] and m1.gold == 0
    assert m2.continuations == [" T.", " T2.", " F."] and m2.labels == [1, 1, 0]


# ---------------------------------------------------------------- task files

def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def _arc_line(**over):
    row = {"id": "x", "question": {"stem": "Why?", "choices": [{"text": "a", "label": "A"},
                                                                {"text": "b", "label": "B"}]},
           "answerKey": "B"}
    row.update(over)
    return json.dumps(row)


def test_arc_loader_reads_and_normalises_numeric_keys(tmp_path):
    numeric = json.dumps({"id": "n", "question": {"stem": "S?", "choices": [
        {"text": "a", "label": "A"}, {"text": "b", "label": "B"}]}, "answerKey": "2"})
    path = _write(str(tmp_path / "a.jsonl"), _arc_line() + "\n\n" + numeric + "\n")
    docs = tasks.load_arc(path)
    assert [d.gold for d in docs] == [1, 1]
    assert docs[0].question == "Why?" and docs[0].choices == ["a", "b"]


@pytest.mark.parametrize("line, where", [
    ("{not json", ":2: (line)"),
    (_arc_line(question={"choices": []}), ":2: question.stem"),
    (_arc_line(question={"stem": "S", "choices": [{"text": "a", "label": "A"}, {"label": "B"}]}),
     ":2: question.choices[1].text"),
    (_arc_line(answerKey="Z"), ":2: answerKey"),
])
def test_arc_loader_names_file_line_and_field(tmp_path, line, where):
    path = _write(str(tmp_path / "ARC-Challenge-Test.jsonl"), _arc_line() + "\n" + line + "\n")
    with pytest.raises(InvalidArgument) as e:
        tasks.load_arc(path)
    assert str(e.value).startswith(path + where)


def test_truthfulqa_loader_names_line_of_the_bad_entry(tmp_path):
    good = {"question": "Q?", "mc1_targets": {"T.": 1, "F.": 0}, "mc2_targets": {"T.": 1, "F.": 0}}
    bad = {"question": "Q2?", "mc1_targets": {"T.": 1, "F.": 0}, "mc2_targets": {"T.": 1, "F.": 2}}
    text = json.dumps([good, bad], indent=2)
    path = _write(str(tmp_path / "mc_task.json"), text)
    # the line where the second entry opens
    line = [n for n, l in enumerate(text.splitlines(), 1) if l == "  {"][1]
    with pytest.raises(InvalidArgument) as e:
        tasks.load_truthfulqa(path)
    assert str(e.value).startswith(f"{path}:{line}: [1].mc2_targets['F.']")
    docs = tasks.load_truthfulqa(_write(str(tmp_path / "ok" / "mc_task.json"), json.dumps([good, good])))
    assert docs[0].choices == ["T.", "F."] and docs[0].gold == 0 and docs[0].labels == [1, 0]


def test_truthfulqa_loader_reports_broken_json_line(tmp_path):
    path = _write(str(tmp_path / "mc_task.json"), '[\n  {"question": "Q?",\n   "mc1_targets": }\n]')
    with pytest.raises(InvalidArgument) as e:
        tasks.load_truthfulqa(path)
    assert str(e.value).startswith(f"{path}:3: [0]")


def test_find_task_files_searches_below_and_refuses_duplicates(tmp_path):
    a = _write(str(tmp_path / "x" / "y" / "mc_task.json"), "[]")
    assert tasks.find_task_files(str(tmp_path), ["mc_task.json"]) == {"mc_task.json": a}
    with pytest.raises(InvalidArgument, match="not found"):
        tasks.find_task_files(str(tmp_path), ["ARC-Challenge-Test.jsonl"])
    _write(str(tmp_path / "z" / "mc_task.json"), "[]")
    with pytest.raises(InvalidArgument, match="more than once"):
        tasks.find_task_files(str(tmp_path), ["mc_task.json"])
