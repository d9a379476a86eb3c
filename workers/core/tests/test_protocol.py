import json
import os
import signal
import subprocess
import sys

from conftest import CORE, run_core


def test_selftest_success_lines(tmp_path):
    rc, lines, _ = run_core("selftest", {"kind": "selftest", "steps": 4}, tmp_path)
    assert rc == 0
    assert [l["type"] for l in lines] == ["progress"] * 4 + ["result"]
    assert [l["done"] for l in lines[:4]] == [1, 2, 3, 4]
    assert all(l["phase"] == "selftest" and l["total"] == 4 for l in lines[:4])
    result = lines[-1]
    assert result["kind"] == "selftest" and result["device"] in ("cpu", "cuda") and result["sum"] == 4950.0
    assert result["torch"]


def test_bad_spec_exits_2_naming_the_field(tmp_path):
    rc, lines, _ = run_core("selftest", {"kind": "selftest", "steps": 0}, tmp_path)
    assert rc == 2 and lines[-1]["type"] == "error"
    assert lines[-1]["code"] == "invalid_argument" and "steps" in lines[-1]["message"]
    rc, lines, _ = run_core("selftest", {"kind": "selftest", "fail": "bad_input"}, tmp_path)
    assert rc == 2 and lines[-1]["code"] == "invalid_argument" and "fail" in lines[-1]["message"]


def test_unreadable_spec_file_is_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "uniformity_core", "selftest", "--spec", str(tmp_path / "none.json")],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=CORE), cwd=str(tmp_path))
    assert proc.returncode == 2
    assert json.loads(proc.stdout.splitlines()[-1])["message"].startswith("spec")


def test_crash_exits_1(tmp_path):
    rc, lines, err = run_core("selftest", {"kind": "selftest", "steps": 1, "fail": "crash"}, tmp_path)
    assert rc == 1 and "RuntimeError" in err
    assert lines[-1]["type"] == "error" and lines[-1]["code"] == "internal"


def test_sigterm_cancels_with_exit_3(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"kind": "selftest", "steps": 100, "sleep_s": 0.2}))
    proc = subprocess.Popen([sys.executable, "-m", "uniformity_core", "selftest", "--spec", str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=CORE), cwd=str(tmp_path))
    first = json.loads(proc.stdout.readline())  # arrives live: stdout is flushed per line
    assert first["type"] == "progress" and first["done"] == 1
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3
    last = json.loads(out.splitlines()[-1])
    assert last == {"type": "error", "code": "cancelled", "message": "cancelled by SIGTERM"}
