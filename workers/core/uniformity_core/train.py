"""`train` job: supervised fine-tuning of a causal LM on an instruction set.

    python -m uniformity_core train --spec FILE            # one process
    torchrun --nproc_per_node N -m uniformity_core train --spec FILE   # FSDP

The recipe reads top to bottom: check the spec, load tokenizer and data,
load (or resume) the model, then the loop. One optimiser step = one global
batch of `batch_size` records, cut into micro-batches over ranks and
gradient accumulation. The step's loss is the sum of token losses over the
whole window divided by the window's trained-token count, so the loss and
the gradients do not depend on how the batch is cut.

Protocol lines (rank 0 only): progress, step per optimiser step,
checkpoint, result. SIGTERM finishes the current step, checkpoints and
exits 3. Rerunning the same spec resumes from the newest checkpoint in
output_dir and reproduces the uninterrupted loss trace step for step.
"""

import json
import logging
import math
import os
import shutil
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from . import checkpoint, distributed, sft_data
from .losses import LOSSES, token_loss_sum
from .protocol import Cancelled, InvalidArgument, check_keys, get_abs_path, get_bool, get_float, get_int, get_obj, get_str
from .records import FORMATS

log = logging.getLogger("uniformity_core.train")

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
SPEC_KEYS = {"kind", "run_id", "dataset", "model_dir", "loss", "optimizer", "lr", "batch_size",
             "micro_batch_size", "max_length", "epochs", "warmup_steps", "precision",
             "gradient_checkpointing", "gpus", "seed", "save_steps", "lora_r", "cpu_offload",
             "output_dir", "device", "max_steps"}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Config:
    dataset_path: str
    dataset_format: str
    model_dir: str
    output_dir: str
    loss: str = "ce"
    optimizer: str = "adamw"
    lr: float = 2e-5
    batch_size: int = 64
    micro_batch_size: int = 0
    max_length: int = 512
    epochs: float = 3.0
    warmup_steps: int = 2
    precision: str = "auto"
    gradient_checkpointing: bool = False
    gpus: int = 0
    seed: int = 0
    save_steps: int = 0
    lora_r: int = 0
    cpu_offload: bool = False
    device: str = "auto"
    max_steps: int = 0
    run_id: str = ""


def parse_spec(spec):
    """Config from the job spec; every bad field raises InvalidArgument
    naming it. Pure and cheap: runs before anything heavy."""
    check_keys(spec, SPEC_KEYS)
    kind = get_str(spec, "kind", default="train")
    if kind != "train":
        raise InvalidArgument("kind", f"must be 'train', got {kind!r}")
    dataset = get_obj(spec, "dataset")
    check_keys(dataset, {"path", "format"}, prefix="dataset.")
    lr = get_float(spec, "lr", default=2e-5)
    if lr <= 0:
        raise InvalidArgument("lr", f"must be > 0, got {lr}")
    epochs = get_float(spec, "epochs", default=3.0)
    if epochs <= 0:
        raise InvalidArgument("epochs", f"must be > 0, got {epochs}")
    cfg = Config(
        dataset_path=get_abs_path(dataset, "path", prefix="dataset."),
        dataset_format=get_str(dataset, "format", default="auto", choices=("auto",) + FORMATS,
                               prefix="dataset."),
        model_dir=get_abs_path(spec, "model_dir"),
        output_dir=get_abs_path(spec, "output_dir", must_exist=False),
        loss=get_str(spec, "loss", default="ce", choices=LOSSES),
        optimizer=get_str(spec, "optimizer", default="adamw", choices=OPTIMIZERS),
        lr=lr,
        batch_size=get_int(spec, "batch_size", default=64, minimum=1),
        micro_batch_size=get_int(spec, "micro_batch_size", default=0, minimum=0),
        max_length=get_int(spec, "max_length", default=512, minimum=2),
        epochs=epochs,
        warmup_steps=get_int(spec, "warmup_steps", default=2, minimum=0),
        precision=get_str(spec, "precision", default="auto", choices=PRECISIONS),
        gradient_checkpointing=get_bool(spec, "gradient_checkpointing", default=False),
        gpus=get_int(spec, "gpus", default=0, minimum=0),
        seed=get_int(spec, "seed", default=0, minimum=0),
        save_steps=get_int(spec, "save_steps", default=0, minimum=0),
        lora_r=get_int(spec, "lora_r", default=0, minimum=0),
        cpu_offload=get_bool(spec, "cpu_offload", default=False),
        device=get_str(spec, "device", default="auto", choices=("auto", "cpu", "cuda")),
        max_steps=get_int(spec, "max_steps", default=0, minimum=0),
        run_id=get_str(spec, "run_id", default=""),
    )
    if os.path.isfile(cfg.output_dir):
        raise InvalidArgument("output_dir", f"is a file: {cfg.output_dir}")
    return cfg


