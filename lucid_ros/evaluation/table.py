"""Per-course success rates, from episode outcomes (lucid_ros.sim.outcome.judge), as a table.

One row per course, one column per policy, each cell "rate (successes/N)". The table a person
reads is markdown (paste it into a README or an issue); the same numbers go to JSON for scripts.
Rates carry a 95 % Wilson interval in the JSON: with N = 30 a 50 % rate is only known to about
±17 points, which a reader comparing two policies should see.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Episode:
    policy: str
    course: str
    seed: int
    status: str  # lucid_ros.sim.outcome.STATUSES, or "tripped" (the safety supervisor damped the robot)
    reason: str
    time_s: float  # sim seconds from RUNNING to the decision
    distance_m: float
    obstacles_crossed: int
    obstacles_total: int
    wall_s: float
    camera_latency_ms: float = 0.0
    difficulty_key: str = ""  # the variant's difficulty number (sim.courses.DIFFICULTY), e.g. "hurdles.height"
    difficulty: float | None = None
    trajectory_sha256: str | None = None  # lockstep: sha256 of every tick's qpos/qvel (same seed, same hash)
    ticks_hashed: int = 0
    lockstep_timeouts: int = 0  # ticks the sim integrated without their answer: the run is then not repeatable
    crossings: tuple[dict, ...] = ()  # per obstacle reached: how it was crossed (evaluation.jumps.Crossing as a dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate (sane at 0 and N successes, unlike p ± z·se)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Cell:
    policy: str
    course: str
    n: int
    successes: int
    statuses: dict[str, int]
    mean_crossed: float  # mean fraction of obstacles crossed (progress even where runs fail)

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else float("nan")


def cells(episodes: list[Episode]) -> dict[tuple[str, str], Cell]:
    groups: dict[tuple[str, str], list[Episode]] = defaultdict(list)
    for e in episodes:
        groups[(e.course, e.policy)].append(e)
    out = {}
    for (course, policy), eps in groups.items():
        statuses: dict[str, int] = defaultdict(int)
        for e in eps:
            statuses[e.status] += 1
        crossed = [e.obstacles_crossed / e.obstacles_total if e.obstacles_total else 1.0 for e in eps]
        out[(course, policy)] = Cell(policy, course, len(eps), sum(e.succeeded for e in eps), dict(statuses), sum(crossed) / len(crossed))
    return out


def markdown(episodes: list[Episode], courses: list[str], policies: list[str]) -> str:
    """| course | policy A | policy B | … with "rate (k/N)" cells; '—' where nothing ran."""
    table = cells(episodes)
    lines = ["| course | " + " | ".join(policies) + " |", "|---|" + "---|" * len(policies)]
    for c in courses:
        row = []
        for p in policies:
            cell = table.get((c, p))
            row.append("—" if cell is None else f"{100 * cell.rate:.0f}% ({cell.successes}/{cell.n})")
        lines.append(f"| {c} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def failures(episodes: list[Episode], courses: list[str], policies: list[str]) -> str:
    """How the runs that did not succeed ended, per cell: what to look at next."""
    table = cells(episodes)
    lines = []
    for c in courses:
        for p in policies:
            cell = table.get((c, p))
            if cell is None or cell.successes == cell.n:
                continue
            how = ", ".join(f"{k} {v}" for k, v in sorted(cell.statuses.items()) if k != "succeeded")
            lines.append(f"{c} / {p}: {how}; mean obstacles crossed {100 * cell.mean_crossed:.0f}%")
    return "\n".join(lines)


def by_difficulty(episodes: list[Episode], courses: list[str], policies: list[str], bins: int = 4) -> str:
    """Per course with a difficulty number, successes/runs per policy in `bins` equal-width bins of
    the drawn values: where a policy stops coping (a 47 % hurdle rate is "every hurdle up to about
    0.2 m", not "half of everything")."""
    out = []
    for c in courses:
        eps = [e for e in episodes if e.course == c and e.difficulty is not None]
        if not eps:
            continue
        key = eps[0].difficulty_key
        edges, which = difficulty_bins([e.difficulty for e in eps], bins)
        lines = [f"{c} by {key} (successes/runs)", "", f"| {key} | " + " | ".join(policies) + " |", "|---|" + "---|" * len(policies)]
        for b in range(len(edges) - 1):
            row = []
            for p in policies:
                mine = [e for e, k in zip(eps, which, strict=True) if k == b and e.policy == p]
                row.append(f"{sum(e.succeeded for e in mine)}/{len(mine)}" if mine else "—")
            lines.append(f"| {edges[b]:.3g}–{edges[b + 1]:.3g} | " + " | ".join(row) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def difficulty_bins(values, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """`bins` equal-width bins over the drawn values: (edges, the bin of each value); the top value
    falls in the last bin, and one repeated value is one bin."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.linspace(values.min(), values.max(), bins + 1) if np.ptp(values) > 0 else np.array([values.min()] * 2)
    return edges, np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def to_json(episodes: list[Episode]) -> dict:
    table = cells(episodes)
    summary = []
    for (course, policy), cell in sorted(table.items()):
        lo, hi = wilson(cell.successes, cell.n)
        summary.append(
            {"course": course, "policy": policy, "n": cell.n, "successes": cell.successes, "rate": cell.rate, "ci95": [lo, hi],
             "statuses": cell.statuses, "mean_obstacles_crossed": cell.mean_crossed}
        )  # fmt: skip
    return {"cells": summary, "episodes": [asdict(e) for e in episodes]}
