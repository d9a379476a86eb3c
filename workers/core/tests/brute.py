"""Brute-force references in float64 NumPy, written from the definitions.
On prepared embeddings every distance is exact in fp32 too (kernels.py), so
these agree with the kernels bit for bit, not just to a tolerance."""

import itertools

import numpy as np


def dist_matrix(x):
    x = np.asarray(x, dtype=np.float64)
    h = (x * x).sum(1) / 2
    return h[:, None] + h[None, :] - x @ x.T


def uniform(x, first, k):
    d = dist_matrix(x)
    picks = [first]
    dists = [np.inf]
    while len(picks) < k:
        best, best_i = -1.0, None
        for i in range(len(x)):  # lowest index wins ties: strict >
            if i in picks:
                continue
            m = min(d[i, p] for p in picks)  # against ALL earlier picks
            if m > best:
                best, best_i = m, i
        picks.append(best_i)
        dists.append(best)
    return picks, dists


def nearest_first(x, start, k):
    d = dist_matrix(x)
    picks = list(start)
    while len(picks) < k:
        best, best_i = np.inf, None
        for i in range(len(x)):
            if i in picks:
                continue
            m = min(d[i, p] for p in picks)
            if m < best:
                best, best_i = m, i
        picks.append(best_i)
    return picks


def metrics(x, members, texts):
    d = dist_matrix(x)
    sub = d[np.ix_(members, members)].copy()
    np.fill_diagonal(sub, np.inf)
    nn = sub.min(1)
    seen, dups = set(), 0
    for i in members:
        dups += texts[i] in seen
        seen.add(texts[i])
    return {"h_min_cosine": sub.min(), "nn_mean": nn.mean(), "nn_p5": np.percentile(nn, 5),
            "nn_p50": np.percentile(nn, 50), "nn_p95": np.percentile(nn, 95),
            "coverage_radius": d[:, members].min(1).max(), "duplicates": dups}


def optimal_k_center_radius(x, k):
    d = np.sqrt(2 * np.maximum(dist_matrix(x), 0))  # Euclidean: the metric
    return min(d[:, list(c)].min(1).max() for c in itertools.combinations(range(len(x)), k))