def check_model_dir(path):
    """Catch the common broken model dirs from file names alone, before
    paying for transformers: config, weights, tokenizer, a causal LM."""
    if not os.path.isdir(path):
        raise InvalidArgument("model_dir", f"is not a directory: {path}")
    names = set(os.listdir(path))
    if "config.json" not in names:
        raise InvalidArgument("model_dir", f"has no config.json: {path}")
    if not any(n.endswith(".safetensors") or n.startswith("pytorch_model") for n in names):
        raise InvalidArgument("model_dir", f"has no weights (*.safetensors or pytorch_model*.bin): {path}")
    if not names & {"tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json"}:
        raise InvalidArgument("model_dir", f"has no tokenizer files: {path}")
    try:
        with open(os.path.join(path, "config.json")) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise InvalidArgument("model_dir", f"config.json is unreadable: {e}")
    archs = config.get("architectures") or []
    if archs and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        raise InvalidArgument("model_dir", f"is not a causal language model (architectures: {archs})")


def lr_at(step, lr, warmup_steps):
    """Linear warm-up over the first `warmup_steps` optimiser steps (1-based),
    then constant. Step k <= warmup gets lr*k/(warmup+1): no step is wasted
    at lr 0, and step warmup+1 is the first at the full rate."""
    if step <= warmup_steps:
        return lr * step / (warmup_steps + 1)
    return lr


def resolve_precision(name, device):
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    return name


def choose_micro_batch(per_rank, max_length, device, gradient_checkpointing):
    # A token budget per micro-batch: big enough to keep a GPU busy, small
    # enough that 7B activations at 512 tokens fit an 80 GB card.
    if device.type == "cuda":
        budget = 32768 if gradient_checkpointing else 8192
    else:
        budget = 4096
    return max(1, min(per_rank, budget // max_length))


# ---------------------------------------------------------------- loading

def load_tokenizer(model_dir):
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except Exception as e:  # transformers raises many kinds for a bad dir
        raise InvalidArgument("model_dir", f"cannot load the tokenizer: {e}")
    if tokenizer.eos_token_id is None:
        raise InvalidArgument("model_dir", "the tokenizer has no eos_token; responses must end with one")
    if tokenizer.pad_token_id is None:
        # Padding is masked by attention_mask and label -100, so reusing EOS
        # as pad is exact and keeps the vocabulary (and the model) unchanged.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(source, gradient_checkpointing):
    """fp32 master weights on the CPU; sharding or .to(device) comes after."""
    from transformers import AutoModelForCausalLM
    try:
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=torch.float32)
    except Exception as e:
        raise InvalidArgument("model_dir", f"cannot load a causal LM from {source}: {e}")
    model.config.use_cache = False
    if gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):   # transformers >= 5.2x
            model.activation_checkpointing_enable()
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def add_lora(model, r, resume_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    if resume_path:
        return PeftModel.from_pretrained(model, resume_path, is_trainable=True)
    # alpha = 2r and every linear layer: the common QLoRA-style setting; no
    # dropout, so a LoRA run is as reproducible as a full fine-tune.
    config = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules="all-linear",
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def build_optimizer(name, params, lr, fused):
    if name == "adamw":
        # The fused kernel is one pass over all tensors instead of ~5 ops per
        # parameter (1.5x a whole step on a small CPU model); FSDP's sharded
        # DTensors take the default (foreach) path.
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                 fused=fused or None)
    return torch.optim.SGD(params, lr=lr, momentum=0.0, weight_decay=0.0)


def write_final(cfg, last_checkpoint, lora, tokenizer):
    """output_dir/final: a plain HF model + tokenizer, loadable with
    AutoModelForCausalLM. Full fine-tunes hard-link the last checkpoint's
    weights (no second multi-GB write); LoRA merges the adapter into a
    fresh copy of the base model."""
    final = os.path.join(cfg.output_dir, "final")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    if lora:
        from peft import PeftModel
        base = load_model(cfg.model_dir, gradient_checkpointing=False)
        merged = PeftModel.from_pretrained(base, last_checkpoint).merge_and_unload()
        merged.save_pretrained(tmp)
    else:
        skip = {"optimizer.pt", "trainer.json"}
        for name in os.listdir(last_checkpoint):
            if name in skip or name.startswith("rng-"):
                continue
            src, dst = os.path.join(last_checkpoint, name), os.path.join(tmp, name)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    return final


