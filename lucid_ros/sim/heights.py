"""Privileged terrain heights: the top of the course at world (x, y) points, from the course data.

A teacher policy observes terrain heights on a grid around the robot ("scan dots"); training
samples thousands of them per step, so this is numpy over the course's boxes and ground, with no
MuJoCo call. It reads the same concrete Course that build_model assembles (pass the variant:
`randomize(course, seed)`, or `SimRobot.course`), and test/sim/test_heights.py checks it against
MuJoCo's own ray casts on every shipped course.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lucid_ros.mathutil import quat_matrix
from lucid_ros.sim.courses import Course, terrain_heights


@dataclass(frozen=True)
class ScanPattern:
    """Scan-dot offsets in the robot's yaw frame (x forward, y left), metres."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    @property
    def offsets(self) -> np.ndarray:
        """(len(xs) * len(ys), 2), x-major: all ys for the first x, then the next x."""
        gx, gy = np.meshgrid(np.array(self.xs), np.array(self.ys), indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=-1)


def _steps(lo: float, hi: float, step: float) -> tuple[float, ...]:
    return tuple(round(v, 6) for v in np.arange(lo, hi + step / 2, step))


# extreme-parkour's scan dots (legged_gym config: measured_points_x -0.45..1.2, measured_points_y
# -0.75..0.75, step 0.15): 12 x 11 = 132 points, reaching 1.2 m ahead, enough to see the next
# hurdle or gap at parkour speeds, and 0.45 m behind for the hind feet.
DEFAULT_PATTERN = ScanPattern(_steps(-0.45, 1.2, 0.15), _steps(-0.75, 0.75, 0.15))


def scan_points(base_pos: np.ndarray, yaw: np.ndarray | float, pattern: ScanPattern | np.ndarray = DEFAULT_PATTERN) -> np.ndarray:
    """World (x, y) of the pattern's points around the base, rotated by the base yaw only.

    Batched: base_pos (..., 2 or 3) and yaw (...) give (..., N, 2). Yaw only, not roll/pitch: the
    dots sample the ground below the robot, however the body is tilted.
    """
    pos = np.asarray(base_pos, dtype=np.float64)[..., :2]
    yaw = np.asarray(yaw, dtype=np.float64)
    c, s = np.cos(yaw)[..., None], np.sin(yaw)[..., None]
    off = pattern.offsets if isinstance(pattern, ScanPattern) else np.asarray(pattern, dtype=np.float64).reshape(-1, 2)
    x = pos[..., None, 0] + c * off[:, 0] - s * off[:, 1]
    y = pos[..., None, 1] + s * off[:, 0] + c * off[:, 1]
    return np.stack([x, y], axis=-1)


