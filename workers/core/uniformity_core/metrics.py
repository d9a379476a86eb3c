"""How uniform a subset is, on the prepared embeddings (see kernels.py).

For a subset S of the full set F (distances are cosine distances d):
  h_min_cosine     min d over pairs of distinct members of S
  h_min_euclidean  the same pair's |x - y| = sqrt(2 d) (prepared rows are unit)
  nn_mean/p5/p50/p95  each member's distance to its nearest other member
  coverage_radius  max over F of the distance to the nearest member of S
                   (the k-center objective; 0 for S = F)
  duplicates       members whose record text repeats an earlier member's
  size             |S|

Exact up to EXACT_LIMIT members (blockwise, bounded memory). Above it the
nearest-neighbour figures come from SAMPLE members' exact nearest neighbours
(h_min then is an upper bound) and the coverage radius from SAMPLE records of
F (a lower bound); `estimated` says which and how. An exact h_min may be
passed in (a selection's pick distances give it for free).
"""

import math

import numpy as np
import torch

from .kernels import half_sq_norms

EXACT_LIMIT = 100_000
SAMPLE = 20_000
BLOCK_ELEMS = 1 << 24  # distances held at once: 64 MB of fp32


@torch.no_grad()
def nearest_other(x, h, members, queries):
    """For each query position q (into `members`): the distance from member q
    to its nearest OTHER member."""
    m = x[members].float()
    hm = h[members]
    out = torch.empty(len(queries), device=x.device)
    rows = max(1, BLOCK_ELEMS // max(len(members), 1))
    q_all = torch.as_tensor(queries, dtype=torch.long, device=x.device)
    for a in range(0, len(queries), rows):
        q = q_all[a:a + rows]
        d = torch.addmm(hm[None, :], m[q], m.T, beta=1.0, alpha=-1.0) + hm[q][:, None]
        d[torch.arange(len(q), device=x.device), q] = math.inf  # not itself
        out[a:a + len(q)] = torch.amin(d, dim=1)
    return out.double().cpu().numpy()


@torch.no_grad()
def nearest_member(x, h, members, records):
    """For each record index in `records`: distance to its nearest member."""
    m = x[members].float()
    hm = h[members]
    out = torch.empty(len(records), device=x.device)
    rows = max(1, BLOCK_ELEMS // max(len(members), 1))
    r_all = torch.as_tensor(records, dtype=torch.long, device=x.device)
    for a in range(0, len(records), rows):
        r = r_all[a:a + rows]
        d = torch.addmm(hm[None, :], x[r].float(), m.T, beta=1.0, alpha=-1.0)
        out[a:a + len(r)] = torch.amin(d, dim=1) + h[r]
    return out.double().cpu().numpy()


def duplicate_count(texts, members):
    seen = set()
    dups = 0
    for i in members:
        t = texts[i]
        if t in seen:
            dups += 1
        else:
            seen.add(t)
    return dups


def subset_metrics(x, members, texts, seed=0, full=False, h_min=None,
                   exact_limit=EXACT_LIMIT, sample=SAMPLE, h=None):
    """Metrics of the subset `members` (record indices) of prepared `x`."""
    n = x.shape[0]
    members = np.asarray(members, dtype=np.int64)
    k = len(members)
    h = half_sq_norms(x) if h is None else h
    rng = np.random.default_rng(seed)
    estimated = {}
    out = {"size": int(k), "duplicates": duplicate_count(texts, members)}

    if k >= 2:
        if k <= exact_limit:
            queries = np.arange(k)
        else:
            queries = np.sort(rng.choice(k, size=sample, replace=False))
            estimated["nn"] = f"nearest neighbours of {sample} sampled members (exact each)"
        nn = nearest_other(x, h, torch.as_tensor(members, device=x.device), queries)
        if h_min is None:
            h_min = float(nn.min())
            if k > exact_limit:
                estimated["h_min"] = f"upper bound: min over {sample} sampled members' nearest neighbours"
        out.update(h_min_cosine=float(h_min), h_min_euclidean=math.sqrt(2.0 * max(h_min, 0.0)),
                   nn_mean=float(nn.mean()), nn_p5=float(np.percentile(nn, 5)),
                   nn_p50=float(np.percentile(nn, 50)), nn_p95=float(np.percentile(nn, 95)))
    else:
        out.update(h_min_cosine=None, h_min_euclidean=None, nn_mean=None, nn_p5=None, nn_p50=None, nn_p95=None)

    if full:
        out["coverage_radius"] = 0.0
    else:
        if n <= exact_limit:
            records = np.arange(n)
        else:
            records = np.sort(rng.choice(n, size=sample, replace=False))
            estimated["coverage_radius"] = f"lower bound: max over {sample} sampled records"
        near = nearest_member(x, h, torch.as_tensor(members, device=x.device), records)
        out["coverage_radius"] = float(max(near.max(), 0.0))
    out["estimated"] = estimated
    return out
