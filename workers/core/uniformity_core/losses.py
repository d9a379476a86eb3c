"""Token losses over logits, as sums over trained positions.

Both losses return the SUM over positions whose target is not -100; the
training loop divides by the token count of the whole accumulation window,
so a step's loss does not depend on how the batch is cut into micro-batches.

`l2` is the mean squared error between the raw logits z and the one-hot
target e_y, averaged over the vocabulary:

    (1/V) * sum_v (z_v - [v == y])^2 = (sum_v z_v^2 - 2 z_y + 1) / V

so the one-hot matrix is never built. Its gradient is 2 (z - e_y) / V.
Cross-entropy is lse(z) - z_y with gradient softmax(z) - e_y.

Both run as one autograd Function that walks the positions in chunks, in
fp32 whatever the logits dtype, and saves only the logits for backward:
peak extra memory is one chunk (rows x V x 4 bytes) plus the logits'
gradient, which any loss needs. A plain `F.cross_entropy(logits.float())`
would also keep a full fp32 copy and a full log-softmax alive.
"""

import torch

IGNORE = -100
LOSSES = ("ce", "l2")

# Rows per chunk: 1024 x 32k vocab x 4 bytes = 128 MiB of fp32 scratch.
CHUNK_ROWS = 1024


def _per_row(kind, z, y, vocab):
    """Per-position loss (fp32) for rows z (n, V) and clamped targets y (n,)."""
    zy = z.gather(1, y[:, None]).squeeze(1)
    if kind == "ce":
        return torch.logsumexp(z, dim=1) - zy
    return ((z * z).sum(1) - 2.0 * zy + 1.0) / vocab


def _row_grad(kind, z, y, valid, vocab):
    """d(per-row loss)/dz for rows z (n, V); zero on masked rows."""
    if kind == "ce":
        g = torch.softmax(z, dim=1)
        g[torch.arange(len(y), device=z.device), y] -= 1.0
    else:
        g = z * (2.0 / vocab)
        g[torch.arange(len(y), device=z.device), y] -= 2.0 / vocab
    return g * valid[:, None]


class _ChunkedTokenLoss(torch.autograd.Function):

    @staticmethod
    def forward(ctx, logits, targets, kind, chunk_rows):
        vocab = logits.shape[-1]
        z_all = logits.reshape(-1, vocab)
        t_all = targets.reshape(-1)
        total = torch.zeros((), dtype=torch.float32, device=logits.device)
        for start in range(0, z_all.shape[0], chunk_rows):
            t = t_all[start:start + chunk_rows]
            valid = t != IGNORE
            z = z_all[start:start + chunk_rows].float()
            per = _per_row(kind, z, t.clamp(min=0), vocab)
            total = total + torch.where(valid, per, torch.zeros_like(per)).sum()
        ctx.save_for_backward(logits, targets)
        ctx.kind, ctx.chunk_rows = kind, chunk_rows
        return total

    @staticmethod
    def backward(ctx, grad_out):
        logits, targets = ctx.saved_tensors
        vocab = logits.shape[-1]
        z_all = logits.reshape(-1, vocab)
        t_all = targets.reshape(-1)
        grad = torch.empty_like(z_all)
        for start in range(0, z_all.shape[0], ctx.chunk_rows):
            t = t_all[start:start + ctx.chunk_rows]
            z = z_all[start:start + ctx.chunk_rows].float()
            g = _row_grad(ctx.kind, z, t.clamp(min=0), (t != IGNORE).float(), vocab)
            grad[start:start + ctx.chunk_rows] = (g * grad_out).to(grad.dtype)
        return grad.view_as(logits), None, None, None


def token_loss_sum(kind, logits, targets, chunk_rows=CHUNK_ROWS):
    """Sum over positions with targets != -100 of the per-position `kind`
    loss. logits (..., V) of any float dtype; targets (...) long. fp32 result."""
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}")
    return _ChunkedTokenLoss.apply(logits, targets, kind, chunk_rows)
