"""`selftest` job: proves the protocol end to end (progress, cancel, result,
bad input, crash) without touching real data."""

import time

import torch

from .protocol import InvalidArgument, check_keys, get_float, get_int, get_str
from .runtime import resolve_device, set_threads


def run(spec, emitter):
    check_keys(spec, {"kind", "steps", "fail", "sleep_s", "device", "output_dir"})
    steps = get_int(spec, "steps", default=3, minimum=1)
    fail = spec.get("fail")
    if fail is not None:
        fail = get_str(spec, "fail", choices=("bad_input", "crash"))
    sleep_s = get_float(spec, "sleep_s", default=0.0, minimum=0.0)
    device = resolve_device(get_str(spec, "device", default="auto"))
    set_threads()

    if fail == "bad_input":
        raise InvalidArgument("fail", "bad_input requested by the spec")

    for step in range(1, steps + 1):
        if sleep_s:
            time.sleep(sleep_s)
        emitter.progress("selftest", step, steps)

    if fail == "crash":
        raise RuntimeError("crash requested by the spec")

    # Something tiny but real on the chosen device: sum of 0..99 = 4950.
    total = torch.arange(100, dtype=torch.float32, device=device).sum().item()
    emitter.result("selftest", torch=torch.__version__, device=device.type, sum=float(total))
