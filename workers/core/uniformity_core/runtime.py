"""Where tensors live and how many threads they get."""

import os

import torch

from .protocol import InvalidArgument


def set_threads():
    # One process per job owns the box: use every core we are allowed on
    # (cgroup/affinity aware), not torch's guess.
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    torch.set_num_threads(max(1, n))
    return n


def resolve_device(name, field="device"):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InvalidArgument(field, "cuda requested but no CUDA device is available")
        return torch.device("cuda")
    if name == "cpu":
        return torch.device("cpu")
    raise InvalidArgument(field, f"must be one of auto, cpu, cuda; got {name!r}")
