"""Courses are data: config/courses/<name>.yaml describes the ground and the obstacles.

The file format is documented at the top of config/courses/flat.yaml. Obstacles are generic
boxes (hurdles, stepping blocks, stairs, ramps are all boxes), so a new course touches no Python.
Every field goes through `Fields`, so a bad course names its file and field before MuJoCo sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields
from lucid_ros.mathutil import rpy_to_quat

GROUND_KINDS = ("plane", "rough")
_TOP_KEYS = {"name", "description", "friction", "ground", "boxes", "spawn", "waypoints", "goal_x"}
_GROUND_KEYS = {"type", "extent", "center", "amplitude", "cell", "seed", "rgba"}
_BOX_KEYS = {"name", "pos", "size", "euler", "quat", "rgba"}
_SPAWN_KEYS = {"xy", "yaw"}
_GROUND_RGBA = (0.35, 0.38, 0.42, 1.0)
_BOX_RGBA = (0.6, 0.55, 0.5, 1.0)


@dataclass(frozen=True)
class Ground:
    """The floor. 'rough' is a seeded heightfield, heights uniform in [-amplitude, +amplitude]."""

    kind: str
    extent: tuple[float, float]  # full size along x, y (m)
    center: tuple[float, float]
    amplitude: float = 0.0
    cell: float = 0.1  # heightfield grid spacing (m)
    seed: int = 0
    rgba: tuple[float, float, float, float] = _GROUND_RGBA


@dataclass(frozen=True)
class Box:
    """A static box. `size` is full edge lengths (not MuJoCo half-sizes); `quat` is (w, x, y, z)."""

    name: str
    pos: tuple[float, float, float]
    size: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class Course:
    name: str
    source: Path | None
    friction: float
    ground: Ground
    boxes: tuple[Box, ...] = ()
    spawn_xy: tuple[float, float] = (0.0, 0.0)
    spawn_yaw: float = 0.0
    waypoints: tuple[tuple[float, float], ...] = ()
    goal_x: float | None = None


def load_course(name_or_path: str | Path) -> Course:
    """Load and validate a course; raises ConfigError naming the file and the field."""
    path = paths.resolve("courses", name_or_path)
    if not path.is_file():
        known = ", ".join(paths.available("courses")) or "none"
        raise ConfigError(path, None, f"no such course (known courses: {known})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"not valid YAML: {exc}") from exc
    return parse_course(raw, path)


def parse_course(raw: object, path: str | Path | None) -> Course:
    """Validate an already-parsed course mapping (tests and tools build courses in memory)."""
    f = Fields(raw, path)
    _no_unknown(f, _TOP_KEYS)
    spawn = f.sub("spawn") if f.has("spawn") else Fields({}, path, "spawn")
    _no_unknown(spawn, _SPAWN_KEYS)
    goal = f.raw("goal_x", None)
    return Course(
        name=f.str("name"),
        source=Path(path) if path is not None else None,
        friction=f.float("friction", lo=0, strict=True),
        ground=_ground(f.sub("ground")),
        boxes=_boxes(f),
        spawn_xy=_pair(spawn, "xy", (0.0, 0.0)),
        spawn_yaw=spawn.float("yaw", default=0.0),
        waypoints=_waypoints(f),
        goal_x=None if goal is None else f.float("goal_x"),
    )


def randomize(course: Course, seed: int) -> Course:
    """A seeded variant of `course`; seed 0 is the course exactly as written.

    Today only the rough ground varies (the seed picks the terrain); boxes are kept, so a
    course's obstacles stay where its waypoints expect them.
    """
    if seed == 0 or course.ground.kind != "rough":
        return course
    mixed = int(np.random.SeedSequence([course.ground.seed, int(seed)]).generate_state(1)[0])
    return replace(course, ground=replace(course.ground, seed=mixed))


def terrain_heights(ground: Ground) -> np.ndarray:
    """Heights (nrow along y, ncol along x) of a rough ground at its grid points, in metres.

    Deterministic in ground.seed, so the sim bridge, training and a test all see the same terrain.
    """
    ncol = int(round(ground.extent[0] / ground.cell)) + 1
    nrow = int(round(ground.extent[1] / ground.cell)) + 1
    rng = np.random.default_rng(ground.seed)
    return rng.uniform(-ground.amplitude, ground.amplitude, size=(nrow, ncol))


def _ground(g: Fields) -> Ground:
    _no_unknown(g, _GROUND_KEYS)
    kind = g.choice("type", GROUND_KINDS)
    ex, ey = _pair(g, "extent", (40.0, 40.0))
    if ex <= 0 or ey <= 0:
        raise g.error("extent", f"must be positive, got {[ex, ey]}")
    rgba = g.float_list("rgba", length=4, default=list(_GROUND_RGBA))
    if kind == "plane":
        for key in ("amplitude", "cell", "seed"):
            if g.has(key):
                raise g.error(key, "only used by type 'rough'")
        return Ground(kind, (ex, ey), _pair(g, "center", (0.0, 0.0)), rgba=_rgba(g, rgba))
    cell = g.float("cell", lo=0, strict=True)
    if ex / cell > 2000 or ey / cell > 2000:
        raise g.error("cell", f"{cell} m gives more than 2000 cells along extent {[ex, ey]}")
    return Ground(
        kind,
        (ex, ey),
        _pair(g, "center", (0.0, 0.0)),
        amplitude=g.float("amplitude", lo=0, strict=True),
        cell=cell,
        seed=g.int("seed", lo=0, default=0),
        rgba=_rgba(g, rgba),
    )


def _boxes(f: Fields) -> tuple[Box, ...]:
    boxes = [_box(bf, i) for i, bf in enumerate(f.list("boxes", required=False))]
    seen: set[str] = set()
    for i, b in enumerate(boxes):
        if b.name in seen:
            raise ConfigError(f.path, f"boxes[{i}].name", f"duplicate box name '{b.name}'")
        seen.add(b.name)
    return tuple(boxes)


def _box(b: Fields, i: int) -> Box:
    _no_unknown(b, _BOX_KEYS)
    size = b.float_list("size", length=3)
    if min(size) <= 0:
        raise b.error("size", f"edge lengths must be positive, got {size}")
    if b.has("euler") and b.has("quat"):
        raise b.error("quat", "give either euler or quat, not both")
    if b.has("quat"):
        q = np.array(b.float_list("quat", length=4))
        norm = float(np.linalg.norm(q))
        if norm < 1e-9:
            raise b.error("quat", "must not be all zeros")
        q = q / norm
    else:
        q = rpy_to_quat(np.array(b.float_list("euler", length=3, default=[0.0, 0.0, 0.0])))
    rgba = b.float_list("rgba", length=4, default=list(_BOX_RGBA))
    return Box(
        name=b.str("name", default=f"box_{i}"),
        pos=tuple(b.float_list("pos", length=3)),
        size=tuple(size),
        quat=tuple(float(v) for v in q),
        rgba=_rgba(b, rgba),
    )


def _waypoints(f: Fields) -> tuple[tuple[float, float], ...]:
    value = f.raw("waypoints", [])
    if not isinstance(value, list):
        raise f.error("waypoints", f"expected a list of [x, y] pairs, got {value!r}")
    out = []
    for i, v in enumerate(value):
        ok = isinstance(v, list) and len(v) == 2
        ok = ok and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in v)
        if not ok:
            raise ConfigError(f.path, f"waypoints[{i}]", f"expected [x, y] (two numbers), got {v!r}")
        out.append((float(v[0]), float(v[1])))
    return tuple(out)


def _pair(f: Fields, key: str, default: tuple[float, float]) -> tuple[float, float]:
    x, y = f.float_list(key, length=2, default=list(default))
    return (x, y)


def _rgba(f: Fields, rgba: list[float]) -> tuple[float, float, float, float]:
    if any(not 0.0 <= c <= 1.0 for c in rgba):
        raise f.error("rgba", f"components must be in [0, 1], got {rgba}")
    return (rgba[0], rgba[1], rgba[2], rgba[3])


def _no_unknown(f: Fields, allowed: set[str]) -> None:
    """A misspelt key would otherwise be silently ignored (e.g. 'frction' -> default friction)."""
    for key in f.data:
        if key not in allowed:
            raise f.error(str(key), f"unknown field (expected one of {sorted(allowed)})")
