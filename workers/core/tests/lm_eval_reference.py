"""Run lm-evaluation-harness itself on local ARC / TruthfulQA files: the
reference our `eval` job must equal.

    python lm_eval_reference.py --model DIR --data DIR --work DIR --arc-shots 0,3
        [--tqa-shots 0] [--batch-size 8] [--limit N] --out FILE.json

The harness's own task yamls (arc_easy.yaml, truthfulqa_mc1/mc2.yaml, as
installed) are included unchanged but for where the data comes from: the
local files, converted the way Hugging Face converted them for the hub
datasets the harness normally reads (ARC: question.stem -> question,
choices -> {text, label}; TruthfulQA: {answer: label} -> {choices, labels}).

It runs in its own process so the offline switches are set before
`datasets` is imported, and the harness's global state stays out of pytest.
Writes {"results": {task: {metric: value, metric_stderr: value}},
"lls": {task: [[ll per choice] per doc]}, "seconds": wall time of
simple_evaluate}, tasks named ref_arc_challenge_<k>shot and
ref_truthfulqa_mc1|mc2_<k>shot.
"""

import argparse
import json
import os
import sys
import time


def find(data_dir, name):
    for root, _, files in os.walk(data_dir):
        if name in files:
            return os.path.join(root, name)
    raise FileNotFoundError(name)


def write_hf_data(data_dir, work):
    """The hub datasets' layout, made from the publishers' files."""
    paths = {}
    for split in ("Train", "Test"):
        out = os.path.join(work, f"arc_{split.lower()}.jsonl")
        with open(find(data_dir, f"ARC-Challenge-{split}.jsonl")) as f, open(out, "w") as g:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    q = row["question"]
                    g.write(json.dumps({"id": row["id"], "question": q["stem"],
                                        "choices": {"text": [c["text"] for c in q["choices"]],
                                                    "label": [c["label"] for c in q["choices"]]},
                                        "answerKey": row["answerKey"]}) + "\n")
        paths[split.lower()] = out
    out = os.path.join(work, "tqa_validation.jsonl")
    with open(find(data_dir, "mc_task.json")) as f, open(out, "w") as g:
        for row in json.load(f):
            g.write(json.dumps({"question": row["question"],
                                "mc1_targets": {"choices": list(row["mc1_targets"]),
                                                "labels": list(row["mc1_targets"].values())},
                                "mc2_targets": {"choices": list(row["mc2_targets"]),
                                                "labels": list(row["mc2_targets"].values())}}) + "\n")
    paths["tqa"] = out
    return paths


def write_task_yamls(work, paths, arc_shots, tqa_shots):
    """One task per (task, shots), shots fixed in its yaml, so that a single
    simple_evaluate call (one model load) runs them all."""
    import lm_eval
    tasks_dir = os.path.join(os.path.dirname(lm_eval.__file__), "tasks")
    yaml_dir = os.path.join(work, "tasks")
    os.makedirs(yaml_dir, exist_ok=True)
    names = []
    for shots in arc_shots:
        name = f"ref_arc_challenge_{shots}shot"
        text = f"""include: {os.path.join(tasks_dir, "arc", "arc_easy.yaml")}
task: {name}
tag: ref_local
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    train: {paths["train"]}
    test: {paths["test"]}
validation_split: null
num_fewshot: {shots}
"""
        names.append(name)
        with open(os.path.join(yaml_dir, f"{name}.yaml"), "w") as f:
            f.write(text)
    for shots in tqa_shots:
        for mc in ("mc1", "mc2"):
            name = f"ref_truthfulqa_{mc}_{shots}shot"
            text = f"""include: {os.path.join(tasks_dir, "truthfulqa", f"truthfulqa_{mc}.yaml")}
task: {name}
tag: ref_local
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    validation: {paths["tqa"]}
num_fewshot: {shots}
"""
            names.append(name)
            with open(os.path.join(yaml_dir, f"{name}.yaml"), "w") as f:
                f.write(text)
    return yaml_dir, names


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--arc-shots", default="0")
    p.add_argument("--tqa-shots", default="0")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    os.makedirs(args.work, exist_ok=True)
    # Offline, and a private datasets cache: never the network, never ~/.cache.
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                      HF_DATASETS_CACHE=os.path.join(args.work, "hf_datasets"),
                      HF_HOME=os.path.join(args.work, "hf_home"))
    import lm_eval
    from lm_eval.tasks import TaskManager

    arc_shots = [int(x) for x in args.arc_shots.split(",") if x != ""]
    tqa_shots = [int(x) for x in args.tqa_shots.split(",") if x != ""]
    yaml_dir, names = write_task_yamls(args.work, write_hf_data(args.data, args.work), arc_shots, tqa_shots)
    started = time.perf_counter()
    # bootstrap_iters=1: the mean's stderr is closed-form (mean_stderr); 0
    # would switch stderrs off altogether.
    res = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={args.model},dtype=float32", tasks=names,
        device="cpu", batch_size=args.batch_size, limit=args.limit or None,
        task_manager=TaskManager(include_path=yaml_dir, include_defaults=False), log_samples=True, bootstrap_iters=1)
    out = {"seconds": time.perf_counter() - started, "results": {}, "lls": {}}
    for name in names:
        metrics = res["results"][name]
        out["results"][name] = {k.split(",")[0]: v for k, v in metrics.items() if "," in k}
        samples = sorted(res["samples"][name], key=lambda s: s["doc_id"])
        out["lls"][name] = [[float(r[0]) for r in s["filtered_resps"]] for s in samples]
    with open(args.out, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
