"""Processes, devices and FSDP for the training job.

One process per device. Under torchrun (WORLD_SIZE > 1) every rank runs
the same recipe; rank 0 alone writes protocol lines and checkpoint files.
FSDP is PyTorch's own fully_shard (FSDP2): every decoder layer is its own
shard unit, so only one layer's full weights exist at a time.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .protocol import InvalidArgument
from .runtime import resolve_device


@dataclass
class Topology:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    fsdp: bool

    @property
    def is_main(self):
        return self.rank == 0


def env_rank():
    return int(os.environ.get("RANK", "0"))


def check_topology(device_name, gpus, cpu_offload):
    """Validate gpus/device/cpu_offload against what this machine and
    launcher provide. Cheap: no process group yet, so it runs before any
    heavy work and a bad request exits 2."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus > available:
        raise InvalidArgument("gpus", f"{gpus} GPU(s) requested but {available} available")
    if gpus > 1 and world != gpus:
        raise InvalidArgument("gpus", f"{gpus} GPUs requested but the job runs as {world} process(es); "
                                      f"launch it with torchrun --nproc_per_node {gpus}")
    if gpus >= 1 and device_name == "cpu":
        raise InvalidArgument("device", f"is cpu but gpus is {gpus}")
    device = resolve_device("cuda" if gpus >= 1 and device_name == "auto" else device_name)
    if cpu_offload and device.type != "cuda":
        raise InvalidArgument("cpu_offload", "offloads GPU memory to the host; it needs a CUDA device")
    if device.type == "cuda" and world > available:
        raise InvalidArgument("gpus", f"{world} processes but only {available} GPU(s)")
    return device, world


def init(device, world, cpu_offload):
    rank, local_rank = env_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    # CPU offload lives in FSDP, so a single GPU with offload is a world of one.
    fsdp = world > 1 or cpu_offload
    if fsdp and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if world > 1:
            dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
        else:
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return Topology(rank, world, local_rank, device, fsdp)


def shutdown():
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(topo):
    if topo.fsdp:
        dist.barrier()


def all_reduce_sum(topo, tensor):
    if topo.fsdp and topo.world > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(topo, flag):
    """True on every rank when `flag` is true on any: ranks must agree to stop
    at the same step or the next step's collectives would hang."""
    if not (topo.fsdp and topo.world > 1):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=topo.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def shard(model, topo, param_dtype, cpu_offload, layer_classes):
    """fully_shard each decoder layer, then the root (embeddings, norm, head).
    Master weights stay fp32 and sharded; compute runs in `param_dtype`;
    gradients are reduced in fp32 so accumulation is not rounded to bf16."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard

    mesh = init_device_mesh(topo.device.type, (topo.world,))
    kwargs = {"mesh": mesh}
    if param_dtype != torch.float32:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    if cpu_offload:
        kwargs["offload_policy"] = CPUOffloadPolicy()
    layers = [m for m in model.modules() if type(m).__name__ in layer_classes]
    if not layers:
        raise InvalidArgument("model_dir", f"no decoder layers of {sorted(layer_classes)} to shard")
    for layer in layers:
        fully_shard(layer, **kwargs)
    fully_shard(model, **kwargs)
    return model