class CourseHeights:
    """Callable height map of one concrete course; build once, query many times."""

    def __init__(self, course: Course) -> None:
        self.course = course
        boxes = course.boxes
        self._rot = np.array([quat_matrix(b.quat) for b in boxes]).reshape(-1, 3, 3)
        self._pos = np.array([b.pos for b in boxes], dtype=np.float64).reshape(-1, 3)
        self._half = np.array([b.size for b in boxes], dtype=np.float64).reshape(-1, 3) / 2
        reach = np.abs(self._rot[:, :2, :]) @ self._half[:, :, None]  # xy half-extent of each box's AABB
        self._lo = self._pos[:, :2] - reach[:, :, 0]
        self._upright = np.abs(self._rot[:, 2, 2]) > 1 - 1e-12  # box z axis is world z: a flat top
        self._hi = self._pos[:, :2] + reach[:, :, 0]
        g = course.ground
        self._grid = None
        if g.kind == "rough":
            h = terrain_heights(g)
            # world.py stores the grid normalised into [lo, lo + span] in float32; reproduce that rounding
            lo, span = float(h.min()), max(float(h.max() - h.min()), 1e-6)
            self._grid = g.z + lo + np.asarray(((h - lo) / span).astype(np.float32), dtype=np.float64) * span

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        """Top height (m) at each (..., 2) point; -inf where nothing is below (off a heightfield)."""
        pts = np.asarray(xy, dtype=np.float64)
        flat = pts.reshape(-1, 2)
        out = self._ground(flat)
        if len(self._pos):
            out = np.maximum(out, self._boxes(flat))
        return out.reshape(pts.shape[:-1])

    def _ground(self, p: np.ndarray) -> np.ndarray:
        g = self.course.ground
        if self._grid is None:
            return np.full(len(p), g.z)  # MuJoCo planes collide everywhere, whatever their drawn size
        nrow, ncol = self._grid.shape
        u = (p[:, 0] - g.center[0] + g.extent[0] / 2) / g.extent[0] * (ncol - 1)
        v = (p[:, 1] - g.center[1] + g.extent[1] / 2) / g.extent[1] * (nrow - 1)
        inside = (u >= 0) & (u <= ncol - 1) & (v >= 0) & (v <= nrow - 1)
        c = np.clip(np.floor(u).astype(np.int64), 0, ncol - 2)
        r = np.clip(np.floor(v).astype(np.int64), 0, nrow - 2)
        fu, fv = np.clip(u - c, 0, 1), np.clip(v - r, 0, 1)
        z00, z10 = self._grid[r, c], self._grid[r, c + 1]
        z01, z11 = self._grid[r + 1, c], self._grid[r + 1, c + 1]
        # MuJoCo splits each cell along its (c, r) -> (c+1, r+1) diagonal into two planar triangles
        lower = fu >= fv
        z = np.where(lower, z00 + fu * (z10 - z00) + fv * (z11 - z10), z00 + fv * (z01 - z00) + fu * (z11 - z01))
        return np.where(inside, z, -np.inf)

    def _boxes(self, p: np.ndarray) -> np.ndarray:
        """Highest point of any box on the vertical line through each point.

        One pass per box over the points in its xy bounding box: courses have tens of boxes and
        training queries thousands of points, so the loop is short and each step is vectorised.
        Upright boxes (only yawed) have a flat top; tilted ones (ramps) take a slab test in the box frame.
        """
        out = np.full(len(p), -np.inf)
        for b in range(len(self._pos)):
            lo, hi = self._lo[b], self._hi[b]
            idx = np.flatnonzero((p[:, 0] >= lo[0]) & (p[:, 0] <= hi[0]) & (p[:, 1] >= lo[1]) & (p[:, 1] <= hi[1]))
            if len(idx) == 0:
                continue
            rot, half = self._rot[b], self._half[b]
            rel = p[idx] - self._pos[b, :2]
            o = rel @ rot[:2, :]  # the line's origin (at world z = 0) in the box frame, up to the z offset below
            o = o - self._pos[b, 2] * rot[2, :]
            if self._upright[b]:
                inside = (np.abs(o[:, 0]) <= half[0]) & (np.abs(o[:, 1]) <= half[1])
                top = np.where(inside, self._pos[b, 2] + half[2], -np.inf)
            else:
                d = rot[2, :]  # world +z in the box frame; a tilted box has no zero component along its tilt
                with np.errstate(divide="ignore", invalid="ignore"):
                    t1, t2 = (-half - o) / d, (half - o) / d
                flat = np.abs(d) < 1e-12
                inside_flat = np.abs(o) <= half
                tlo = np.where(flat, np.where(inside_flat, -np.inf, np.inf), np.minimum(t1, t2)).max(axis=1)
                thi = np.where(flat, np.where(inside_flat, np.inf, -np.inf), np.maximum(t1, t2)).min(axis=1)
                top = np.where(tlo <= thi, thi, -np.inf)  # t is the world z along the line
            out[idx] = np.maximum(out[idx], top)
        return out


@lru_cache(maxsize=64)
def _cached(course: Course) -> CourseHeights:
    return CourseHeights(course)


def course_height(course: Course, xy: np.ndarray) -> np.ndarray:
    """Terrain top height at world points xy (..., 2) on a concrete course -> (...).

    Boxes (rotated ramps included), the plane or heightfield, pits (the floor below the track).
    The course's height map is built once and cached (Course is immutable and hashable).
    """
    return _cached(course)(xy)
