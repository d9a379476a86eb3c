"""Chunked l2 loss vs the naive one-hot MSE (and cross-entropy for scale):
forward + backward at vocab 32,000 on 8 x 512 positions, fp32 logits.

    .venv/bin/python test/bench/training/bench_l2.py [--repeats 3]

How memory is measured: every variant runs in its own fresh subprocess
(ru_maxrss cannot be reset inside a process). The child first allocates the
logits and a warm-up of the allocator, records its resident set, then runs
forward + backward; "peak extra" is ru_maxrss minus that baseline, i.e. the
memory the loss itself needs on top of the logits (including the logits'
gradient, which every variant needs). CPU tensors live in malloc'd memory,
so RSS sees them; tracemalloc would not.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(HERE, "..", "..", "..", "workers", "core")
VOCAB, ROWS, COLS = 32_000, 8, 512


def child(variant, repeats):
    sys.path.insert(0, CORE)
    import torch
    import torch.nn.functional as F
    from uniformity_core.losses import token_loss_sum

    torch.manual_seed(0)
    logits = torch.randn(ROWS, COLS, VOCAB)
    targets = torch.randint(0, VOCAB, (ROWS, COLS))
    targets[:, :100] = -100                    # a masked prompt, as in training
    count = (targets != -100).sum()

    def naive():
        valid = targets != -100
        z = leaf[valid]
        one_hot = F.one_hot(targets[valid], VOCAB).float()
        return F.mse_loss(z, one_hot)

    def chunked():
        return token_loss_sum("l2", leaf, targets) / count

    def ce():
        return F.cross_entropy(leaf.view(-1, VOCAB), targets.view(-1), ignore_index=-100)

    fn = {"naive_l2": naive, "chunked_l2": chunked, "cross_entropy": ce}[variant]
    leaf = logits.clone().requires_grad_(True)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        leaf.grad = None
        t = time.perf_counter()
        loss = fn()
        loss.backward()
        times.append(time.perf_counter() - t)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"variant": variant, "loss": loss.item(), "s": statistics.median(times),
                      "extra_mb": (peak_kb - base_kb) / 1024}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.repeats)

    logits_mb = ROWS * COLS * VOCAB * 4 / 2**20
    print(f"vocab {VOCAB}, positions {ROWS}x{COLS}, fp32 logits {logits_mb:.0f} MB, "
          f"forward+backward, median of {args.repeats}; peak extra = ru_maxrss above the logits, own process")
    rows = {}
    for variant in ("naive_l2", "chunked_l2", "cross_entropy"):
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--repeats", str(args.repeats)],
                             capture_output=True, text=True, check=True)
        rows[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    assert abs(rows["naive_l2"]["loss"] - rows["chunked_l2"]["loss"]) < 1e-5 * rows["naive_l2"]["loss"]
    print(f"{'variant':<15}{'time s':>9}{'peak extra MB':>15}")
    for r in rows.values():
        print(f"{r['variant']:<15}{r['s']:>9.3f}{r['extra_mb']:>15.0f}")
    n, c, ce = rows["naive_l2"], rows["chunked_l2"], rows["cross_entropy"]
    print(f"chunked/naive: time x{c['s'] / n['s']:.2f}, memory x{c['extra_mb'] / n['extra_mb']:.2f}; "
          f"chunked/cross_entropy memory x{c['extra_mb'] / ce['extra_mb']:.2f}")


if __name__ == "__main__":
    main()
