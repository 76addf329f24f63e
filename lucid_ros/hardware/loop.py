"""A periodic loop on absolute deadlines: deadline k is start + k * period, whatever the work took.

A loop that sleeps `period` after its work runs at 1 / (period + work) and drifts
(what-users-trip-over item 8). Here a late iteration shortens the next sleep; one later than a
whole period is counted as a miss and the schedule skips ahead instead of bursting to catch up.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np


class PeriodicLoop:
    def __init__(self, period: float, name: str = "loop", clock: Callable[[], float] = time.monotonic, keep: int = 5000):
        if period <= 0:
            raise ValueError("period must be > 0")
        self.period = period
        self.name = name
        self.clock = clock
        self.intervals: deque[float] = deque(maxlen=keep)  # actual start-to-start times
        self.lateness: deque[float] = deque(maxlen=keep)  # start time minus deadline
        self.misses = 0
        self.iterations = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, work: Callable[[], None]) -> None:
        """Run `work` every period until stop(); blocks the calling thread."""
        deadline = self.clock()
        last = None
        while not self._stop.is_set():
            now = self.clock()
            if last is not None:
                self.intervals.append(now - last)
            self.lateness.append(now - deadline)
            last = now
            work()
            self.iterations += 1
            deadline += self.period
            now = self.clock()
            if now - deadline > self.period:
                self.misses += int((now - deadline) // self.period)
                deadline = now  # skip ahead: no burst of catch-up iterations
            delay = deadline - now
            if delay > 0:
                self._stop.wait(delay)

    def start(self, work: Callable[[], None]) -> PeriodicLoop:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(work,), name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, float]:
        """Period p50/p99/max and mean rate over the kept window, in ms and Hz."""
        iv = np.array(self.intervals, dtype=np.float64)
        if len(iv) == 0:
            return {
                "period_p50_ms": float("nan"),
                "period_p99_ms": float("nan"),
                "period_max_ms": float("nan"),
                "rate_hz": 0.0,
                "misses": self.misses,
            }
        return {
            "period_p50_ms": float(np.percentile(iv, 50) * 1e3),
            "period_p99_ms": float(np.percentile(iv, 99) * 1e3),
            "period_max_ms": float(iv.max() * 1e3),
            "rate_hz": float(1.0 / iv.mean()),
            "misses": self.misses,
        }
