"""What a node's health means, as rules an operator can act on (no rclpy: unit-tested in ms).

Every node keeps one `NodeHealth`: the streams it consumes and produces (rate, age), the work it
does per tick (latency percentiles), and counters of faults. `evaluate(now)` turns those into one
level (OK / WARN / ERROR), a message that says what is wrong and what to check, and the key/values
the node publishes on `diagnostics`. The thresholds are data (`Rules`), so the same rules hold for
every node and docs/diagnostics.md can state them once.

Times are graph-clock seconds (sim time in sim, wall time on a robot) for rates and ages, and wall
seconds for processing latencies, which measure the computer, not the world.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from lucid_ros.health import LatencyStats, RateMeter

OK, WARN, ERROR = "OK", "WARN", "ERROR"
_RANK = {OK: 0, WARN: 1, ERROR: 2}
# A latency of exactly its budget is within it: the sim's graph clock moves in whole ticks, so "one
# tick late" arrives as 20 ms plus float noise, not as a miss.
BUDGET_SLACK_MS = 1e-6


@dataclass(frozen=True)
class Rules:
    """The thresholds. A rate is judged only once a stream had `rate_settle_s` to fill its window;
    a stream that never appeared counts as missing only after `startup_grace_s` (bring-up)."""

    rate_warn_fraction: float = 0.8  # measured rate below this fraction of the expected rate -> WARN
    rate_horizon_s: float = 2.0  # rates count the events of the last horizon seconds only
    rate_settle_s: float = 1.0
    startup_grace_s: float = 2.0
    latency_quantile: str = "p99_ms"  # compared with a latency's budget


@dataclass(frozen=True)
class Problem:
    level: str
    text: str


@dataclass(frozen=True)
class Report:
    level: str
    message: str
    values: dict[str, Any]
    problems: tuple[Problem, ...] = ()


def worst(levels) -> str:
    return max(levels, key=_RANK.__getitem__, default=OK)


@dataclass
class Stream:
    """A topic (or in-process feed) a node consumes (`kind` 'in') or produces ('out')."""

    name: str
    kind: str
    expected_hz: float | None
    timeout_s: float | None
    hint: str
    required: bool
    rate: RateMeter
    first: float | None = None
    last: float | None = None

    def mark(self, t: float) -> None:
        if self.first is None:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t
        self.rate.mark(t)


@dataclass
class Fault:
    """A counter; each increase since the previous report raises the level to `level`."""

    name: str
    level: str
    hint: str
    count: int = 0
    reported: int = 0


@dataclass
class Latency:
    name: str
    budget_s: float | None
    hint: str
    stats: LatencyStats = field(default_factory=lambda: LatencyStats(window=500))


class NodeHealth:
    """Thread-safe: the sim bridge marks from its stepping thread while a timer reports."""

    def __init__(self, node: str, started: float, rules: Rules | None = None):
        self.node = node
        self.started = started
        self.rules = rules or Rules()
        self.streams: dict[str, Stream] = {}
        self.faults: dict[str, Fault] = {}
        self.latencies: dict[str, Latency] = {}
        self._lock = threading.Lock()

    # ---- declaring what the node is judged by --------------------------------------------------
    def input(self, name: str, expected_hz: float | None, timeout_s: float | None, hint: str, required: bool = True) -> None:
        self.streams[name] = Stream(name, "in", expected_hz, timeout_s, hint, required, RateMeter(window=4096))

    def output(self, name: str, expected_hz: float | None, hint: str, required: bool = True) -> None:
        self.streams[name] = Stream(name, "out", expected_hz, None, hint, required, RateMeter(window=4096))

    def fault(self, name: str, level: str, hint: str) -> None:
        if level not in (WARN, ERROR):
            raise ValueError(f"fault '{name}': level must be WARN or ERROR, got {level!r}")
        self.faults[name] = Fault(name, level, hint)

    def latency(self, name: str, budget_s: float | None, hint: str) -> None:
        self.latencies[name] = Latency(name, budget_s, hint)

    def require(self, name: str, required: bool) -> None:
        """Whether silence on this stream matters now (e.g. policy targets only while RUNNING)."""
        self.streams[name].required = required

    # ---- measurements --------------------------------------------------------------------------
    def seen(self, name: str, t: float) -> None:
        with self._lock:
            self.streams[name].mark(t)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.faults[name].count += n

    def set_count(self, name: str, total: int) -> None:
        """For counters another object keeps (the lockstep's misses, the recorder's drops)."""
        with self._lock:
            self.faults[name].count = int(total)

    def took(self, name: str, seconds: float) -> None:
        with self._lock:
            self.latencies[name].stats.add(seconds)

    def stream_age(self, name: str, now: float) -> float | None:
        s = self.streams[name]
        return None if s.last is None else now - s.last

    # ---- the rules -----------------------------------------------------------------------------
    def evaluate(self, now: float, extra: tuple[Problem, ...] | list[Problem] = (), ok_message: str = "ok",
                 values: dict[str, Any] | None = None) -> Report:
        """Level, message and values for this report. `extra` carries node-specific problems (a
        safety trip, a refused policy); `values` node-specific values, listed first."""
        with self._lock:
            out: dict[str, Any] = dict(values or {})
            problems = list(extra)
            judged = {s.name: self._judge_stream(s, now, out) for s in self.streams.values()}
            inputs_bad = any(judged[s.name] for s in self.streams.values() if s.kind == "in")
            for s in self.streams.values():  # a slow output with a bad input is the input's fault: name only the input
                if s.kind == "in" or not inputs_bad:
                    problems += judged[s.name]
            for f in self.faults.values():
                out[f.name] = f.count
                new = f.count - f.reported
                if new > 0:
                    problems.append(Problem(f.level, f"{f.name}: {new} new ({f.count} total): {f.hint}"))
                f.reported = f.count
            for lat in self.latencies.values():
                pct = lat.stats.percentiles_ms()
                out |= {f"{lat.name}_{k}": v for k, v in pct.items()}
                if lat.budget_s is not None:
                    out[f"{lat.name}_budget_ms"] = lat.budget_s * 1e3
                    q = pct[self.rules.latency_quantile]
                    if q > lat.budget_s * 1e3 + BUDGET_SLACK_MS:  # NaN (no samples yet) compares False
                        problems.append(Problem(WARN, f"{lat.name} {self.rules.latency_quantile[:-3]} {q:.1f} ms > budget "
                                                      f"{lat.budget_s * 1e3:.1f} ms: {lat.hint}"))
        problems.sort(key=lambda p: -_RANK[p.level])
        level = worst(p.level for p in problems)
        message = "; ".join(p.text for p in problems) if problems else ok_message
        return Report(level, message, out, tuple(problems))

    def _judge_stream(self, s: Stream, now: float, out: dict[str, Any]) -> list[Problem]:
        r = self.rules
        rate = s.rate.rate(now, r.rate_horizon_s)
        out[f"{s.name}_rate_hz"] = rate
        if s.expected_hz is not None:
            out[f"{s.name}_expected_hz"] = s.expected_hz
        expected = f" (expected {s.expected_hz:g})" if s.expected_hz is not None else ""
        if s.kind == "in":
            age = None if s.last is None else now - s.last
            out[f"{s.name}_age_s"] = "never" if age is None else age
            if s.timeout_s is not None:
                out[f"{s.name}_timeout_s"] = s.timeout_s
        if not s.required:
            return []
        if s.last is None:
            if now - self.started >= r.startup_grace_s:
                level = ERROR if s.kind == "in" else WARN
                verb = "nothing received" if s.kind == "in" else "nothing published"
                return [Problem(level, f"{s.name}: {verb} in {now - self.started:.1f} s{expected}: {s.hint}")]
            return []
        if s.kind == "in" and s.timeout_s is not None and not (now - s.last) <= s.timeout_s:
            return [Problem(ERROR, f"{s.name} stale: last {now - s.last:.2f} s ago (timeout {s.timeout_s:g} s), "
                                   f"{rate:.0f} Hz{expected}: {s.hint}")]
        settled = now - s.first >= r.rate_settle_s
        if s.expected_hz is not None and settled and rate < r.rate_warn_fraction * s.expected_hz:
            return [Problem(WARN, f"{s.name} {rate:.0f} Hz{expected}: {s.hint}")]
        return []


def capture_to_action(publish_time: float, capture_stamps) -> float:
    """Seconds from the capture of the oldest image the action was computed from to the action.

    Each image input's tensor carries the capture stamp of its newest frame; with several inputs
    the one the robot saw longest ago bounds how stale its view was."""
    stamps = [float(s) for s in capture_stamps]
    if not stamps:
        raise ValueError("capture_to_action needs at least one capture stamp")
    if not all(math.isfinite(s) for s in stamps):
        raise ValueError(f"non-finite capture stamp in {stamps}")
    return publish_time - min(stamps)
