"""Selection kernels: greedy max-min (k-center) and its baselines.

Distances. Every distance here is the cosine distance 1 - cos(x, y) on
*prepared* embeddings (see `prepare`), computed as

    d(x, y) = (h(x) + h(y)) - <x, y>,   h(x) = |x|^2 / 2,

which is |x - y|^2 / 2: equal to 1 - cos for unit vectors, and a monotone
function of a true Euclidean distance always, so the triangle inequality can
prune the search exactly (no slack terms).

Exact arithmetic. `prepare` L2-normalises each row and rounds each component
to a multiple of 2^-11 (norms kept <= 1). Then every product x_i*y_i is a
multiple of 2^-22 and every partial sum of a dot product is bounded by 1
(Cauchy-Schwarz), so fp32 holds all of them exactly: dot products, h and d
come out bit-identical whatever the summation order -- CPU or CUDA, MKL,
OpenBLAS or NumPy, fp32 storage or fp16 storage (the grid is exact in fp16).
So picks are reproducible across machines and the pruned kernel provably
matches the naive one, ties included (ties go to the lowest index). The price:
each component moves by at most 2^-12, distances by about 1e-4.

Zero embeddings (records with no known words) stay at the origin: distance
|y|^2/2 ~= 1/2 to every real record and 0 to each other (they are duplicates
of each other), consistently in selection and metrics.
"""

import math

import numpy as np
import torch

GRID_BITS = 11
_SCALE = float(2 ** GRID_BITS)


def prepare(embeddings):
    """Unit rows on the 2^-11 grid, float32 (N, d); zero rows stay zero."""
    x = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    q = np.rint(unit * _SCALE)  # integers in [-2048, 2048], exact in float64
    # Rounding can push |q| a hair over 1; step the largest component of those
    # rows toward zero until it is not (a few rounds at most).
    limit = _SCALE * _SCALE
    while True:
        over = np.nonzero((q * q).sum(axis=1) > limit)[0]
        if over.size == 0:
            break
        j = np.abs(q[over]).argmax(axis=1)
        q[over, j] -= np.sign(q[over, j])
    return (q / _SCALE).astype(np.float32)


def half_sq_norms(x):
    return (x.float() ** 2).sum(dim=1) * 0.5


def distances(a, ha, b, hb):
    """(m, n) cosine distances between rows of a and rows of b (fp32, exact)."""
    return (ha[:, None] + hb[None, :]) - a.float() @ b.float().T


def _to_distance_row(x, h, p):
    # Distances from every row of x to row p: one pass over x.
    return (h + h[p]) - x.float() @ x[p].float()


