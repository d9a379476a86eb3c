"""Alpaca/ShareGPT fixtures and a tiny LLaMA built on the fly, so training
tests and benchmarks never download weights. Shared by the test_train*.py
files and test/bench/training/."""

import atexit
import functools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

FIXTURE_WORDS = (
    "the a an of to in and is are was for on with as by at from that this it be "
    "write give list explain describe summarize translate name find make tell "
    "story poem answer question reason color animal plant river mountain city "
    "number sum two three four five seven ten hundred big small red blue green "
    "fast slow happy sad water fire earth air light dark day night sun moon star "
    "code python function loop value list dict sort search tree graph node edge"
).split()


def make_alpaca(n, seed=0):
    rng = random.Random(seed)

    def sentence(k):
        return " ".join(rng.choice(FIXTURE_WORDS) for _ in range(k))

    records = []
    for i in range(n):
        records.append({
            "instruction": sentence(rng.randint(4, 12)).capitalize() + ".",
            # Every third record has no input: exercises both prompt variants.
            "input": "" if i % 3 == 0 else sentence(rng.randint(2, 10)),
            "output": sentence(rng.randint(3, 30)) + ".",
        })
    return records


def make_sharegpt(n, seed=0):
    rng = random.Random(seed)

    def sentence(k):
        return " ".join(rng.choice(FIXTURE_WORDS) for _ in range(k))

    convs = []
    for _ in range(n):
        turns = []
        for _t in range(rng.randint(1, 3)):
            turns.append({"from": "human", "value": sentence(rng.randint(3, 10))})
            turns.append({"from": "gpt", "value": sentence(rng.randint(3, 15))})
        convs.append({"conversations": turns})
    return convs


def build_tiny_llama(out_dir, vocab_size=600, seed=0):
    """The project's tiny LLaMA (uniformity_core.tiny_model) with its
    tokenizer trained on the fixture vocabulary. Returns out_dir."""
    from uniformity_core.tiny_model import build

    os.makedirs(out_dir, exist_ok=True)
    corpus = write_json(os.path.join(out_dir, "corpus.json"), make_alpaca(400, seed=123))
    build(out_dir, corpus=corpus, vocab_size=vocab_size, max_positions=512, seed=seed)
    os.remove(corpus)
    return out_dir


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    return path


# ---------------------------------------------------------------- running jobs

CORE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # workers/core
PYTHON = sys.executable


@functools.cache
def tiny_model_dir():
    """Built once per process (tests and benches share it)."""
    root = tempfile.mkdtemp(prefix="uc-tiny-llama-")
    atexit.register(shutil.rmtree, root, True)
    return build_tiny_llama(os.path.join(root, "model"))


def base_spec(model_dir, data_path, output_dir, **overrides):
    spec = {"kind": "train", "dataset": {"path": data_path, "format": "alpaca"},
            "model_dir": model_dir, "output_dir": output_dir, "lr": 1e-3, "batch_size": 8,
            "max_length": 96, "epochs": 1, "device": "cpu", "precision": "fp32"}
    spec.update(overrides)
    return spec


class _Capture:
    def __init__(self):
        self.lines = []

    def write(self, text):
        self.lines.extend(json.loads(l) for l in text.splitlines() if l.strip())

    def flush(self):
        pass


def run_inprocess(spec, tmp_dir):
    """(exit code, events) of the train job run in this process: no import
    cost, so most tests use it; the protocol path itself is covered by
    subprocess tests."""
    from uniformity_core import protocol, train

    path = write_json(os.path.join(tmp_dir, f"spec-{len(os.listdir(tmp_dir))}.json"), spec)
    capture = _Capture()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = protocol.run(train.run, path, protocol.Emitter(capture))
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code, capture.lines


def job_env():
    env = dict(os.environ, PYTHONPATH=CORE, PYTHONUNBUFFERED="1")
    env.pop("RANK", None)
    return env


def start_job(spec, tmp_dir, torchrun_procs=0):
    path = write_json(os.path.join(tmp_dir, f"spec-{len(os.listdir(tmp_dir))}.json"), spec)
    if torchrun_procs:
        cmd = [os.path.join(os.path.dirname(PYTHON), "torchrun"), "--nproc_per_node",
               str(torchrun_procs), "--master_port", str(_free_port()), "-m", "uniformity_core",
               "train", "--spec", path]
    else:
        cmd = [PYTHON, "-m", "uniformity_core", "train", "--spec", path]
    return subprocess.Popen(cmd, env=job_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_job(spec, tmp_dir, torchrun_procs=0, timeout=180):
    proc = start_job(spec, tmp_dir, torchrun_procs)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, [json.loads(l) for l in out.splitlines() if l.strip()], err


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def steps_of(events):
    return {e["step"]: e for e in events if e["type"] == "step"}
