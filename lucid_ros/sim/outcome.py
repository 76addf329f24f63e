"""Did a run cross the course? One definition for success-rate tables, evaluation and rewards.

A run succeeds when the base crosses every obstacle (passes its far edge, within its width) and
reaches the course's goal_x without falling. The first event decides: a fall, or reaching the
goal. A run that ends undecided is `stuck` if it made no new progress in its last
`stuck_window_s`, else `timed_out`. Reaching the goal after going around an obstacle is `bypassed`,
a failure: a hurdle course walked around is not a hurdle course crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lucid_ros.sim.courses import Course
from lucid_ros.sim.heights import course_height

STATUSES = ("succeeded", "fell", "stuck", "timed_out", "bypassed")


@dataclass(frozen=True)
class Criteria:
    """Thresholds; the defaults suit legged robots generally (tilt, pit, caller's fall signal)."""

    max_tilt: float = 1.0  # rad between the body's up axis and world up; beyond it the robot is down
    # m of base above the terrain right under it; off by default: a base clearing a hurdle top by a few
    # cm is a jump, not a fall. Set it for robots whose lying height is known (a Go1 lying: ~0.09 m).
    min_base_height: float | None = None
    stuck_window_s: float = 5.0
    stuck_distance_m: float = 0.2
    corridor_margin_m: float = 0.3  # how far beside an obstacle's footprint still counts as crossing it


@dataclass(frozen=True)
class Outcome:
    status: str
    time_s: float  # when it was decided (the last sample if the run ended undecided)
    distance_m: float  # furthest progress along x from the first sample, until the decision
    obstacles_crossed: int
    obstacles_total: int
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def fraction_crossed(self) -> float:
        return self.obstacles_crossed / self.obstacles_total if self.obstacles_total else 1.0


def obstacles_crossed(course: Course, x: np.ndarray) -> np.ndarray:
    """How many obstacles lie wholly behind base x (vectorised; a dense progress term for rewards)."""
    far = np.sort(np.array([o.x1 for o in course.obstacles], dtype=np.float64))
    return np.searchsorted(far, np.asarray(x, dtype=np.float64), side="left")


def judge(
    course: Course, t: np.ndarray, pos: np.ndarray, quat: np.ndarray | None = None, fell: np.ndarray | None = None,
    criteria: Criteria = Criteria(),
) -> Outcome:  # fmt: skip
    """Outcome of one run from its base trajectory: t (T,), pos (T, 3) world, quat (T, 4) (w, x, y, z).

    `course` must be the concrete variant the run used (randomize(course, seed)); `fell` (T,) lets
    a caller add its own fall signal (e.g. the safety supervisor tripping).
    """
    t, pos = np.asarray(t, dtype=np.float64), np.asarray(pos, dtype=np.float64)
    if t.ndim != 1 or len(t) == 0 or pos.shape != (len(t), 3):
        raise ValueError(f"expected t (T,) and pos (T, 3) with T >= 1, got {t.shape} and {pos.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(pos))):
        raise ValueError("trajectory has non-finite times or positions")
    if np.any(np.diff(t) < 0):
        raise ValueError("trajectory times go backwards")
    down, why = _fallen(course, pos, quat, fell, criteria)
    obstacles = sorted(course.obstacles, key=lambda o: o.x1)
    m = criteria.corridor_margin_m
    k, best, bypassed = 0, pos[0, 0], ""
    for i in range(len(t)):
        if down[i]:
            return Outcome("fell", float(t[i]), float(best - pos[0, 0]), k, len(obstacles), why[i])
        x, y = pos[i, 0], pos[i, 1]
        best = max(best, x)
        while k < len(obstacles) and x > obstacles[k].x1:
            o = obstacles[k]
            if not bypassed and not (o.y0 - m <= y <= o.y1 + m):
                bypassed = f"passed {o.name} at y={y:+.2f} m, beside its footprint y in [{o.y0:+.2f}, {o.y1:+.2f}]"
            k += 1
        if course.goal_x is not None and x >= course.goal_x and k == len(obstacles):
            status = "bypassed" if bypassed else "succeeded"
            return Outcome(status, float(t[i]), float(best - pos[0, 0]), k, len(obstacles), bypassed or f"reached goal x={course.goal_x:.2f}")
    recent = t >= t[-1] - criteria.stuck_window_s
    before = pos[~recent, 0]
    if t[-1] - t[0] >= criteria.stuck_window_s and len(before):
        gained = pos[recent, 0].max() - max(before.max(), pos[0, 0])
        if gained < criteria.stuck_distance_m:
            reason = f"{gained:+.2f} m of new progress in the last {criteria.stuck_window_s:g} s"
            return Outcome("stuck", float(t[-1]), float(best - pos[0, 0]), k, len(obstacles), reason)
    return Outcome("timed_out", float(t[-1]), float(best - pos[0, 0]), k, len(obstacles), "the run ended before the goal")


def _fallen(course: Course, pos: np.ndarray, quat: np.ndarray | None, fell: np.ndarray | None, c: Criteria) -> tuple[np.ndarray, list[str]]:
    n = len(pos)
    down = np.zeros(n, dtype=bool)
    why = [""] * n

    def mark(mask: np.ndarray, text: str) -> None:
        for i in np.flatnonzero(mask & ~down):
            why[i] = text
        down[:] |= mask

    if fell is not None:
        mark(np.asarray(fell, dtype=bool).reshape(n), "fell (caller's signal)")
    if course.fall_z is not None:
        mark(pos[:, 2] < course.fall_z, f"base below fall_z={course.fall_z} (in a pit)")
    if quat is not None:
        q = np.asarray(quat, dtype=np.float64).reshape(n, 4)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        up_z = 1.0 - 2.0 * (q[:, 1] ** 2 + q[:, 2] ** 2)  # world z of the body z axis
        mark(np.arccos(np.clip(up_z, -1.0, 1.0)) > c.max_tilt, f"tilted more than {c.max_tilt} rad")
    if c.min_base_height is not None:
        clearance = pos[:, 2] - course_height(course, pos[:, :2])
        mark(clearance < c.min_base_height, f"base less than {c.min_base_height} m above the terrain")
    return down, why