# ---------------------------------------------------------------- the job

def run(spec, emitter):
    t_start = time.monotonic()
    cfg = parse_spec(spec)
    device, world = distributed.check_topology(cfg.device, cfg.gpus, cfg.cpu_offload)
    check_model_dir(cfg.model_dir)
    records = sft_data.load_segments(cfg.dataset_path, cfg.dataset_format)

    topo = distributed.init(device, world, cfg.cpu_offload)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    try:
        _train(cfg, topo, records, emitter, t_start)
    finally:
        distributed.shutdown()


def _train(cfg, topo, records, emitter, t_start):
    torch.manual_seed(cfg.seed)
    precision = resolve_precision(cfg.precision, topo.device)
    compute_dtype = DTYPES[precision]
    lora = cfg.lora_r > 0

    # Progress lines wait until the inputs have proved good: a bad input's
    # error must be the first line the daemon sees.
    # ---- data: tokenize once, every rank holds the whole (small) set
    tokenizer = load_tokenizer(cfg.model_dir)
    examples = sft_data.tokenize_segments(tokenizer, records, cfg.max_length)
    truncated = sum(e.truncated for e in examples)
    if truncated:
        log.warning("%d of %d records truncated to max_length=%d", truncated, len(examples), cfg.max_length)
    # A record whose response is empty or wholly cut off teaches nothing; left
    # in, a batch of only such records would "train" on zero tokens and record
    # a loss of 0. Dropped here, counted in the result.
    untrainable = sum(1 for e in examples if e.n_targets == 0)
    examples = [e for e in examples if e.n_targets > 0]
    if not examples:
        raise InvalidArgument("dataset.path", "no trainable tokens: every response is empty or cut "
                                              f"off by max_length={cfg.max_length}")
    if untrainable:
        log.warning("%d records have no response tokens within max_length=%d; left out", untrainable, cfg.max_length)
    n_targets = [e.n_targets for e in examples]
    lengths = [len(e.input_ids) for e in examples]
    steps_per_epoch = sft_data.steps_per_epoch(len(examples), cfg.batch_size)
    total_steps = sft_data.total_steps(len(examples), cfg.batch_size, cfg.epochs, cfg.max_steps)
    per_rank = math.ceil(cfg.batch_size / topo.world)
    micro = cfg.micro_batch_size or choose_micro_batch(per_rank, cfg.max_length, topo.device,
                                                       cfg.gradient_checkpointing)

    # ---- resume point
    found = checkpoint.latest(cfg.output_dir)
    state = {"tokens": 0, "elapsed_s": 0.0, "best_loss": None, "final_loss": None}
    start_step, resume_path = 0, None
    if found:
        start_step, resume_path = found
        state.update(checkpoint.read_trainer_state(resume_path))
        plan = state.get("data", {})
        if plan != {"n_examples": len(examples), "batch_size": cfg.batch_size, "seed": cfg.seed}:
            raise InvalidArgument("output_dir", f"holds checkpoints of a different run ({plan}); "
                                                "use a fresh output_dir")
        log.info("resuming from %s", resume_path)
    if topo.is_main:
        os.makedirs(cfg.output_dir, exist_ok=True)

    if start_step >= total_steps:  # a previous attempt finished training
        final = os.path.join(cfg.output_dir, "final")
        if topo.is_main and not os.path.isdir(final):
            write_final(cfg, resume_path, lora, tokenizer)
        emitter.result("train", steps=start_step, final_loss=state["final_loss"],
                       best_loss=state["best_loss"], tokens=state["tokens"], truncated=truncated, untrainable=untrainable,
                       wall_s=round(time.monotonic() - t_start, 3), checkpoint_dir=final)
        return

    # ---- model: fp32 master weights; full fine-tunes resume from the checkpoint's weights
    model = load_model(resume_path if resume_path and not lora else cfg.model_dir,
                       cfg.gradient_checkpointing)
    layer_classes = set(getattr(model, "_no_split_modules", None) or [])
    if lora:
        model = add_lora(model, cfg.lora_r, resume_path)
    if topo.fsdp:
        model = distributed.shard(model, topo, compute_dtype, cfg.cpu_offload, layer_classes)
    else:
        model = model.to(topo.device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(cfg.optimizer, params, cfg.lr, fused=not topo.fsdp)
    # Single device: fp32 weights + autocast. FSDP casts the shards itself.
    autocast = (torch.autocast(topo.device.type, dtype=compute_dtype)
                if compute_dtype != torch.float32 and not topo.fsdp else nullcontext())
    scaler = None
    if precision == "fp16":  # fp16 gradients underflow without loss scaling
        if topo.fsdp:
            from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler
            scaler = ShardedGradScaler(topo.device.type)
        else:
            scaler = torch.amp.GradScaler(topo.device.type)
    if resume_path:
        checkpoint.load_optimizer(resume_path, model, optimizer, topo)
        checkpoint.load_rng(resume_path, topo, state.get("world", topo.world))
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    emitter.progress("tokenize", len(examples), len(examples))
    emitter.progress("load_model", 1, 1)
    log.info("training %d steps (%d per epoch), batch %d = %d rank(s) x micro %d, precision %s%s",
             total_steps, steps_per_epoch, cfg.batch_size, topo.world, micro, precision,
             ", FSDP" if topo.fsdp else "")

    # ---- SIGTERM: finish the step, checkpoint, exit 3 (never mid-step)
    stop = {"requested": False}
    previous_handler = signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))

    from .event_thread import EventThread
    events = EventThread(emitter, total_steps=total_steps, elapsed_before=state["elapsed_s"],
                         best_loss=state["best_loss"])
    # FSDP averages gradients over ranks; scaling each rank's loss by the
    # world size turns that average back into the window's token sum.
    rank_scale = topo.world if topo.fsdp else 1
    tokens_total = state["tokens"]
    step = start_step
    try:
        for step in range(start_step + 1, total_steps + 1):
            batch = sft_data.global_batch(len(examples), cfg.batch_size, cfg.seed, step)
            window_tokens = sum(n_targets[i] for i in batch)   # all ranks, known without communication
            lr = lr_at(step, cfg.lr, cfg.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr

            loss_sum = torch.zeros((), device=topo.device)
            for mb in sft_data.rank_micro_batches(batch, lengths, topo.rank, topo.world, micro):
                input_ids, attention_mask, targets = (
                    t.to(topo.device, non_blocking=True)
                    for t in sft_data.collate([examples[i] for i in mb], tokenizer.pad_token_id))
                with autocast:
                    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
                micro_sum = token_loss_sum(cfg.loss, logits, targets)
                scaled = micro_sum * (rank_scale / max(window_tokens, 1))
                (scaler.scale(scaled) if scaler else scaled).backward()
                loss_sum += micro_sum.detach()

            if scaler:
                scaler.unscale_(optimizer)
            # max_norm=inf: measure, never clip (the study trains unclipped).
            grad_norm = torch.nn.utils.clip_grad_norm_(params, float("inf"))
            if hasattr(grad_norm, "full_tensor"):   # FSDP: a DTensor over the shards
                grad_norm = grad_norm.full_tensor()
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            loss = distributed.all_reduce_sum(topo, loss_sum) / max(window_tokens, 1)
            tokens_total += window_tokens
            events.step(step, epoch=step / steps_per_epoch, loss=loss, lr=lr,
                        grad_norm=grad_norm, tokens=window_tokens, samples=len(batch))

            stopping = distributed.any_rank(topo, stop["requested"])
            if stopping or step == total_steps or (cfg.save_steps and step % cfg.save_steps == 0):
                events.flush()
                path = checkpoint.save(
                    cfg.output_dir, step, model=model, optimizer=optimizer, tokenizer=tokenizer,
                    topo=topo, lora=lora, trainer_state={
                        "tokens": tokens_total, "elapsed_s": events.elapsed,
                        "best_loss": events.best_loss, "final_loss": events.final_loss,
                        "scaler": scaler.state_dict() if scaler else None,
                        "schedule": {"lr": cfg.lr, "warmup_steps": cfg.warmup_steps},
                        "data": {"n_examples": len(examples), "batch_size": cfg.batch_size,
                                 "seed": cfg.seed}})
                events.emit("checkpoint", step=step, path=path)
            if stopping:
                raise Cancelled()

        events.flush()
        final = None
        if topo.is_main:
            final = write_final(cfg, path, lora, tokenizer)
        distributed.barrier(topo)
        events.emit("result", kind="train", steps=step, final_loss=events.final_loss,
                    best_loss=events.best_loss, tokens=tokens_total, truncated=truncated, untrainable=untrainable,
                    wall_s=round(time.monotonic() - t_start, 3),
                    checkpoint_dir=final or os.path.join(cfg.output_dir, "final"))
        events.flush()
    finally:
        events.close()
        signal.signal(signal.SIGTERM, previous_handler)
