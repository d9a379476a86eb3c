"""The job protocol between the worker daemon and the numeric core.

One JSON object per line on stdout, each with a ``type``: ``progress``
(phase, done, total), ``step``, ``checkpoint``, ``result`` (kind-specific) and
``error`` (code, message). Logs go to stderr through ``logging``. Exit codes:
0 done, 2 bad input (never retried), 3 cancelled, anything else a crash.

The spec helpers here are the one place spec fields are read, so every bad
input names the field it came from ("embedder.dim", "size", ...).
"""

import json
import logging
import math
import os
import signal
import sys

log = logging.getLogger("uniformity_core")

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 3
EXIT_CRASH = 1


class InvalidArgument(Exception):
    """Bad input: exit 2, never retried. The message names the field."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field


class Cancelled(BaseException):
    # BaseException so that library code with a broad `except Exception`
    # cannot swallow a cancel raised from the signal handler.
    pass


class Emitter:
    """Writes protocol lines to stdout, one flushed JSON object per line."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def emit(self, type_, **fields):
        line = json.dumps({"type": type_, **fields}, allow_nan=False, default=_jsonable)
        self.stream.write(line + "\n")
        # The daemon reads events live (acks, cancel tests); never let them sit in a buffer.
        self.stream.flush()

    def progress(self, phase, done, total):
        self.emit("progress", phase=phase, done=int(done), total=int(total))

    def result(self, kind, **fields):
        self.emit("result", kind=kind, **fields)

    def error(self, code, message):
        self.emit("error", code=code, message=message)


def _jsonable(value):
    # numpy scalars sneak into results; turn them into plain numbers.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Progress:
    """Rate-limited progress for one phase: at most ~`lines` lines however
    many units of work, so a 200k-record phase never prints thousands."""

    def __init__(self, emitter, phase, total, lines=50):
        self.emitter, self.phase, self.total = emitter, phase, max(int(total), 0)
        self.every = max(1, self.total // lines)
        self.last = -1

    def update(self, done):
        if done == self.last:
            return
        if self.last < 0 or done == self.total or done - self.last >= self.every:
            self.last = done
            self.emitter.progress(self.phase, done, self.total)

    def finish(self):
        if self.last != self.total:
            self.update(self.total)


# ---------------------------------------------------------------- spec fields

def read_spec(path):
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise InvalidArgument("spec", f"file not found: {path}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidArgument("spec", f"cannot read JSON from {path}: {e}")
    if not isinstance(spec, dict):
        raise InvalidArgument("spec", "must be a JSON object")
    return spec


def _get(obj, key, prefix, default, required):
    if key not in obj or obj[key] is None:
        if required:
            raise InvalidArgument(prefix + key, "is required")
        return default
    return obj[key]


def get_int(obj, key, default=None, minimum=None, prefix="", required=False):
    value = _get(obj, key, prefix, default, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(prefix + key, f"must be an integer, got {json.dumps(value)}")
    if minimum is not None and value < minimum:
        raise InvalidArgument(prefix + key, f"must be >= {minimum}, got {value}")
    return value


def get_float(obj, key, default=None, minimum=None, prefix="", required=False):
    value = _get(obj, key, prefix, default, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgument(prefix + key, f"must be a finite number, got {json.dumps(value)}")
    if minimum is not None and value < minimum:
        raise InvalidArgument(prefix + key, f"must be >= {minimum}, got {value}")
    return float(value)


def get_str(obj, key, default=None, choices=None, prefix="", required=False):
    value = _get(obj, key, prefix, default, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(prefix + key, f"must be a string, got {json.dumps(value)}")
    if choices is not None and value not in choices:
        raise InvalidArgument(prefix + key, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def get_obj(obj, key, prefix="", required=True):
    value = _get(obj, key, prefix, None, required)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(prefix + key, "must be a JSON object")
    return value


def get_bool(obj, key, default=None, prefix="", required=False):
    value = _get(obj, key, prefix, default, required)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(prefix + key, f"must be true or false, got {json.dumps(value)}")
    return value


def get_abs_path(obj, key, prefix="", must_exist=True):
    value = get_str(obj, key, prefix=prefix, required=True)
    if not os.path.isabs(value):
        raise InvalidArgument(prefix + key, f"must be an absolute path, got {value!r}")
    if must_exist and not os.path.exists(value):
        raise InvalidArgument(prefix + key, f"not found: {value}")
    return value


def check_keys(obj, allowed, prefix=""):
    for key in obj:
        if key not in allowed:
            raise InvalidArgument(prefix + key, "unknown field")


# ---------------------------------------------------------------- running a job

def _on_sigterm(signum, frame):
    raise Cancelled()


def run(job, spec_path, emitter=None):
    """Run `job(spec, emitter)` under the protocol and return the exit code."""
    emitter = emitter or Emitter()
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
        job(read_spec(spec_path), emitter)
        return EXIT_OK
    except InvalidArgument as e:
        log.error("invalid argument: %s", e)
        emitter.error("invalid_argument", str(e))
        return EXIT_BAD_INPUT
    except Cancelled:
        log.warning("cancelled by SIGTERM")
        emitter.error("cancelled", "cancelled by SIGTERM")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        emitter.error("cancelled", "interrupted")
        return EXIT_CANCELLED
    except Exception as e:
        # A crash: the daemon redelivers it. Say what broke on both channels.
        log.exception("crashed")
        emitter.error("internal", f"{type(e).__name__}: {e}")
        return EXIT_CRASH
