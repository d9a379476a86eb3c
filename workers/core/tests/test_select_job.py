import json
import os

import numpy as np
import pytest
from conftest import clustered, run_core, write_alpaca
from uniformity_core import kernels, select
from uniformity_core.protocol import Emitter, InvalidArgument


class Capture:
    def __init__(self):
        self.lines = []

    def write(self, s):
        self.lines.extend(json.loads(l) for l in s.splitlines())

    def flush(self):
        pass


def make_dataset(tmp_path, n=120, empty=()):
    rows = []
    for i in range(n):
        if i in empty:
            rows.append(("...", "", "!!"))
        else:
            rows.append((f"topic {i % 7} question {i % 5}", "" if i % 2 else f"context {i % 3}",
                         f"answer words {i % 11} more {i % 4}"))
    rows[5] = rows[4]  # an exact duplicate text
    return write_alpaca(tmp_path / "data.json", rows)


def spec_for(tmp_path, path, **over):
    spec = {"kind": "select", "dataset": {"path": path, "format": "alpaca"},
            "embedder": {"name": "word2vec", "dim": 16, "epochs": 2}, "strategy": "uniform",
            "size": 30, "seed": 2, "output_dir": str(tmp_path / "out"), "device": "cpu"}
    spec.update(over)
    return spec


def run_inline(spec):
    cap = Capture()
    select.run(spec, Emitter(cap))
    return cap.lines


def test_select_end_to_end_outputs(tmp_path):
    path = make_dataset(tmp_path, empty=(7, 9))
    lines = run_inline(spec_for(tmp_path, path))
    result = lines[-1]
    assert result["type"] == "result" and result["kind"] == "select"
    assert result["size"] == 30 and result["records"] == 120 and result["strategy"] == "uniform"
    assert result["empty_records"] == {"count": 2, "first": [7, 9]}
    phases = [l["phase"] for l in lines if l["type"] == "progress"]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == \
        ["tokenise", "embed", "select", "metrics", "plot"]
    assert len(lines) < 200
    files = result["files"]
    members = json.load(open(files["members"]))
    dists = json.load(open(files["pick_distances"]))
    emb = np.load(files["embeddings"])
    assert len(members) == 30 and dists[0] is None and len(dists) == 30
    assert members[0] == select.first_pick(120, 2)
    assert emb.shape == (120, 16) and emb.dtype == np.float32
    assert os.path.getsize(files["pca"]) > 1000
    sel = result["metrics"]["selection"]
    assert sel["h_min_cosine"] == min(dists[1:])
    assert set(result["metrics"]) == {"selection", "full", "random"}
    assert result["metrics"]["full"]["coverage_radius"] == 0.0
    assert result["metrics"]["full"]["duplicates"] >= 1
    assert json.load(open(files["metrics"]))["metrics"] == result["metrics"]
    assert len(json.dumps(result)) < 4000  # no big arrays inline


@pytest.mark.parametrize("strategy", ["random", "first", "half-random-min-distance", "min-distance"])
def test_select_baselines_with_precomputed(tmp_path, strategy, rng):
    path = make_dataset(tmp_path, n=80)
    npy = tmp_path / "e.npy"
    np.save(npy, clustered(rng, 80, 5))
    lines = run_inline(spec_for(tmp_path, path, strategy=strategy, size=20,
                                embedder={"name": "precomputed", "path": str(npy)}))
    members = json.load(open(lines[-1]["files"]["members"]))
    x = kernels.prepare(np.load(npy))
    import torch
    assert members == select.choose(strategy, torch.from_numpy(x), 20, 2).tolist()
    assert lines[-1]["metrics"]["selection"]["size"] == 20


def test_tfidf_embedder_in_a_job(tmp_path):
    path = make_dataset(tmp_path, n=60)
    lines = run_inline(spec_for(tmp_path, path, embedder={"name": "tfidf", "dim": 8}, size=10))
    assert lines[-1]["embedder"] == "tfidf"
    assert np.load(lines[-1]["files"]["embeddings"]).shape[0] == 60


def test_identical_records_select_with_zero_h_min(tmp_path):
    path = write_alpaca(tmp_path / "same.json", [("same words", "", "same answer")] * 20)
    lines = run_inline(spec_for(tmp_path, path, size=5))
    sel = lines[-1]["metrics"]["selection"]
    assert sel["h_min_cosine"] == 0.0 and sel["duplicates"] == 4


@pytest.mark.parametrize("over,field", [
    ({"size": 0}, "size"), ({"size": 120}, "size"), ({"size": -3}, "size"), ({"size": "3"}, "size"),
    ({"strategy": "greedy"}, "strategy"), ({"embedder": {"name": "bert"}}, "embedder.name"),
    ({"embedder": {"name": "word2vec", "dim": 0}}, "embedder.dim"),
    ({"embedder": {"name": "precomputed", "path": "/nonexistent/x.npy"}}, "embedder.path"),
    ({"dataset": {"path": "/nonexistent/d.json", "format": "alpaca"}}, "dataset.path"),
    ({"dataset": {"path": "relative.json"}}, "dataset.path"),
    ({"device": "tpu"}, "device"), ({"output_dir": "rel/out"}, "output_dir"), ({"colour": 1}, "colour"),
])
def test_bad_inputs_name_the_field(tmp_path, over, field):
    path = make_dataset(tmp_path)
    with pytest.raises(InvalidArgument) as e:
        run_inline(spec_for(tmp_path, path, **over))
    assert e.value.field == field or str(e.value).startswith(field)


def test_precomputed_wrong_rows_in_a_job(tmp_path):
    path = make_dataset(tmp_path)
    np.save(tmp_path / "e.npy", np.ones((3, 2), dtype=np.float32))
    with pytest.raises(InvalidArgument, match="embedder.path: has 3 rows"):
        run_inline(spec_for(tmp_path, path, embedder={"name": "precomputed", "path": str(tmp_path / "e.npy")}))


def test_select_subprocess_bad_input_and_success(tmp_path):
    path = make_dataset(tmp_path, n=50)
    rc, lines, _ = run_core("select", spec_for(tmp_path, path, size=50), tmp_path)
    assert rc == 2 and lines[-1]["code"] == "invalid_argument" and lines[-1]["message"].startswith("size")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "a", "output": "b"}, {"instruction": "a"}]))
    rc, lines, _ = run_core("select", spec_for(tmp_path, str(bad), size=1), tmp_path)
    assert rc == 2 and "record 1 field 'output'" in lines[-1]["message"]
    rc, lines, _ = run_core("select", spec_for(tmp_path, path, size=10), tmp_path)
    assert rc == 0 and lines[-1]["type"] == "result" and lines[-1]["size"] == 10
