"""`eval` job: score a model directory on ARC-Challenge and TruthfulQA-MC the
way lm-evaluation-harness 0.4.x does, offline.

Read top to bottom: validate the spec, load and check the task files, build
every prompt, load the model, score every (context, choice) pair in one
batched pass, turn log-likelihoods into metrics, write the files, emit the
result. Everything that can be wrong with the input is found before the
model is loaded and before anything is written.

Spec: {"kind": "eval", "model_dir", "tasks": [{"name", "shots"}], "data_dir",
"limit" (0 = all), "batch_size", "seed" (fewshot sampling, default 1234 as
the harness), "device": auto|cpu|cuda, "precision": auto|fp32|bf16,
"output_dir"}.
Result: {"kind": "eval", "scores": [{task, shots, metric, value, stderr, n}],
"duration_s"}. Files in output_dir: eval_results.json (the result plus the
spec) and samples_<task>_<shots>shot.jsonl (per question log-likelihoods).
"""

import json
import logging
import os
import time

import torch

from . import mc_metrics, tasks
from .protocol import InvalidArgument, Progress, check_keys, get_abs_path, get_int, get_str
from .runtime import resolve_device, set_threads
from .scoring import Scorer, Unscorable

log = logging.getLogger("uniformity_core.eval")

SPEC_KEYS = {"kind", "model_dir", "tasks", "data_dir", "limit", "batch_size", "seed",
             "device", "precision", "output_dir"}


# ---------------------------------------------------------------- spec

def read_tasks(spec):
    entries = spec.get("tasks")
    if not isinstance(entries, list) or not entries:
        raise InvalidArgument("tasks", "must be a non-empty list of {name, shots}")
    out, seen = [], set()
    for i, entry in enumerate(entries):
        prefix = f"tasks[{i}]."
        if not isinstance(entry, dict):
            raise InvalidArgument(f"tasks[{i}]", "must be an object {name, shots}")
        check_keys(entry, {"name", "shots"}, prefix=prefix)
        name = get_str(entry, "name", choices=tuple(tasks.TASKS), prefix=prefix, required=True)
        shots = get_int(entry, "shots", default=tasks.TASKS[name]["shots"], minimum=0, prefix=prefix)
        if (name, shots) in seen:
            raise InvalidArgument(f"tasks[{i}]", f"{name} with {shots} shots is listed twice")
        seen.add((name, shots))
        out.append((name, shots))
    return out


def resolve_dtype(precision, device):
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    # auto: bf16 where the GPU does it natively, fp32 on CPU (bf16 matmuls on
    # CPU are slow and buy nothing for scoring).
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


# ---------------------------------------------------------------- tasks

def load_questions(task_list, data_dir, limit, seed):
    """Per (task, shots): {"metric_name": [Question]}; all files validated."""
    names = set()
    for name, shots in task_list:
        if name == "arc_challenge":
            names.add(tasks.ARC_FILES["test"])
            if shots:
                names.add(tasks.ARC_FILES["train"])
        else:
            names.add(tasks.TRUTHFULQA_FILE)
    paths = tasks.find_task_files(data_dir, sorted(names))
    loaded = {}

    def docs(file_name, loader):
        if file_name not in loaded:
            loaded[file_name] = loader(paths[file_name])
        return loaded[file_name]

    out = {}
    for i, (name, shots) in enumerate(task_list):
        if name == "arc_challenge":
            test = docs(tasks.ARC_FILES["test"], tasks.load_arc)
            train = docs(tasks.ARC_FILES["train"], tasks.load_arc) if shots else []
            if shots > len(train):
                raise InvalidArgument(f"tasks[{i}].shots", f"{shots} shots but "
                                      f"{paths[tasks.ARC_FILES['train']]} holds only {len(train)} questions")
            scored = test[:limit] if limit else test
            out[(name, shots)] = {"arc": tasks.arc_questions(scored, train, shots, seed)}
        else:
            pool = docs(tasks.TRUTHFULQA_FILE, tasks.load_truthfulqa)
            # The evaluated question is never its own example: one fewer to draw from.
            if shots > len(pool) - 1:
                raise InvalidArgument(f"tasks[{i}].shots", f"{shots} shots but {paths[tasks.TRUTHFULQA_FILE]} "
                                      f"holds {len(pool)} questions (at most {len(pool) - 1} shots)")
            scored = pool[:limit] if limit else pool
            mc1, mc2 = tasks.truthfulqa_questions(scored, pool, shots, seed)
            out[(name, shots)] = {"mc1": mc1, "mc2": mc2}
    return out


# ---------------------------------------------------------------- model

