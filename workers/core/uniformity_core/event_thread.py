"""Protocol lines written from a background thread, so the training loop
never waits on stdout or on the device.

The loop hands over the step's loss and grad-norm as tensors; turning them
into numbers (`.item()`, a device sync on CUDA) happens here, off the loop's
thread, and the step's wall time is stamped when its loss is actually
known rather than when its kernels were queued.
"""

import logging
import math
import queue
import threading
import time

log = logging.getLogger("uniformity_core.train")


def _number(x):
    value = float(x.item() if hasattr(x, "item") else x)
    # The protocol forbids NaN/Infinity in JSON; a diverged step reports null.
    return value if math.isfinite(value) else None


class EventThread:

    def __init__(self, emitter, *, total_steps, elapsed_before=0.0, best_loss=None):
        self.emitter = emitter
        self.total_steps = total_steps
        self.elapsed_before = elapsed_before
        self.best_loss = best_loss
        self.final_loss = None
        self.error = None
        self._queue = queue.Queue()
        self._t0 = self._last = time.monotonic()
        self._thread = threading.Thread(target=self._work, name="protocol-events", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ loop side

    def step(self, step, *, epoch, loss, lr, grad_norm, tokens, samples):
        self._queue.put(("step", dict(step=step, epoch=epoch, loss=loss, lr=lr,
                                      grad_norm=grad_norm, tokens=tokens, samples=samples)))

    def emit(self, type_, **fields):
        """Any other protocol line, kept in order with the step lines."""
        self._queue.put(("emit", (type_, fields)))

    def flush(self):
        """Wait until every queued line is written (before checkpoints read
        best_loss, before the result line)."""
        self._queue.join()
        if self.error:
            raise self.error

    def close(self):
        self._queue.put(None)
        self._thread.join()

    @property
    def elapsed(self):
        return self.elapsed_before + (time.monotonic() - self._t0)

    # ------------------------------------------------------------ thread side

    def _work(self):
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                kind, payload = item
                if self.error is None:
                    if kind == "step":
                        self._write_step(**payload)
                    else:
                        self.emitter.emit(payload[0], **payload[1])
            except Exception as e:  # surfaced to the loop at the next flush
                log.exception("writing protocol line failed")
                self.error = e
            finally:
                self._queue.task_done()

    def _write_step(self, step, epoch, loss, lr, grad_norm, tokens, samples):
        loss = _number(loss)              # waits for the step to finish on the device
        grad_norm = _number(grad_norm)
        now = time.monotonic()
        took, self._last = now - self._last, now
        if loss is not None:
            self.final_loss = loss
            self.best_loss = loss if self.best_loss is None else min(self.best_loss, loss)
        self.emitter.emit("step", step=step, epoch=round(epoch, 6), loss=loss, lr=lr,
                          grad_norm=grad_norm, tokens=int(tokens), samples=int(samples),
                          elapsed_s=round(self.elapsed_before + now - self._t0, 4),
                          tokens_per_s=round(tokens / took, 2) if took > 0 else None,
                          total_steps=self.total_steps)
