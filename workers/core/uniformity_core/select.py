"""`select` job: embed a dataset and choose a subset.

Spec:
  {"kind": "select",
   "dataset": {"path": "/abs/file", "format": "alpaca" | "sharegpt"},
   "embedder": {"name": "word2vec", "dim": 100, "window": 5, "min_count": 1,
                "epochs": 5, "workers": 1}
             | {"name": "tfidf", "dim": 100}
             | {"name": "precomputed", "path": "/abs/x.npy"}
             | {"name": "st", "path": "/abs/dir"},
   "strategy": "uniform" | "random" | "first" | "half-random-min-distance"
             | "min-distance",
   "size": N, "seed": 0, "output_dir": "/abs/dir", "device": "auto"|"cpu"|"cuda"}

Randomness: everything random comes from numpy.random.default_rng(seed), a
fresh generator per use, so each figure depends on the seed alone:
the first pick of uniform/min-distance is rng.integers(records); the random
strategy and the random comparison subset are rng.permutation(records)[:size]
(the same subset); half-random-min-distance starts from the first
floor(size/2) of that permutation (from the seeded first pick when that is 0).

Phases (progress events): tokenise, embed, select, metrics, plot.
Files in output_dir: members.json (record indices in pick order),
pick_distances.json (same length, first null), metrics.json, pca.png,
embeddings.npy (float32, the embeddings before normalisation).
"""

import json
import logging
import math
import os
import time

import numpy as np
import torch

from . import embed as embedders
from . import kernels, records
from .metrics import subset_metrics
from .plot import save_pca
from .protocol import InvalidArgument, Progress, check_keys, get_abs_path, get_int, get_obj, get_str
from .runtime import resolve_device, set_threads

log = logging.getLogger(__name__)

STRATEGIES = ("uniform", "random", "first", "half-random-min-distance", "min-distance")


def parse_spec(spec):
    check_keys(spec, {"kind", "dataset", "embedder", "strategy", "size", "seed", "output_dir", "device"})
    dataset = get_obj(spec, "dataset")
    check_keys(dataset, {"path", "format"}, "dataset.")
    out_dir = get_str(spec, "output_dir", required=True)
    if not os.path.isabs(out_dir):
        raise InvalidArgument("output_dir", f"must be an absolute path, got {out_dir!r}")
    return {
        "dataset_path": get_abs_path(dataset, "path", prefix="dataset."),
        "format": get_str(dataset, "format", default="alpaca", choices=records.FORMATS, prefix="dataset."),
        "embedder": embedders.parse_config(get_obj(spec, "embedder")),
        "strategy": get_str(spec, "strategy", choices=STRATEGIES, required=True),
        "size": get_int(spec, "size", required=True),
        "seed": get_int(spec, "seed", default=0, minimum=0),
        "output_dir": out_dir,
        "device": get_str(spec, "device", default="auto", choices=("auto", "cpu", "cuda")),
    }


def first_pick(n, seed):
    return int(np.random.default_rng(seed).integers(n))


def random_order(n, seed):
    return np.random.default_rng(seed).permutation(n)


def choose(strategy, x, size, seed, progress=None):
    """Picks (record indices, in pick order) for a strategy on prepared x."""
    n = x.shape[0]
    if strategy == "uniform":
        picks, _ = kernels.uniform(x, first_pick(n, seed), size, progress)
        return picks
    if strategy == "random":
        return random_order(n, seed)[:size]
    if strategy == "first":
        return np.arange(size)
    if strategy == "min-distance":
        return kernels.nearest_first(x, [first_pick(n, seed)], size, progress)
    # half-random-min-distance
    start = random_order(n, seed)[:size // 2]
    if len(start) == 0:
        start = [first_pick(n, seed)]
    return kernels.nearest_first(x, start, size, progress)


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, allow_nan=False)


