"""When may the simulation advance? The answer that makes sim runs reproducible.

Lockstep (default): after publishing tick t's sensors, the sim waits until the graph has answered
with a joint command stamped >= t (or `timeout` wall seconds pass: a dead node must not freeze the
world forever; the timeout is counted and reported, and a run with one is not repeatable), then
integrates one tick. The run is as fast as the graph and, for a seed, the same every time: the
timeout is long (LOCKSTEP_TIMEOUT) because under a CPU hog a late answer is still the answer,
where a short one let the sim integrate ticks with the previous command.

`hold_at(T)`: the sim integrates up to sim time T and waits there (tick T published and answered) until
the hold moves. A run "for 10 s" is then exactly 10 s of ticks however slow the machine; a wall
clock polling the sim time stopped it a tick or two apart run to run.

Realtime: the sim is paced to the wall clock and never waits, as a robot would not; a command that
has not arrived by the end of its tick is a deadline miss.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

LOCKSTEP_TIMEOUT = 10.0  # wall s a lockstep tick waits for its answer before the world moves without it
EPS = 1e-9


class Lockstep:
    def __init__(self, tick_dt: float, realtime: bool = False, timeout: float = LOCKSTEP_TIMEOUT):
        self.tick_dt = tick_dt
        self.realtime = realtime
        self.timeout = timeout
        self._cv = threading.Condition()
        self._answered_stamp = float("-inf")
        self._wall_start: float | None = None
        self._published_wall: dict[int, float] = {}  # tick stamp (ns) -> wall time its sensors went out
        self.latencies: list[float] = []  # wall seconds, sensors published -> command received
        self.misses = 0
        self.timeouts = 0
        self.ticks = 0
        self._hold = float("inf")  # the sim does not integrate past this sim time
        self._held_at: float | None = None  # where the sim waits now (None: running)

    def published(self, t: float) -> None:
        """Tick t's sensors are out."""
        now = time.perf_counter()
        if self._wall_start is None:
            self._wall_start = now - t
        with self._cv:
            self._published_wall[_ns(t)] = now
            if len(self._published_wall) > 64:
                for k in sorted(self._published_wall)[:-32]:
                    del self._published_wall[k]

    def answered(self, stamp: float) -> None:
        """A command stamped `stamp` arrived (called from the subscriber's thread)."""
        now = time.perf_counter()
        with self._cv:
            sent = self._published_wall.pop(_ns(stamp), None)
            if sent is not None:
                self.latencies.append(now - sent)
            if stamp > self._answered_stamp:
                self._answered_stamp = stamp
            self._cv.notify_all()

    def wait(self, t: float, expect_answer: bool = True) -> bool:
        """Block until the sim may integrate tick t; returns whether tick t was answered in time."""
        self.ticks += 1
        eps = 1e-9
        if self.realtime:
            deadline = (self._wall_start or time.perf_counter()) + t + self.tick_dt
            with self._cv:
                while self._answered_stamp < t - eps:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
                ok = self._answered_stamp >= t - eps
            remaining = deadline - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
            if expect_answer and not ok:
                self.misses += 1
            return ok
        if not expect_answer:
            return False
        with self._cv:
            ok = self._cv.wait_for(lambda: self._answered_stamp >= t - eps, timeout=self.timeout)
        if not ok:
            self.timeouts += 1
            self.misses += 1
        elif self.latencies and self.latencies[-1] > self.tick_dt:
            self.misses += 1
        return ok

    # ---- holding the sim at a sim time ------------------------------------------------------------
    def hold_at(self, t: float) -> None:
        """The sim stops once tick `t` is published and answered, before integrating it (float('inf'): run on)."""
        with self._cv:
            self._hold = t
            self._cv.notify_all()

    def release(self) -> None:
        self.hold_at(float("inf"))

    def pause_point(self, t: float, stopped: Callable[[], bool]) -> None:
        """Sim thread, after tick t was published and answered and before it is integrated: wait
        here while the hold is at or before t."""
        with self._cv:
            while t >= self._hold - EPS and not stopped():
                self._held_at = t
                self._cv.notify_all()
                self._cv.wait(0.05)
            self._held_at = None

    def wait_held(self, t: float, timeout: float) -> bool:
        """Block until the sim waits at (the first tick at or after) sim time t, after hold_at(t)."""
        with self._cv:
            return self._cv.wait_for(lambda: self._held_at is not None and self._held_at >= t - 1e-6, timeout=timeout)

    @property
    def held_at(self) -> float | None:
        with self._cv:
            return self._held_at


def _ns(t: float) -> int:
    """Stamps cross a message as integer nanoseconds; key by those, not by float equality."""
    return int(round(t * 1e9))
