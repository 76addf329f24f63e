"""Keep the garbage collector's pauses out of a wall-clock graph.

CPython's full (generation-2) collection walks every container object in the process with the
GIL held, so every thread stops: the driver's send loop, the executor running the policy and the
supervisor alike. Once rclpy, MuJoCo and ONNX Runtime are imported that walk takes ~15 ms on one
of this machine's cores, and ~100 ms in a process that has also imported torch (a test session,
a training notebook) — longer than the 50 ms staleness timeouts the supervisor damps on.

`freeze_heap()` collects once and moves everything that exists after bring-up (modules, the robot
model, the ONNX session) out of the collector's reach (`gc.freeze`): later full collections walk
only what was made since. Objects stay freed by reference counting; only cycles among the frozen
ones would wait for `thaw()`. `GcPauses` measures every collection, so a stall that is the
collector's says so instead of looking like a slow sensor.
"""

from __future__ import annotations

import gc
import threading
import time

_depth = 0
_lock = threading.Lock()


def freeze_heap() -> float:
    """Collect, then freeze the survivors; returns the ms it took (paid once, before RUNNING)."""
    global _depth
    t0 = time.perf_counter()
    with _lock:
        gc.collect()
        gc.freeze()
        _depth += 1
    return (time.perf_counter() - t0) * 1e3


def thaw() -> None:
    """Undo one `freeze_heap()`; the last one returns the frozen objects to the collector."""
    global _depth
    with _lock:
        _depth = max(0, _depth - 1)
        if _depth == 0:
            gc.unfreeze()


class GcPauses:
    """Duration of every collection while installed (gc.callbacks), by generation."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.max_ms = [0.0, 0.0, 0.0]
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        g = int(info.get("generation", 2))
        self.count[g] += 1
        self.max_ms[g] = max(self.max_ms[g], (time.perf_counter() - self._t0) * 1e3)

    def install(self) -> GcPauses:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        return self

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    @property
    def worst_ms(self) -> float:
        return max(self.max_ms)

    def summary(self) -> str:
        per = ", ".join(f"gen{g} {n}x max {m:.1f} ms" for g, (n, m) in enumerate(zip(self.count, self.max_ms, strict=True)))
        return f"GC pauses: {per}"