@torch.no_grad()
def uniform(x, first, k, progress=None, candidates=1024, block_rows=16384):
    """Greedy max-min selection of k rows of prepared `x`, starting at `first`.

    Returns (picks, pick_distances): row indices in pick order and, for each
    pick, its distance to the nearest earlier pick when it was chosen (inf for
    the first). Ties go to the lowest index. Same picks as `uniform_naive`.

    Speed comes from batching, exactly. mind[x] is x's distance to the chosen
    set. Take the `candidates` records with the largest mind; tau = the
    largest mind outside them. Run the greedy among the candidates alone (their
    pairwise distances: one small GEMM): while the best candidate's mind is
    strictly above tau it is the true global farthest record, because picks
    only lower minds and every outsider is already <= tau. When the best falls
    to tau, fold the batch's picks into every record's mind with one GEMM
    (N x batch) instead of one matrix-vector product per pick: the same
    arithmetic, done at GEMM speed, and one pass over the embeddings per
    batch instead of per pick. Batches run to hundreds of picks on real data.

    (Triangle-inequality pruning with per-centre groups was measured first:
    on 100-d word2vec means 30-90% of records stay live per pick, and the
    gathers cost more than the saved arithmetic. See the benchmark notes.)
    """
    n = x.shape[0]
    dev = x.device
    h = half_sq_norms(x)
    mind = _to_distance_row(x, h, first)
    mind[first] = -1.0  # chosen: below any distance, never a candidate again
    picks = [int(first)]
    dists = [math.inf]
    done = 1
    every = max(1, k // 50)
    while done < k:
        b = min(candidates, n - done)
        vals, idx = torch.topk(mind, b + 1)  # b + 1 <= n: at least one pick exists
        tau = float(vals[b])
        cand = idx[:b][vals[:b] > tau]
        if cand.numel() == 0:
            batch, batch_d = _tied_picks(mind, k - done)
        else:
            batch, batch_d = _greedy_among(x, h, mind, cand, tau, k - done)
        picks.extend(batch)
        dists.extend(batch_d)
        _fold(x, h, mind, torch.as_tensor(batch, dtype=torch.long, device=dev), block_rows)
        if progress is not None and (done // every) != ((done + len(batch)) // every):
            progress(done + len(batch))
        done += len(batch)
    if progress is not None:
        progress(k)
    return np.asarray(picks, dtype=np.int64), np.asarray(dists, dtype=np.float64)


def _greedy_among(x, h, mind, cand, tau, room):
    # Lowest index first, so argmax's first-max rule is the lowest-index rule.
    cand = torch.sort(cand).values
    c = x[cand].float()
    hc = h[cand]
    pair = distances(c, hc, c, hc).cpu().numpy()
    cm = mind[cand].cpu().numpy().copy()
    ids = cand.cpu().numpy()
    batch, batch_d = [], []
    while len(batch) < room:
        i = int(cm.argmax())
        m = float(cm[i])
        if not m > tau:
            break
        batch.append(int(ids[i]))
        batch_d.append(m)
        np.minimum(cm, pair[i], out=cm)
        cm[i] = -1.0
    return batch, batch_d


def _tied_picks(mind, room):
    # The top of mind is one value shared past the candidate window. If it is
    # 0 (only duplicates of chosen records left) no pick can lower anything:
    # take the tied records in index order. Otherwise take one, the lowest.
    top = float(mind.max())
    if top == 0.0:
        tied = torch.nonzero(mind == 0.0).squeeze(1)[:room]
        return tied.cpu().tolist(), [0.0] * tied.numel()
    return [int(torch.argmax(mind))], [top]


def _fold(x, h, mind, batch, block_rows):
    # mind = min(mind, distance to the nearest new pick), in row blocks so the
    # N x batch distance matrix never has to exist at once.
    # d(x, p) = h(x) + (h(p) - <x, p>): the bracket comes out of one addmm
    # (exact: every partial value is on the grid), the row term h(x) is
    # constant along the row so it is added after the min, not N x batch times.
    p = x[batch].float()
    hp = h[batch][None, :]
    for a in range(0, x.shape[0], block_rows):
        e = min(x.shape[0], a + block_rows)
        part = torch.addmm(hp, x[a:e].float(), p.T, beta=1.0, alpha=-1.0)
        near = torch.amin(part, dim=1) + h[a:e]
        torch.minimum(mind[a:e], near, out=mind[a:e])
    mind[batch] = -1.0


@torch.no_grad()
def uniform_naive(x, first, k):
    """The same rule, one full distance row per pick. For tests."""
    h = half_sq_norms(x)
    n = x.shape[0]
    mind = torch.full((n,), math.inf, device=x.device)
    chosen = torch.zeros(n, dtype=torch.bool, device=x.device)
    picks, dists = [], []
    p = int(first)
    for _ in range(k):
        picks.append(p)
        dists.append(float(mind[p]))
        chosen[p] = True
        mind = torch.minimum(mind, _to_distance_row(x, h, p))
        p = int(torch.argmax(torch.where(chosen, -1.0, mind)))  # first max = lowest index
    return np.array(picks, dtype=np.int64), np.array(dists, dtype=np.float64)


@torch.no_grad()
def nearest_first(x, start, k, progress=None):
    """Extend `start` (picks in order) to k picks, each time adding the
    unchosen record whose distance to the chosen set is SMALLEST (lowest index
    among equals). The `min-distance` / `half-random-min-distance` baselines.
    One full distance row per pick: baselines are not the hot path."""
    h = half_sq_norms(x)
    n = x.shape[0]
    mind = torch.full((n,), math.inf, device=x.device)
    chosen = torch.zeros(n, dtype=torch.bool, device=x.device)
    picks = [int(p) for p in start]
    for p in picks:
        chosen[p] = True
        mind = torch.minimum(mind, _to_distance_row(x, h, p))
    every = max(1, k // 50)
    while len(picks) < k:
        p = int(torch.argmin(torch.where(chosen, math.inf, mind)))
        picks.append(p)
        chosen[p] = True
        mind = torch.minimum(mind, _to_distance_row(x, h, p))
        if progress is not None and len(picks) % every == 0:
            progress(len(picks))
    return np.array(picks, dtype=np.int64)


@torch.no_grad()
def pick_distances(x, picks, block_elems=1 << 24):
    """For picks in order: distance of each to the nearest EARLIER pick
    (inf for the first). Blockwise, O(k^2 d) work, bounded memory."""
    idx = torch.as_tensor(np.asarray(picks), dtype=torch.long, device=x.device)
    k = idx.numel()
    p = x[idx].float()
    hp = half_sq_norms(p)
    out = torch.empty(k, device=x.device)
    rows = max(1, block_elems // max(k, 1))
    for a in range(0, k, rows):
        b = min(k, a + rows)
        d = distances(p[a:b], hp[a:b], p[:b], hp[:b])
        i = torch.arange(a, b, device=x.device)[:, None]
        j = torch.arange(b, device=x.device)[None, :]
        d = torch.where(j < i, d, math.inf)
        out[a:b] = d.min(dim=1).values
    return out.double().cpu().numpy()