def load_model(model_dir, device, dtype):
    """Tokenizer and causal LM from a local HF directory; bad input -> exit 2."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    if not os.path.isdir(model_dir):
        raise InvalidArgument("model_dir", f"not a directory: {model_dir}")
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise InvalidArgument("model_dir", f"no config.json in {model_dir}: not a Hugging Face model directory")
    try:
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidArgument("model_dir", f"cannot read the model config in {model_dir}: {e}")
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise InvalidArgument("model_dir", f"model_type {getattr(config, 'model_type', '?')!r} in {model_dir} "
                              "is not a causal language model")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidArgument("model_dir", f"cannot load a tokenizer from {model_dir}: {e}")
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidArgument("model_dir", f"cannot load the model weights from {model_dir}: {e}")
    except Exception as e:
        # A corrupt safetensors header surfaces as the library's own error type.
        if type(e).__name__ == "SafetensorError":
            raise InvalidArgument("model_dir", f"cannot load the model weights from {model_dir}: {e}")
        raise
    return tokenizer, model.to(device).eval()


# ---------------------------------------------------------------- metrics

def score_task(name, shots, questions, lls_of):
    """Per-question values and the aggregated score lines of one task."""
    samples, lines = [], []
    if name == "arc_challenge":
        per = {"acc": [], "acc_norm": []}
        for q in questions["arc"]:
            lls = lls_of(q)
            a, an = mc_metrics.acc(lls, q.gold), mc_metrics.acc_norm(lls, q.choices, q.gold)
            per["acc"].append(a)
            per["acc_norm"].append(an)
            samples.append({"context_tail": q.context[-200:], "choices": q.choices, "gold": q.gold,
                            "loglikelihoods": lls, "acc": a, "acc_norm": an})
    else:
        per = {"mc1": [], "mc2": []}
        for q1, q2 in zip(questions["mc1"], questions["mc2"]):
            lls1, lls2 = lls_of(q1), lls_of(q2)
            v1, v2 = mc_metrics.mc1(lls1, q1.gold), mc_metrics.mc2(lls2, q2.labels)
            per["mc1"].append(v1)
            per["mc2"].append(v2)
            samples.append({"question_tail": q1.context[-200:], "mc1_choices": q1.choices,
                            "mc1_loglikelihoods": lls1, "mc2_choices": q2.choices,
                            "mc2_labels": q2.labels, "mc2_loglikelihoods": lls2,
                            "mc1": v1, "mc2": v2})
    for metric, values in per.items():
        value, stderr = mc_metrics.mean_stderr(values)
        lines.append({"task": name, "shots": shots, "metric": metric, "value": value,
                      "stderr": stderr, "n": len(values)})
    return lines, samples


# ---------------------------------------------------------------- output

def write_outputs(output_dir, result, spec, samples):
    """All files appear together or not at all: each is written beside its
    final name and renamed into place once every one is complete."""
    os.makedirs(output_dir, exist_ok=True)
    files = {"eval_results.json": json.dumps({**result, "spec": spec}, indent=2) + "\n"}
    for (name, shots), rows in samples.items():
        files[f"samples_{name}_{shots}shot.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
    tmp = []
    try:
        for fname, text in files.items():
            path = os.path.join(output_dir, f".{fname}.partial")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            tmp.append((path, os.path.join(output_dir, fname)))
        for src, dst in tmp:
            os.replace(src, dst)
    finally:
        for src, _ in tmp:
            if os.path.exists(src):
                os.remove(src)


# ---------------------------------------------------------------- the job

def run(spec, emitter):
    started = time.monotonic()
    check_keys(spec, SPEC_KEYS)
    model_dir = get_abs_path(spec, "model_dir")
    data_dir = get_abs_path(spec, "data_dir")
    output_dir = get_abs_path(spec, "output_dir", must_exist=False)
    task_list = read_tasks(spec)
    limit = get_int(spec, "limit", default=0, minimum=0)
    batch_size = get_int(spec, "batch_size", default=8, minimum=1)
    seed = get_int(spec, "seed", default=tasks.DEFAULT_FEWSHOT_SEED)
    device = resolve_device(get_str(spec, "device", default="auto"))
    dtype = resolve_dtype(get_str(spec, "precision", default="auto", choices=("auto", "fp32", "bf16")), device)
    if not os.path.isdir(data_dir):
        raise InvalidArgument("data_dir", f"not a directory: {data_dir}")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InvalidArgument("output_dir", f"exists and is not a directory: {output_dir}")
    set_threads()

    # Silent until every input has been checked: on bad input the error is
    # the first line the daemon reads.
    questions = load_questions(task_list, data_dir, limit, seed)
    tokenizer, model = load_model(model_dir, device, dtype)
    emitter.progress("load", 1, 1)
    log.info("model %s on %s as %s; tasks %s", model_dir, device, dtype, task_list)

    # One pass over every request of every task, so identical requests (mc1's
    # answers reappear among mc2's) and shared contexts are computed once.
    requests, offsets = [], {}
    for group in questions.values():
        for qs in group.values():
            for q in qs:
                offsets[id(q)] = len(requests)
                requests.extend((q.context, c) for c in q.continuations)
    scorer = Scorer(model, tokenizer, device, batch_size=batch_size)
    progress = Progress(emitter, "score", len(requests), lines=100)
    try:
        lls = scorer.loglikelihoods(requests, on_progress=progress.update)
    except Unscorable as e:
        raise InvalidArgument("tasks", str(e))
    progress.finish()

    def lls_of(q):
        at = offsets[id(q)]
        return lls[at:at + len(q.continuations)]

    scores, samples = [], {}
    for (name, shots), group in questions.items():
        lines, samples[(name, shots)] = score_task(name, shots, group, lls_of)
        scores.extend(lines)
    result = {"kind": "eval", "scores": scores, "duration_s": round(time.monotonic() - started, 3)}
    write_outputs(output_dir, result, spec, samples)
    emitter.result("eval", scores=scores, duration_s=result["duration_s"])
