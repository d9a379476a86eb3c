"""Training throughput on one big GPU (written for an H200): LLaMA-7B shape
with random weights (nothing downloaded), bf16, gradient checkpointing,
sequence 512, the core's chunked ce and l2 losses; then LLaMA-13B with FSDP
CPU offload if time allows.

    python test/bench/gpu/bench_gpu.py            # on the GPU box, < 8 minutes
    python test/bench/gpu/bench_gpu.py --dry-run  # tiny config on CPU: proves the code path

Needs only torch + transformers (+ this repo's workers/core on the path).
MFU = 6 * N * tokens/s / PEAK, with PEAK = 989e12 FLOP/s, the dense bf16
peak of an H100/H200 SXM; N = parameter count. 6N ignores attention FLOPs
and the recomputed forward of gradient checkpointing (which costs ~2N more
per token), so this MFU is the usual conservative "model FLOPs" one.

Phases (each prints when done):
  7b-ce-sync    bf16 weights + AdamW, ce, loss.item() after every step
  7b-ce         same without the per-step sync (what the core's event
                thread allows): the difference is the cost of reporting
  7b-l2         the l2 loss
  7b-ce-master  fp32 master weights + bf16 autocast: the core's own
                single-GPU recipe (~16 bytes/param; may not fit)
  13b-offload   bf16, FSDP2 with CPUOffloadPolicy (world of one), SGD + l2
"""

import argparse
import gc
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "..", "..", "workers", "core")))

from uniformity_core.losses import token_loss_sum  # noqa: E402

PEAK_FLOPS = 989e12
BUDGET_S = 8 * 60


def llama_config(size, dry_run):
    from transformers import LlamaConfig
    if dry_run:
        return LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=4, vocab_size=1000, max_position_embeddings=1024)
    shapes = {"7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32),
              "13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40)}
    return LlamaConfig(**shapes[size], vocab_size=32000, max_position_embeddings=2048)


def build_model(config, device, dtype):
    """Random init directly on the device in `dtype`: no 28 GB fp32 copy on the host."""
    from transformers import LlamaForCausalLM
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    model.config.use_cache = False
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable()
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model


def run_steps(model, optimizer, loss_kind, batch, seq, vocab, device, steps, warmup, sync_each_step,
              autocast_dtype=None):
    """The core's step (forward, chunked loss over trained tokens, backward,
    optimizer) on random tokens. Returns seconds per step."""
    g = torch.Generator(device="cpu").manual_seed(0)
    input_ids = torch.randint(0, vocab, (batch, seq), generator=g).to(device)
    targets = torch.roll(input_ids, -1, dims=1)
    targets[:, -1] = -100
    targets[:, :64] = -100        # a masked prompt, as in instruction tuning
    count = (targets != -100).sum()
    ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else torch.autocast(device.type, enabled=False)
    for i in range(warmup + steps):
        with ctx:
            logits = model(input_ids=input_ids).logits
        loss = token_loss_sum(loss_kind, logits, targets) / count
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if sync_each_step:
            loss.item()
        if device.type == "cuda" and (i == warmup - 1 or i == warmup + steps - 1):
            torch.cuda.synchronize()
        if i == warmup - 1:
            t_start = time.perf_counter()
    return (time.perf_counter() - t_start) / steps


def report(name, model, batch, seq, sec_per_step, device, t0):
    n = sum(p.numel() for p in model.parameters())
    tokens_s = batch * seq / sec_per_step
    mfu = 6 * n * tokens_s / PEAK_FLOPS
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    print(f"{name:<14}{n / 1e9:>7.2f}B{batch * seq:>8}{sec_per_step:>9.3f}{tokens_s:>11.0f}{100 * mfu:>8.1f}"
          f"{peak:>10.1f}{time.time() - t0:>9.0f}", flush=True)


def free():
    """Release what the caller dropped (set to None) before the next phase."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true", help="tiny config on CPU")
    ap.add_argument("--batch", type=int, default=8, help="sequences per step (7B)")
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    t0 = time.time()
    if args.dry_run:
        device, steps, warmup = torch.device("cpu"), 2, 1
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: use --dry-run")
        device, steps, warmup = torch.device("cuda"), args.steps, 2
        torch.backends.cuda.matmul.allow_tf32 = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)"
    print(f"device {name}; torch {torch.__version__}; MFU peak {PEAK_FLOPS / 1e12:.0f} TFLOP/s dense bf16 "
          f"(H100/H200 SXM); seq {args.seq}, gradient checkpointing on", flush=True)
    print(f"{'phase':<14}{'params':>8}{'tok/stp':>8}{'s/step':>9}{'tokens/s':>11}{'MFU%':>8}{'peak GiB':>10}"
          f"{'t s':>9}", flush=True)

    config = llama_config("7b", args.dry_run)
    model = build_model(config, device, torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    for phase, loss_kind, sync in (("7b-ce-sync", "ce", True), ("7b-ce", "ce", False), ("7b-l2", "l2", False)):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        s = run_steps(model, opt, loss_kind, args.batch, args.seq, config.vocab_size, device, steps, warmup, sync)
        report(phase, model, args.batch, args.seq, s, device, t0)
    model = opt = None
    free()

    # The core's single-GPU recipe: fp32 master weights, bf16 autocast.
    if time.time() - t0 < BUDGET_S * 0.45:
        try:
            model = build_model(config, device, torch.float32)
            opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.0)
            s = run_steps(model, opt, "ce", args.batch, args.seq, config.vocab_size, device, max(2, steps // 2),
                          1, False, autocast_dtype=torch.bfloat16)
            report("7b-ce-master", model, args.batch, args.seq, s, device, t0)
        except torch.OutOfMemoryError:
            print("7b-ce-master  out of memory (fp32 master + AdamW = 16 bytes/param): use FSDP or cpu_offload",
                  flush=True)
        model = opt = None
        free()
    else:
        print("7b-ce-master  skipped: time budget", flush=True)

    if time.time() - t0 < BUDGET_S * 0.55:
        offload_phase(args, device, t0)
    else:
        print("13b-offload   skipped: time budget", flush=True)
    print(f"done in {time.time() - t0:.0f}s", flush=True)


def offload_phase(args, device, t0):
    """13B does not fit one GPU with optimizer state; FSDP2's CPU offload
    keeps parameters and gradients on the host and streams each layer in.
    SGD keeps no state, so host memory is 2 x 26 GB (bf16 params + grads)."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard

    config = llama_config("13b", args.dry_run)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    try:
        model = build_model(config, device, torch.bfloat16)
        mesh = init_device_mesh(device.type, (1,))
        # The dry run has no GPU to offload from: it shards without the policy.
        kwargs = {"mesh": mesh, **({"offload_policy": CPUOffloadPolicy()} if device.type == "cuda" else {})}
        for layer in model.model.layers:
            fully_shard(layer, **kwargs)
        fully_shard(model, **kwargs)
        free()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.0)
        batch = max(1, args.batch // 2)
        s = run_steps(model, opt, "l2", batch, args.seq, config.vocab_size, device, 2, 1, True)
        report("13b-offload", model, batch, args.seq, s, device, t0)
    except torch.OutOfMemoryError as e:
        print(f"13b-offload   out of memory: {str(e).splitlines()[0]}", flush=True)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
