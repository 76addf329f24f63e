"""How long a graph process stopped, and whether a CPU or the GIL held it.

The motor process damps the robot when the graph's commands stop for 50 ms (docs/hardware.md), and
the supervisor's heartbeat sends one every 30-40 ms when nothing else does: a graph process stopped
for a few tens of milliseconds at the wrong moment trips it. Two different causes look the same
from outside: the machine gave the process no CPU (other real-time work, a hypervisor, a burst of
load: run the graph on its own cores, or at a higher priority), or a thread of the process held the
GIL (a long C call, a blocking write from C: a bug of ours to find).

`StallProbe` is a thread that wakes every 5 ms and measures how late it woke. The kernel tells, per
thread, how long it was runnable but waiting for a CPU (/proc/<pid>/task/<tid>/schedstat, the
run-queue delay); a thread waiting for the GIL sleeps on a condition variable instead, so the rest
of a late wake-up is the GIL (or the probe's own page faults, rare). Installed by every in-process
graph (its threads' priority: started inside realtime_threads it runs at the graph's); `lucid-ros
robot` prints its summary at exit beside the GC pauses.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Stall:
    at: float  # wall clock when the probe woke, s
    mono: float  # the same instant on CLOCK_MONOTONIC (every process's time.monotonic)
    late_s: float  # how much later than asked
    cpu_wait_s: float | None  # of which runnable, waiting for a CPU (None: the kernel does not say)

    @property
    def by_cpu(self) -> bool:
        """Mostly no CPU (the machine), rather than the GIL (the process)."""
        return self.cpu_wait_s is not None and self.cpu_wait_s >= 0.5 * self.late_s

    def describe(self) -> str:
        why = "" if self.cpu_wait_s is None else f" ({self.cpu_wait_s * 1e3:.0f} ms of it waiting for a CPU)"
        return f"{self.late_s * 1e3:.0f} ms at {self.at:.3f}{why}"


class StallProbe:
    PERIOD_S = 0.005

    def __init__(self, threshold_s: float = 0.02, keep: int = 256):
        self.threshold_s = threshold_s
        self.keep = keep
        self.stalls: list[Stall] = []  # the first `keep` of `threshold_s` or more
        self.count = 0
        self.worst: Stall | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> StallProbe:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="stall_probe", daemon=True)
            self._thread.start()
        return self

    def remove(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=1.0)
            self._thread = None

    def _run(self) -> None:
        try:
            fd = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
        except OSError:
            fd = -1  # no scheduler statistics in this kernel: lateness only
        try:
            while not self._stop.is_set():
                d0, t0 = _run_delay(fd), time.monotonic()
                if self._stop.wait(self.PERIOD_S):
                    break
                woke = time.monotonic()
                late, d1 = woke - t0 - self.PERIOD_S, _run_delay(fd)
                if late >= self.threshold_s:
                    self._record(Stall(time.time(), woke, late, None if d0 is None or d1 is None else d1 - d0))
        finally:
            if fd >= 0:
                os.close(fd)

    def _record(self, stall: Stall) -> None:
        self.count += 1
        if len(self.stalls) < self.keep:
            self.stalls.append(stall)
        if self.worst is None or stall.late_s > self.worst.late_s:
            self.worst = stall

    def by_cpu(self, since: float = 0.0) -> list[Stall]:
        """The recorded stalls since `since` (wall clock) that were mostly waiting for a CPU."""
        return [s for s in self.stalls if s.at >= since and s.by_cpu]

    def during(self, start: float, end: float) -> list[Stall]:
        """The recorded stalls that overlap [start, end] (CLOCK_MONOTONIC: the motor process's
        watchdog_fired = (last command written, first damping sent) is one such span)."""
        return [s for s in self.stalls if s.mono >= start and s.mono - s.late_s - self.PERIOD_S <= end]

    def summary(self) -> str:
        if self.worst is None:
            return f"stalls of the graph process: none of {self.threshold_s * 1e3:.0f} ms or more"
        cpu = sum(s.by_cpu for s in self.stalls)
        return (f"stalls of the graph process: {self.count} of {self.threshold_s * 1e3:.0f} ms or more ({cpu} of the first "
                f"{len(self.stalls)} mostly waiting for a CPU, the rest for the GIL), worst {self.worst.describe()}")  # fmt: skip


def _run_delay(fd: int) -> float | None:
    """The thread's run-queue delay so far (schedstat's second field), in s; None where unknown."""
    if fd < 0:
        return None
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 128).split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None
