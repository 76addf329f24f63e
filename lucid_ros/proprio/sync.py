"""Join messages that belong to the same control tick, whatever order they arrive in.

Every sensor message of a tick carries that tick's stamp (the sim bridge and the drivers stamp
joint_states and imu/data together), so joining by stamp — not by arrival — is what guarantees
the policy never mixes this tick's joints with last tick's IMU. Used by the proprioception node
(joint_states + imu), the policy runner (joints + odom + feet) and the safety supervisor
(state + policy target).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from typing import Any


class StampSync:
    """Emits {key: value} once every key has a value whose stamp matches (|Δ| ≤ tolerance).

    The newest pushed value anchors the match; for every other key the closest stamp within the
    tolerance is taken. After a set is emitted, every buffered value at or before it is dropped
    (it can no longer be part of a newer set), and a value arriving later with a stamp at or
    before the last emitted set is dropped on arrival: sets come out in stamp order, never twice.
    Each key buffers at most `depth` values, so a dead input cannot grow memory.
    `dropped` counts discarded values (for diagnostics).
    """

    def __init__(self, keys: Iterable[Hashable], tolerance: float = 0.0, depth: int = 8):
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError("StampSync needs at least one key")
        if not tolerance >= 0:
            raise ValueError(f"tolerance must be >= 0, got {tolerance}")
        self.tolerance = float(tolerance)
        self.depth = int(depth)
        self._buf: dict[Hashable, list[tuple[float, Any]]] = {k: [] for k in self.keys}
        self._last = -math.inf
        self.dropped = 0

    @property
    def last_stamp(self) -> float | None:
        """Stamp of the last emitted set (its newest member), None before the first."""
        return None if self._last == -math.inf else self._last

    def reset(self) -> None:
        """Forget everything (e.g. after a sim reset that sends time backwards)."""
        for b in self._buf.values():
            b.clear()
        self._last = -math.inf

    def push(self, key: Hashable, stamp: float, value: Any) -> dict[Hashable, Any] | None:
        """Add one value; returns the joined set if this value completed one, else None."""
        if key not in self._buf:
            raise KeyError(f"StampSync has no key {key!r} (keys: {list(self.keys)})")
        stamp = float(stamp)
        if not math.isfinite(stamp) or stamp <= self._last:
            self.dropped += 1
            return None
        buf = self._buf[key]
        buf[:] = [e for e in buf if e[0] != stamp]  # a repeated stamp replaces the older value
        entry = (stamp, value)
        buf.append(entry)
        buf.sort(key=lambda e: e[0])
        if len(buf) > self.depth:
            self.dropped += len(buf) - self.depth
            del buf[: len(buf) - self.depth]
            if not any(e is entry for e in buf):  # older than a full buffer of newer values
                return None
        chosen: dict[Hashable, tuple[float, Any]] = {key: entry}
        for k in self.keys:
            if k == key:
                continue
            best = min(self._buf[k], key=lambda e: abs(e[0] - stamp), default=None)
            if best is None or abs(best[0] - stamp) > self.tolerance:
                return None
            chosen[k] = best
        newest = max(s for s, _ in chosen.values())
        for k, b in self._buf.items():
            self.dropped += sum(1 for e in b if e[0] <= newest and e is not chosen[k])
            b[:] = [e for e in b if e[0] > newest]
        self._last = newest
        return {k: chosen[k][1] for k in self.keys}
