import math

import brute
import numpy as np
import pytest
import torch
from conftest import clustered
from uniformity_core import kernels
from uniformity_core.metrics import subset_metrics


@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_metrics_match_brute_force(rng, kind):
    e = rng.normal(size=(200, 6)) if kind == "random" else clustered(rng, 200, 6)
    x = torch.from_numpy(kernels.prepare(e))
    texts = [f"t{i % 150}" for i in range(200)]  # records 150..199 repeat texts
    members = rng.choice(200, 60, replace=False)
    m = subset_metrics(x, members, texts)
    want = brute.metrics(x.numpy(), members, texts)
    for key in ("h_min_cosine", "nn_mean", "nn_p5", "nn_p50", "nn_p95", "coverage_radius"):
        assert m[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), key
    assert m["duplicates"] == want["duplicates"]
    assert m["h_min_euclidean"] == pytest.approx(math.sqrt(2 * want["h_min_cosine"]))
    assert m["size"] == 60 and m["estimated"] == {}


def test_full_set_has_zero_coverage(rng):
    x = torch.from_numpy(kernels.prepare(rng.normal(size=(50, 4))))
    m = subset_metrics(x, np.arange(50), [str(i) for i in range(50)], full=True)
    assert m["coverage_radius"] == 0.0


def test_estimates_above_the_exact_limit_are_marked_and_bounded(rng):
    x = torch.from_numpy(kernels.prepare(clustered(rng, 600, 5)))
    texts = [str(i) for i in range(600)]
    members = np.arange(0, 600, 2)
    exact = subset_metrics(x, members, texts)
    est = subset_metrics(x, members, texts, exact_limit=100, sample=50)
    assert set(est["estimated"]) == {"nn", "h_min", "coverage_radius"}
    assert est["h_min_cosine"] >= exact["h_min_cosine"]  # upper bound
    assert est["coverage_radius"] <= exact["coverage_radius"]  # lower bound


def test_size_one_subset(rng):
    x = torch.from_numpy(kernels.prepare(rng.normal(size=(10, 3))))
    m = subset_metrics(x, [4], [str(i) for i in range(10)])
    assert m["h_min_cosine"] is None and m["size"] == 1 and m["coverage_radius"] > 0
