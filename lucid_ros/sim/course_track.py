"""The track: typed segments (platform, hurdles, blocks, stairs, ramps) laid one after another along +x.

A course with a `track` gets its boxes, obstacles, waypoints and goal from here (lay_track), from
a few named numbers per segment. SEGMENT_PARAMS is the one table of those numbers: the loader
parses a segment against it, and check_value holds a written number and both ends of its variant
range to the same bound. A box-only course gets its obstacles from its boxes' footprints
(box_obstacle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.mathutil import quat_matrix, rpy_to_quat
from lucid_ros.sim.course_types import BOX_RGBA, Box, Course, Obstacle, Segment

# Each segment starts where the previous one ended, at the level (top height) the previous one left;
# the level starts at z = 0. Boxes reach down to the floor (ground.z), so with a floor below 0 every
# space between boxes is a pit. Parameters: (type, lower bound, strict, default); None = required.
TRACK_PREFIX = "track_"
SEGMENT_PARAMS: dict[str, dict[str, tuple[str, float | None, bool, object]]] = {
    "platform": {"length": ("f", 0.0, True, None), "width": ("f", 0.0, True, 2.0), "level": ("f", None, False, "keep")},
    "hurdles": {
        "count": ("i", 1, False, None), "spacing": ("f", 0.0, True, None), "depth": ("f", 0.0, True, None),
        "width": ("f", 0.0, True, None), "height": ("f", 0.0, True, None), "lateral": ("f", 0.0, False, 0.0),
    },
    "blocks": {
        "count": ("i", 1, False, None), "depth": ("f", 0.0, True, None), "width": ("f", 0.0, True, None),
        "gap": ("f", 0.0, False, None), "lateral": ("f", 0.0, False, 0.0),
    },
    "stairs": {
        "count": ("i", 1, False, None), "riser": ("f", 0.0, True, None), "tread": ("f", 0.0, True, None),
        "width": ("f", 0.0, True, None), "direction": ("s", None, False, "up"),
    },
    "ramps": {
        "count": ("i", 1, False, None), "length": ("f", 0.0, True, None), "width": ("f", 0.0, True, None),
        "angle": ("f", 0.0, True, None), "stagger": ("f", 0.0, False, 0.0), "gap": ("f", 0.0, False, 0.0),
    },
}  # fmt: skip
_MAX_RAMP_ANGLE = 1.2  # rad; steeper is a wall, not a ramp


@dataclass(frozen=True)
class _Laid:
    boxes: tuple[Box, ...]
    obstacles: tuple[Obstacle, ...]
    end_x: float


def variable_params(kind: str) -> list[str]:
    return [k for k, spec in SEGMENT_PARAMS[kind].items() if spec[0] != "s"]


def is_int(kind: str, param: str) -> bool:
    return SEGMENT_PARAMS[kind][param][0] == "i"


def check_value(kind: str, param: str, value: float, path: object, field: str) -> None:
    """The same bound for a written number and for both ends of its variant range."""
    _, lo, strict, _ = SEGMENT_PARAMS[kind][param]
    if lo is not None and (value <= lo if strict else value < lo):
        raise ConfigError(path, field, f"must be {'>' if strict else '>='} {lo}, got {value}")
    if kind == "ramps" and param == "angle" and value > _MAX_RAMP_ANGLE:
        raise ConfigError(path, field, f"must be <= {_MAX_RAMP_ANGLE} rad, got {value}")


def lay(segments: tuple[Segment, ...], values: dict, start_x: float, floor: float, rng: np.random.Generator | None, source: object) -> _Laid:
    """Boxes and obstacles of the track; `values` overrides (segment, parameter) numbers."""
    x, level = float(start_x), 0.0
    boxes: list[Box] = []
    obstacles: list[Obstacle] = []

    def box(name: str, x0: float, x1: float, y: float, width: float, top: float, bottom: float = floor, quat=(1.0, 0.0, 0.0, 0.0)) -> None:
        if top > bottom + 1e-6 and x1 > x0 + 1e-9:
            pos = (0.5 * (x0 + x1), y, 0.5 * (top + bottom))
            boxes.append(Box(TRACK_PREFIX + name, pos, (x1 - x0, width, top - bottom), quat, BOX_RGBA))

    def jitter(lateral: float) -> float:
        return float(rng.uniform(-lateral, lateral)) if rng is not None and lateral > 0 else 0.0

    for seg in segments:
        p = {k: seg.get(k, values) for k in SEGMENT_PARAMS[seg.kind]}
        where = f"track.segments ('{seg.name}')"
        n = int(p.get("count") or 0)
        if seg.kind == "platform":
            if p["level"] is not None:
                level = float(p["level"])
            box(seg.name, x, x + p["length"], 0.0, p["width"], level)
            x += p["length"]
        elif seg.kind == "hurdles":
            first = x
            for k in range(n):
                cx, cy = x + p["spacing"] * (k + 1), jitter(p["lateral"])
                x0, x1 = cx - p["depth"] / 2, cx + p["depth"] / 2
                box(f"{seg.name}_{k}", x0, x1, cy, p["width"], level + p["height"], bottom=level)
                obstacles.append(Obstacle(f"{seg.name}_{k}", x0, x1, cy - p["width"] / 2, cy + p["width"] / 2))
            x = obstacles[-1].x1
            box(f"{seg.name}_deck", first, x, 0.0, max(p["width"], 2.0), level)
        elif seg.kind == "blocks":
            if level <= floor + 1e-6:
                raise ConfigError(source, where, f"stepping blocks need a pit: ground.z ({floor}) must be below the track level ({level})")
            half = p["width"] / 2 + p["lateral"]
            for k in range(n + 1):  # n blocks, n + 1 gaps (the last one before the next segment): the gaps are the obstacles
                g0 = x + k * (p["depth"] + p["gap"])
                obstacles.append(Obstacle(f"{seg.name}_gap_{k}", g0, g0 + p["gap"], -half, half))
                if k < n:
                    box(f"{seg.name}_{k}", g0 + p["gap"], g0 + p["gap"] + p["depth"], jitter(p["lateral"]), p["width"], level)
            x = obstacles[-1].x1
        elif seg.kind == "stairs":
            sign = 1.0 if p["direction"] == "up" else -1.0
            for k in range(n):
                xr = x + k * p["tread"]
                if k < n - 1:
                    box(f"{seg.name}_{k}", xr, xr + p["tread"], 0.0, p["width"], level + sign * (k + 1) * p["riser"])
                obstacles.append(Obstacle(f"{seg.name}_riser_{k}", xr, xr, -p["width"] / 2, p["width"] / 2))
            level += sign * n * p["riser"]
            if level < floor - 1e-9:
                raise ConfigError(source, where, f"the stairs end at z={level:.3f}, below the floor ground.z={floor}")
            x += (n - 1) * p["tread"]
        elif seg.kind == "ramps":
            for k in range(n):
                x0 = x + p["gap"] + k * (p["length"] + p["gap"])
                sign = 1.0 if k % 2 == 0 else -1.0
                phi, yc, w = sign * p["angle"], sign * p["stagger"], p["width"]
                # a box rolled so its outer edge is high; its top face is centred at (yc, level), its body reaches the floor
                h = (level - floor + 0.5 * w * math.sin(abs(phi))) / math.cos(phi) + 0.05
                cy, cz = yc + 0.5 * h * math.sin(phi), level - 0.5 * h * math.cos(phi)
                quat = tuple(float(v) for v in rpy_to_quat(np.array([phi, 0.0, 0.0])))
                box(f"{seg.name}_{k}", x0, x0 + p["length"], cy, w, cz + h / 2, bottom=cz - h / 2, quat=quat)
                half_y = 0.5 * w * math.cos(phi)
                obstacles.append(Obstacle(f"{seg.name}_{k}", x0, x0 + p["length"], yc - half_y, yc + half_y))
            x = obstacles[-1].x1
    return _Laid(tuple(boxes), tuple(obstacles), x)


def lay_track(course: Course, values: dict, rng: np.random.Generator | None) -> Course:
    """Boxes, obstacles, waypoints and goal from the segments (with `values` overriding numbers)."""
    laid = lay(course.segments, values, course.track_start_x, course.ground.z, rng, course.source)
    if not laid.obstacles:
        raise ConfigError(course.source, "track.segments", "a track needs at least one obstacle segment (hurdles, blocks, stairs or ramps)")
    goal = max(o.x1 for o in laid.obstacles) + course.goal_after
    if goal > laid.end_x + 1e-9:
        raise ConfigError(course.source, "track.goal_after", f"goal x={goal:.3f} lies beyond the end of the track ({laid.end_x:.3f}); add a platform")
    extra = [b for b in course.boxes if not b.name.startswith(TRACK_PREFIX)]
    names = {b.name for b in extra}
    clash = next((b.name for b in laid.boxes if b.name in names), None)
    if clash is not None:
        raise ConfigError(course.source, "boxes", f"box name '{clash}' is also generated by the track")
    waypoints = tuple((0.5 * (o.x0 + o.x1), 0.5 * (o.y0 + o.y1)) for o in laid.obstacles) + ((goal, 0.0),)
    return replace(course, boxes=tuple(extra) + laid.boxes, obstacles=laid.obstacles, waypoints=waypoints, goal_x=goal)


def box_obstacle(b: Box) -> Obstacle:
    """Axis-aligned footprint of a (possibly rotated) box, for progress along a box-only course."""
    rot = quat_matrix(b.quat)
    half = np.abs(rot) @ (np.array(b.size) / 2)
    return Obstacle(b.name, b.pos[0] - half[0], b.pos[0] + half[0], b.pos[1] - half[1], b.pos[1] + half[1])