def run(spec, emitter):
    cfg = parse_spec(spec)
    device = resolve_device(cfg["device"])
    set_threads()
    # TF32 would round the grid's products on CUDA and break exactness (kernels.py).
    torch.backends.cuda.matmul.allow_tf32 = False
    seed, strategy = cfg["seed"], cfg["strategy"]
    t0 = time.perf_counter()

    # tokenise
    texts = records.load_texts(cfg["dataset_path"], cfg["format"])
    n = len(texts)
    size = cfg["size"]
    if not 1 <= size < n:
        raise InvalidArgument("size", f"must satisfy 1 <= size < records ({n}), got {size}")
    tick = Progress(emitter, "tokenise", n, lines=10)
    tokens = []
    for i, text in enumerate(texts):
        tokens.append(records.tokenize(text))
        if (i + 1) % 5000 == 0:
            tick.update(i + 1)
    tick.finish()
    log.info("parsed and tokenised %d records in %.1fs", n, time.perf_counter() - t0)

    # embed
    config = cfg["embedder"]
    # word2vec reports epochs, st reports records; the others are one step.
    steps = {"word2vec": config.get("epochs"), "st": n}.get(config["name"], 1)
    tick = Progress(emitter, "embed", steps, lines=20)
    tick.update(0)
    embeddings = embedders.embed(config, texts, tokens, seed, device,
                                 progress=lambda done, total: tick.update(done))
    tick.finish()
    empty = embedders.empty_rows(embeddings)
    if empty.size:
        log.warning("%d records have an all-zero embedding (no known words), first %s",
                    empty.size, empty[:10].tolist())
    log.info("embedded with %s to %s at %.1fs", config["name"], embeddings.shape, time.perf_counter() - t0)

    # select
    prepared = kernels.prepare(embeddings)
    x = torch.from_numpy(prepared).to(device)
    tick = Progress(emitter, "select", size)
    tick.update(0)
    picks = choose(strategy, x, size, seed, tick.update)
    tick.finish()
    pick_d = kernels.pick_distances(x, picks)
    log.info("selected %d with %s at %.1fs", size, strategy, time.perf_counter() - t0)

    # metrics
    emitter.progress("metrics", 0, 3)
    h = kernels.half_sq_norms(x)
    later = pick_d[1:]
    sel_h_min = float(later.min()) if later.size else None  # exact, whatever the size
    rand = random_order(n, seed)[:size]
    metrics = {"selection": subset_metrics(x, picks, texts, seed, h_min=sel_h_min, h=h)}
    emitter.progress("metrics", 1, 3)
    metrics["full"] = subset_metrics(x, np.arange(n), texts, seed, full=True, h=h)
    emitter.progress("metrics", 2, 3)
    metrics["random"] = subset_metrics(x, rand, texts, seed, h=h)
    emitter.progress("metrics", 3, 3)

    # plot
    emitter.progress("plot", 0, 1)
    out = cfg["output_dir"]
    os.makedirs(out, exist_ok=True)
    files = {name: os.path.join(out, f) for name, f in (
        ("members", "members.json"), ("pick_distances", "pick_distances.json"),
        ("metrics", "metrics.json"), ("pca", "pca.png"), ("embeddings", "embeddings.npy"))}
    save_pca(files["pca"], prepared, [
        ("full", np.arange(n), metrics["full"]["h_min_cosine"]),
        (strategy, picks, metrics["selection"]["h_min_cosine"]),
        ("random", rand, metrics["random"]["h_min_cosine"]),
    ], seed)
    emitter.progress("plot", 1, 1)

    _write_json(files["members"], [int(i) for i in picks])
    _write_json(files["pick_distances"], [None if math.isinf(v) else float(v) for v in pick_d])
    empty_report = {"count": int(empty.size), "first": empty[:20].tolist()}
    _write_json(files["metrics"], {"metrics": metrics, "empty_records": empty_report})
    np.save(files["embeddings"], embeddings.astype(np.float32))
    log.info("done in %.1fs", time.perf_counter() - t0)

    emitter.result("select", size=size, records=n, strategy=strategy, embedder=config["name"],
                   seed=seed, device=device.type, metrics=metrics, empty_records=empty_report,
                   files=files, elapsed_s=round(time.perf_counter() - t0, 3))
