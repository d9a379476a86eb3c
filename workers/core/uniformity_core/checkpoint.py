"""Training checkpoints: output_dir/checkpoints/step-<N>/.

A checkpoint holds everything a resumed run needs to continue bit for bit:
  model files   HF format (save_pretrained; a LoRA run saves its adapter),
                plus the tokenizer, so evaluation can load any checkpoint
  optimizer.pt  optimizer state, full (unsharded) so any world size resumes
  trainer.json  step, data position, schedule, counters, loss bests, scaler
  rng-<rank>.pt every RNG a rank draws from (dropout, LoRA init, ...)

Written into step-<N>.tmp and renamed when complete, so a crash mid-write
never leaves a checkpoint that looks valid.
"""

import json
import os
import random
import re
import shutil

import numpy as np
import torch

from . import distributed

STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoints_dir(output_dir):
    return os.path.join(output_dir, "checkpoints")


def latest(output_dir):
    """(step, path) of the newest complete checkpoint, or None."""
    root = checkpoints_dir(output_dir)
    if not os.path.isdir(root):
        return None
    steps = [int(m.group(1)) for m in map(STEP_DIR.match, os.listdir(root)) if m]
    steps = [s for s in steps if os.path.exists(os.path.join(root, f"step-{s}", "trainer.json"))]
    if not steps:
        return None
    step = max(steps)
    return step, os.path.join(root, f"step-{step}")


def _model_state(model, topo, lora):
    """Full state dict on rank 0 (CPU tensors); other ranks get {}."""
    if not topo.fsdp:
        if lora:
            return {k: v for k, v in model.state_dict().items() if "lora_" in k}
        return model.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    return get_model_state_dict(model, options=StateDictOptions(
        full_state_dict=True, cpu_offload=True, ignore_frozen_params=lora))


def _optimizer_state(model, optimizer, topo):
    if not topo.fsdp:
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict
    return get_optimizer_state_dict(model, optimizer, options=StateDictOptions(
        full_state_dict=True, cpu_offload=True))


def rng_state(device):
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state, device):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save(output_dir, step, *, model, optimizer, tokenizer, topo, lora, trainer_state, keep=2):
    """Collective: every rank must call it. Returns the checkpoint path."""
    root = checkpoints_dir(output_dir)
    final = os.path.join(root, f"step-{step}")
    tmp = final + ".tmp"
    if topo.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    distributed.barrier(topo)
    # Gathering is collective; only rank 0 receives the tensors.
    model_sd = _model_state(model, topo, lora)
    optim_sd = _optimizer_state(model, optimizer, topo)
    torch.save(rng_state(topo.device), os.path.join(tmp, f"rng-{topo.rank}.pt"))
    if topo.is_main:
        # FSDP2 keeps the module's class (a subclass), so HF/PEFT saving works as is.
        model.save_pretrained(tmp, state_dict=model_sd)
        tokenizer.save_pretrained(tmp)
        torch.save(optim_sd, os.path.join(tmp, "optimizer.pt"))
        with open(os.path.join(tmp, "trainer.json"), "w") as f:
            json.dump({**trainer_state, "step": step, "world": topo.world}, f, indent=1)
    distributed.barrier(topo)
    if topo.is_main:
        if os.path.exists(final):  # a rerun reached the same step again
            shutil.rmtree(final)
        os.rename(tmp, final)
        _prune(root, keep)
    distributed.barrier(topo)
    return final


def _prune(root, keep):
    # Full fine-tunes of 7B models write ~80 GB per checkpoint (fp32 weights
    # + Adam moments): keep only the newest few.
    steps = sorted(int(m.group(1)) for m in map(STEP_DIR.match, os.listdir(root)) if m)
    for s in steps[:-keep]:
        shutil.rmtree(os.path.join(root, f"step-{s}"), ignore_errors=True)


def read_trainer_state(path):
    with open(os.path.join(path, "trainer.json")) as f:
        return json.load(f)


def load_optimizer(path, model, optimizer, topo):
    state = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", weights_only=False)
    if not topo.fsdp:
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def load_rng(path, topo, world_then):
    # Same world size: each rank gets back its own stream. Otherwise the
    # streams cannot line up anyway; rank 0's is the best guess.
    f = os.path.join(path, f"rng-{topo.rank if topo.world == world_then else 0}.pt")
    set_rng_state(torch.load(f, weights_only=False), topo.device)
