"""RealSense device timestamps: checked before a frame is used, then mapped to the graph clock.

A stamp that goes backwards is dropped, one that does not advance is dropped and, after
`stall_frames` intervals, reported as a stall (a frozen camera must look stale to the supervisor);
frame-number gaps are counted. Plain Python: no device needed to test it.
"""

from __future__ import annotations

from dataclasses import dataclass


class ClockMap:
    """Device milliseconds → graph-clock seconds.

    offset = min over frames of (arrival on the graph clock − device time): a frame cannot arrive
    before it was captured, so the smallest difference is the capture-to-arrival floor and
    stamp = device time + offset is never later than arrival. The bound relaxes by `drift` (s/s)
    so a device clock running slower than the host is followed."""

    def __init__(self, drift: float = 1e-4):
        self.drift = drift
        self.offset: float | None = None
        self._last_dev: float | None = None

    def stamp(self, device_ms: float, arrival: float) -> float:
        t = device_ms * 1e-3
        seen = arrival - t
        if self.offset is None or self._last_dev is None:
            self.offset = seen
        else:
            self.offset = min(self.offset + self.drift * max(t - self._last_dev, 0.0), seen)
        self._last_dev = t
        return t + self.offset

    def reset(self) -> None:
        self.offset = self._last_dev = None


@dataclass
class StampCheck:
    """One stream's device timestamps and frame numbers: decides which frames may be used."""

    stream: str
    period_ms: float
    stall_frames: int
    last_ms: float | None = None
    last_number: int | None = None
    advanced_wall: float = 0.0
    backwards: int = 0
    repeated: int = 0
    stalls: int = 0
    frame_gaps: int = 0
    stalled: bool = False

    def check(self, ts_ms: float, number: int, wall: float) -> tuple[bool, str, str]:
        """(use the frame?, kind of anomaly or '', message). Kinds: backwards, repeat, stall, gap."""
        if self.last_ms is None:
            self.last_ms, self.last_number, self.advanced_wall = ts_ms, number, wall
            return True, "", ""
        if ts_ms < self.last_ms:
            self.backwards += 1
            self.last_number = number  # the frame came; only its stamp is wrong (no spurious gap next)
            return False, "backwards", f"{self.stream}: timestamp went backwards {self.last_ms:.3f} -> {ts_ms:.3f} ms (frame dropped)"
        if ts_ms == self.last_ms:
            self.repeated += 1
            if not self.stalled and (wall - self.advanced_wall) * 1e3 > self.stall_frames * self.period_ms:
                self.stalled = True
                self.stalls += 1
                return (
                    False,
                    "stall",
                    f"{self.stream}: timestamp stalled at {ts_ms:.3f} ms for more than {self.stall_frames} frame intervals (frames dropped)",
                )
            return False, "repeat", ""
        self.stalled = False
        self.advanced_wall = wall
        gap = number - (self.last_number if self.last_number is not None else number - 1)
        self.last_ms, self.last_number = ts_ms, number
        if gap != 1:
            self.frame_gaps += 1
            return True, "gap", f"{self.stream}: frame number jumped by {gap} (to {number}): frames lost on the way"
        return True, "", ""
