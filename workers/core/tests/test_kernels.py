import brute
import numpy as np
import pytest
import torch
from conftest import clustered
from uniformity_core import kernels
from uniformity_core.metrics import subset_metrics
from uniformity_core.select import choose, first_pick, random_order


def prep(e):
    return torch.from_numpy(kernels.prepare(e))


def test_prepare_is_unit_on_grid_and_keeps_zero_rows(rng):
    e = np.vstack([rng.normal(size=(50, 7)) * 10, np.zeros((2, 7))])
    x = kernels.prepare(e)
    norms = (x.astype(np.float64) ** 2).sum(1)
    assert x.dtype == np.float32
    assert np.all(norms[:50] <= 1.0) and np.all(norms[:50] > 0.995)
    assert np.all(x[50:] == 0)
    assert np.all(x * 2048 == np.round(x * 2048))  # on the 2^-11 grid
    assert np.array_equal(x.astype(np.float16).astype(np.float32), x)  # exact in fp16


def test_distances_are_exact_whatever_the_order(rng):
    # fp32 torch GEMM vs float64 numpy: identical, not merely close.
    x = prep(rng.normal(size=(300, 64)))
    h = kernels.half_sq_norms(x)
    d32 = kernels.distances(x, h, x, h).double().numpy()
    assert np.array_equal(d32, brute.dist_matrix(x.numpy()))


@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("k", [1, 2, 17, 60])
def test_uniform_matches_brute_force(rng, kind, k):
    e = rng.normal(size=(120, 6)) if kind == "random" else clustered(rng, 120, 6)
    x = prep(e)
    first = int(rng.integers(120))
    picks, dists = kernels.uniform(x, first, k, candidates=5)  # tiny batches: many folds
    want, want_d = brute.uniform(x.numpy(), first, k)
    assert picks.tolist() == want
    assert np.array_equal(dists, np.array(want_d))


def test_seed_record_first_and_every_pick_measured_against_all_earlier(rng):
    # Two classic k-center bugs: dropping the seed record, and measuring a
    # candidate only against the latest pick. Both break these equalities.
    x = prep(clustered(rng, 400, 5, clusters=6))
    picks, dists = kernels.uniform(x, 37, 80, candidates=16)
    assert picks[0] == 37 and len(set(picks.tolist())) == 80
    d = brute.dist_matrix(x.numpy())
    for t in range(1, 80):
        assert dists[t] == d[picks[t], picks[:t]].min()
        # and it was the farthest record from ALL earlier picks at the time
        rest = np.setdiff1d(np.arange(400), picks[:t])
        assert dists[t] == d[np.ix_(rest, picks[:t])].min(1).max()


def test_pick_distances_never_increase_and_end_at_h_min(rng):
    x = prep(clustered(rng, 500, 8))
    picks, dists = kernels.uniform(x, 0, 200)
    assert np.isinf(dists[0])
    assert np.all(np.diff(dists[1:]) <= 0)
    sub = brute.dist_matrix(x.numpy()[picks])
    np.fill_diagonal(sub, np.inf)
    assert dists[-1] == sub.min()
    assert np.array_equal(kernels.pick_distances(x, picks), dists)


def test_batched_uniform_equals_naive_with_many_picks(rng):
    # Many picks, clustered data, small candidate windows: the batch/threshold
    # logic runs hundreds of times and must never change a pick.
    x = prep(clustered(rng, 3000, 16, clusters=40, spread=0.3))
    naive, naive_d = kernels.uniform_naive(x, 11, 1500)
    for window in (3, 64, 1024):
        picks, dists = kernels.uniform(x, 11, 1500, candidates=window)
        assert np.array_equal(picks, naive)
        assert np.array_equal(dists, naive_d)


def test_half_precision_storage_gives_identical_picks(rng):
    x = prep(clustered(rng, 2000, 32, clusters=20, spread=0.2))
    a, da = kernels.uniform(x, 5, 900)
    b, db = kernels.uniform(x.half(), 5, 900)
    assert np.array_equal(a, b) and np.array_equal(da, db)


def test_all_identical_records(rng):
    x = prep(np.ones((40, 4)))
    picks, dists = kernels.uniform(x, 9, 25)
    assert picks[0] == 9 and sorted(picks[1:]) == [i for i in range(26) if i != 9][:24]
    assert np.all(dists[1:] == 0)
    m = subset_metrics(x, picks, ["same"] * 40)
    assert m["h_min_cosine"] == 0 and m["duplicates"] == 24


def test_zero_vectors_sit_at_the_origin(rng):
    # No known words -> zero row: distance |y|^2/2 (~1/2) to real rows, 0 to each other.
    e = np.vstack([np.zeros((3, 5)), rng.normal(size=(30, 5))])
    x = prep(e)
    d = brute.dist_matrix(x.numpy())
    assert np.all(d[:3, :3] == 0)
    assert np.allclose(d[0, 3:], 0.5, atol=3e-3)
    picks, _ = kernels.uniform(x, 10, 20)
    assert picks.tolist() == brute.uniform(x.numpy(), 10, 20)[0]


def test_uniform_beats_random_h_min_on_clustered(rng):
    x = prep(clustered(rng, 1000, 10, clusters=12))
    picks, dists = kernels.uniform(x, first_pick(1000, 0), 100)
    rand = random_order(1000, 0)[:100]
    sub = brute.dist_matrix(x.numpy()[rand])
    np.fill_diagonal(sub, np.inf)
    assert dists[-1] >= sub.min()


@pytest.mark.parametrize("seed", range(6))
def test_coverage_within_twice_optimal_k_center(seed):
    rng = np.random.default_rng(seed)
    n = 12
    x = prep(clustered(rng, n, 3, clusters=3, spread=0.3))
    for k in (2, 3, 4):
        picks, _ = kernels.uniform(x, first_pick(n, seed), k)
        d = np.sqrt(2 * np.maximum(brute.dist_matrix(x.numpy()), 0))
        radius = d[:, picks].min(1).max()
        assert radius <= 2 * brute.optimal_k_center_radius(x.numpy(), k) + 1e-12


def test_determinism_by_seed(rng):
    x = prep(clustered(rng, 800, 8))
    for strategy in ("uniform", "random", "half-random-min-distance", "min-distance"):
        a = choose(strategy, x, 50, seed=7)
        b = choose(strategy, x, 50, seed=7)
        assert np.array_equal(a, b)
    assert not np.array_equal(choose("uniform", x, 50, 7), choose("uniform", x, 50, 8))


def test_baseline_strategies_match_brute_force(rng):
    x = prep(clustered(rng, 150, 5))
    n, k, seed = 150, 40, 3
    assert choose("first", x, k, seed).tolist() == list(range(k))
    rand = choose("random", x, k, seed)
    assert len(set(rand.tolist())) == k and rand.tolist() == random_order(n, seed)[:k].tolist()
    assert choose("min-distance", x, k, seed).tolist() == brute.nearest_first(x.numpy(), [first_pick(n, seed)], k)
    start = random_order(n, seed)[:k // 2].tolist()
    half = choose("half-random-min-distance", x, k, seed).tolist()
    assert half[:k // 2] == start
    assert half == brute.nearest_first(x.numpy(), start, k)
    # size 1: floor(1/2) = 0 random picks, so it starts from the seeded first pick
    assert choose("half-random-min-distance", x, 1, seed).tolist() == [first_pick(n, seed)]
