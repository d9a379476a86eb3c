import json
import os
import subprocess
import sys

import numpy as np
import pytest

CORE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if CORE not in sys.path:
    sys.path.insert(0, CORE)


def run_core(kind, spec, tmp_path, timeout=120):
    """Run `python -m uniformity_core KIND --spec FILE` the way the daemon does:
    PYTHONPATH=workers/core, cwd elsewhere. Returns (rc, [json lines], stderr)."""
    path = tmp_path / f"spec-{kind}.json"
    path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=CORE)
    proc = subprocess.run([sys.executable, "-m", "uniformity_core", kind, "--spec", str(path)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=timeout)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def clustered(rng, n, d, clusters=8, spread=0.05):
    centres = rng.normal(size=(clusters, d))
    return centres[rng.integers(0, clusters, n)] + spread * rng.normal(size=(n, d))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def write_alpaca(path, rows):
    path.write_text(json.dumps([{"instruction": a, "input": b, "output": c} for a, b, c in rows]))
    return str(path)
