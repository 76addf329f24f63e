"""Rates, latencies and staleness, measured the same way by every node (reported on diagnostics)."""

from __future__ import annotations

from collections import deque

import numpy as np


class RateMeter:
    """Events per second over a sliding window of arrival times."""

    def __init__(self, window: int = 100):
        self._times: deque[float] = deque(maxlen=window)

    def mark(self, t: float) -> None:
        self._times.append(t)

    @property
    def count(self) -> int:
        return len(self._times)

    def rate(self, now: float | None = None, horizon: float | None = None) -> float:
        """Over the whole window; with `now` and `horizon`, over the events of the last `horizon`
        seconds, ending now, so a stream that stopped decays to 0 Hz instead of keeping the rate it
        had when it stopped (what a window of arrival times alone would report)."""
        times = list(self._times)
        if now is not None and horizon is not None:
            times = [t for t in times if now - horizon < t <= now + 1e-9]
        if len(times) < 2:
            return 0.0
        end = times[-1] if now is None else max(now, times[-1])
        return (len(times) - 1) / (end - times[0]) if end > times[0] else 0.0


def percentiles_ms(seconds, ps: tuple[float, ...] = (50, 99)) -> dict[str, float]:
    """p50/p99/max in milliseconds of samples in seconds; NaN when there are none."""
    a = np.asarray(seconds, dtype=np.float64) * 1e3
    if a.size == 0:
        return {f"p{int(p)}_ms": float("nan") for p in ps} | {"max_ms": float("nan")}
    return {f"p{int(p)}_ms": float(np.percentile(a, p)) for p in ps} | {"max_ms": float(a.max())}


class LatencyStats:
    """Keeps the last `window` samples (seconds) and reports percentiles in milliseconds."""

    def __init__(self, window: int = 5000):
        self._samples: deque[float] = deque(maxlen=window)
        self.total = 0

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.total += 1

    def percentiles_ms(self, ps: tuple[float, ...] = (50, 99)) -> dict[str, float]:
        return percentiles_ms(self.samples(), ps)

    def samples(self) -> np.ndarray:
        return np.fromiter(self._samples, dtype=np.float64)
