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


def default_chunk_rows(vocab, device):
    # Scratch per chunk: 128 MiB on a GPU (few, large kernels); 16 MiB on a
    # CPU, where bigger blocks fall out of cache and every fresh >32 MiB
    # allocation is an mmap whose pages are faulted in and zeroed again.
    elements = 2**25 if device.type == "cuda" else 2**22
    return max(1, elements // vocab)


class _ChunkedTokenLoss(torch.autograd.Function):

    @staticmethod
    def forward(ctx, logits, targets, kind, chunk_rows):
        vocab = logits.shape[-1]
        z_all = logits.reshape(-1, vocab)
        t_all = targets.reshape(-1)
        valid_all = t_all != IGNORE
        y_all = t_all.clamp(min=0)
        # Per-position statistic kept for backward: logsumexp (ce); nothing for l2.
        lse_all = torch.empty(z_all.shape[0], dtype=torch.float32, device=logits.device) if kind == "ce" else None
        per_all = torch.empty(z_all.shape[0], dtype=torch.float32, device=logits.device)
        for start in range(0, z_all.shape[0], chunk_rows):
            rows = slice(start, start + chunk_rows)
            z = z_all[rows].float()
            zy = z.gather(1, y_all[rows, None]).squeeze(1)
            if kind == "ce":
                lse_all[rows] = torch.logsumexp(z, dim=1)
                per_all[rows] = lse_all[rows] - zy
            else:
                # sum_v z_v^2 as a norm: no (rows x V) temporary.
                per_all[rows] = (torch.linalg.vector_norm(z, dim=1).square() - 2.0 * zy + 1.0) / vocab
        ctx.save_for_backward(logits, targets, lse_all if kind == "ce" else per_all[:0])
        ctx.kind, ctx.chunk_rows = kind, chunk_rows
        return torch.where(valid_all, per_all, 0.0).sum()

    @staticmethod
    def backward(ctx, grad_out):
        logits, targets, lse_all = ctx.saved_tensors
        vocab = logits.shape[-1]
        z_all = logits.reshape(-1, vocab)
        t_all = targets.reshape(-1)
        # d loss / d z per row, times grad_out, zero on masked rows.
        row_scale = (t_all != IGNORE).float() * grad_out
        y_all = t_all.clamp(min=0)
        grad = torch.empty_like(z_all)
        in_place = grad.dtype == torch.float32     # fp32: write straight into grad, no scratch
        for start in range(0, z_all.shape[0], ctx.chunk_rows):
            rows = slice(start, start + ctx.chunk_rows)
            z = z_all[rows].float()
            g = grad[rows] if in_place else torch.empty_like(z)
            scale = row_scale[rows, None]
            idx = torch.arange(z.shape[0], device=z.device)
            if ctx.kind == "ce":
                # softmax(z) - e_y, from the saved logsumexp
                torch.sub(z, lse_all[rows, None], out=g)
                g.exp_()
                g[idx, y_all[rows]] -= 1.0
                g.mul_(scale)
            else:
                # 2 (z - e_y) / V
                torch.mul(z, scale * (2.0 / vocab), out=g)
                g[idx, y_all[rows]] -= scale[:, 0] * (2.0 / vocab)
            if not in_place:
                grad[rows] = g
        return grad.view_as(logits), None, None, None


def token_loss_sum(kind, logits, targets, chunk_rows=None):
    """Sum over positions with targets != -100 of the per-position `kind`
    loss. logits (..., V) of any float dtype; targets (...) long. fp32 result."""
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}")
    chunk_rows = chunk_rows or default_chunk_rows(logits.shape[-1], logits.device)
    return _ChunkedTokenLoss.apply(logits, targets, kind, chunk_rows)
