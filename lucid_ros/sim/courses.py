"""Courses are data: config/courses/<name>.yaml describes the ground and the obstacles.

The file format is documented at the top of config/courses/flat.yaml. Obstacles are generic
boxes (hurdles, stepping blocks, stairs, ramps are all boxes), so a new course touches no Python.
A course may instead lay out a `track` of typed segments (platform, hurdles, blocks, stairs,
ramps) along x: then the boxes, obstacles, waypoints and goal follow from a few named numbers,
and `variants` can declare ranges for exactly those numbers. Every field goes through `Fields`,
so a bad course names its file and field before MuJoCo sees it.

This module reads and validates; it re-exports the rest so `lucid_ros.sim.courses` stays the one
import for callers: course_types (the dataclasses), course_track (segments laid into boxes and
obstacles) and course_variants (what a seed draws: randomize, terrain_heights).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.sim.course_track import SEGMENT_PARAMS, TRACK_PREFIX, box_obstacle, check_value, is_int, lay, lay_track, variable_params
from lucid_ros.sim.course_types import (
    BOX_RGBA,
    GROUND_KINDS,
    GROUND_RGBA,
    TEXTURE_KINDS,
    Box,
    Course,
    Ground,
    Lighting,
    Obstacle,
    Segment,
    Texture,
    Variants,
)
from lucid_ros.sim.course_variants import random_texture, randomize, terrain_heights

__all__ = [
    "GROUND_KINDS",
    "TEXTURE_KINDS",
    "TRACK_PREFIX",
    "Box",
    "Course",
    "Ground",
    "Lighting",
    "Obstacle",
    "Segment",
    "Texture",
    "Variants",
    "check_keys",
    "check_value",
    "is_int",
    "lay",
    "load_course",
    "parse_course",
    "parse_segments",
    "random_texture",
    "randomize",
    "terrain_heights",
    "variable_params",
]

_TOP_KEYS = {"name", "description", "friction", "ground", "boxes", "spawn", "waypoints", "goal_x", "fall_z", "track", "variants"}
_GROUND_KEYS = {"type", "extent", "center", "z", "amplitude", "cell", "seed", "rgba"}
_BOX_KEYS = {"name", "pos", "size", "euler", "quat", "rgba"}
_SPAWN_KEYS = {"xy", "yaw"}
_VARIANT_KEYS = {"geometry", "friction", "textures", "lighting"}
_LIGHT_KEYS = {"azimuth", "elevation", "diffuse", "ambient", "headlight"}
_TRACK_KEYS = {"start_x", "segments", "goal_after"}


# The number that makes each course hard: its `variants:` range runs from an easy value to the
# facts' scale. Training draws levels of it; the success table reports success by it.
DIFFICULTY = {"hurdle": "hurdles.height", "gaps": "blocks.gap", "stairs_up": "stairs.riser", "stairs_down": "stairs.riser"}


def difficulty(course: Course) -> tuple[str, float] | None:
    """(key, value) of a drawn variant's difficulty number (DIFFICULTY), None where it has none."""
    key = DIFFICULTY.get(course.name)
    value = dict(course.drawn).get(key) if key else None
    return None if value is None else (key, float(value))


def load_course(name_or_path: str | Path) -> Course:
    """Load and validate a course; raises ConfigError naming the file and the field."""
    path = paths.resolve("courses", name_or_path)
    return parse_course(read_yaml(path, "course", "courses"), path)


def parse_course(raw: object, path: str | Path | None) -> Course:
    """Validate an already-parsed course mapping (tests and tools build courses in memory)."""
    f = Fields(raw, path)
    f.refuse_unknown(_TOP_KEYS)
    spawn = f.sub("spawn") if f.has("spawn") else Fields({}, path, "spawn")
    spawn.refuse_unknown(_SPAWN_KEYS)
    ground = _ground(f.sub("ground"))
    course = Course(
        name=f.str("name"),
        source=Path(path) if path is not None else None,
        friction=f.float("friction", lo=0, strict=True),
        ground=ground,
        boxes=_boxes(f),
        spawn_xy=_pair(spawn, "xy", (0.0, 0.0)),
        spawn_yaw=spawn.float("yaw", default=0.0),
        waypoints=_waypoints(f),
        goal_x=None if f.raw("goal_x", None) is None else f.float("goal_x"),
        fall_z=None if f.raw("fall_z", None) is None else f.float("fall_z", lo=ground.z, strict=True),
    )
    if f.has("track"):
        for key in ("waypoints", "goal_x"):
            if f.has(key):
                raise f.error(key, "a course with a track gets its waypoints and goal from the track (track.goal_after)")
        t = f.sub("track")
        check_keys(t)
        segs = parse_segments(t)
        course = replace(course, segments=segs, track_start_x=t.float("start_x", default=0.0), goal_after=t.float("goal_after", lo=0))
        course = lay_track(course, {}, None)
    else:
        course = replace(course, obstacles=tuple(box_obstacle(b) for b in course.boxes))
    if f.has("variants"):
        course = replace(course, variants=_variants(f.sub("variants"), course))
        # the track must still build with every range at its min, and at its max
        for end, pick in (("min", 2), ("max", 3)) if course.segments else ():
            try:
                lay_track(course, {(g[0], g[1]): float(g[pick]) for g in course.variants.geometry}, None)
            except ConfigError as exc:
                raise ConfigError(path, "variants.geometry", f"with every range at its {end}, {exc.field}: {exc.message}") from exc
    return course


def check_keys(t: Fields) -> None:
    t.refuse_unknown(_TRACK_KEYS)


def parse_segments(t: Fields) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for i, s in enumerate(t.list("segments", min_len=1)):
        kind = s.choice("type", tuple(SEGMENT_PARAMS))
        spec = SEGMENT_PARAMS[kind]
        s.refuse_unknown(set(spec) | {"type", "name"})
        name = s.str("name", default=f"{kind}_{i}")
        if any(seg.name == name for seg in out):
            raise s.error("name", f"duplicate segment name '{name}'")
        params: dict[str, object] = {}
        for key, (typ, _, _, default) in spec.items():
            if typ == "s":
                params[key] = s.choice(key, ("up", "down"), default=default)
            elif default == "keep" and not s.has(key):
                params[key] = None
            else:
                kw = {} if default is None else {"default": default}
                value = s.int(key, **kw) if typ == "i" else s.float(key, **kw)
                check_value(kind, key, float(value), s.path, s._name(key))
                params[key] = float(value)
        out.append(Segment(kind, name, tuple(sorted(params.items()))))
    return tuple(out)


def _variants(v: Fields, course: Course) -> Variants:
    v.refuse_unknown(_VARIANT_KEYS)
    geometry = []
    for key in v.sub("geometry").data if v.has("geometry") else {}:
        field = f"geometry.{key}"
        seg, _, param = str(key).partition(".")
        match = next((s for s in course.segments if s.name == seg), None)
        if match is None:
            known = [s.name for s in course.segments]
            raise v.error(field, f"no track segment named '{seg}' (segments: {known})")
        if param not in variable_params(match.kind):
            raise v.error(field, f"'{param}' is not a variable number of a {match.kind} segment (expected one of {variable_params(match.kind)})")
        lo, hi = _range(Fields({"r": v.sub("geometry").data[key]}, v.path, v._name(field)), "r", whole=True)
        for end in (lo, hi):
            check_value(match.kind, param, end, v.path, f"variants.{field}")
        if is_int(match.kind, param) and (lo != int(lo) or hi != int(hi)):
            raise v.error(field, f"'{param}' is a count; the range must be whole numbers, got {[lo, hi]}")
        geometry.append((seg, param, lo, hi))
    friction = None
    if v.has("friction"):
        friction = _range(v, "friction")
        if friction[0] <= 0:
            raise v.error("friction", f"must be > 0, got {list(friction)}")
    lighting = []
    if v.has("lighting"):
        lf = v.sub("lighting")
        lf.refuse_unknown(_LIGHT_KEYS)
        for key in lf.data:
            lo, hi = _range(lf, str(key))
            if key in ("diffuse", "ambient", "headlight") and (lo < 0 or hi > 1):
                raise lf.error(str(key), f"intensities must be in [0, 1], got {[lo, hi]}")
            if key == "elevation" and (lo <= 0 or hi > 90):
                raise lf.error(str(key), f"degrees above the horizon, in (0, 90], got {[lo, hi]}")
            lighting.append((str(key), lo, hi))
    return Variants(tuple(geometry), friction, v.bool("textures", default=False), tuple(lighting))


def _range(f: Fields, key: str, whole: bool = False) -> tuple[float, float]:
    """[min, max]; whole=True: `f` wraps the one value under `key` and its prefix is the field name."""
    err = (lambda k, m: ConfigError(f.path, f.prefix, m)) if whole else f.error
    value = f.raw(key)
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in value)
    if not ok:
        raise err(key, f"expected [min, max] (two numbers), got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if lo > hi:
        raise err(key, f"min {lo} is greater than max {hi}")
    return lo, hi


def _ground(g: Fields) -> Ground:
    g.refuse_unknown(_GROUND_KEYS)
    kind = g.choice("type", GROUND_KINDS)
    ex, ey = _pair(g, "extent", (40.0, 40.0))
    if ex <= 0 or ey <= 0:
        raise g.error("extent", f"must be positive, got {[ex, ey]}")
    rgba = g.float_list("rgba", length=4, default=list(GROUND_RGBA))
    z = g.float("z", default=0.0)
    if kind == "plane":
        for key in ("amplitude", "cell", "seed"):
            if g.has(key):
                raise g.error(key, "only used by type 'rough'")
        return Ground(kind, (ex, ey), _pair(g, "center", (0.0, 0.0)), rgba=_rgba(g, rgba), z=z)
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
        z=z,
    )


def _boxes(f: Fields) -> tuple[Box, ...]:
    boxes = [_box(bf, i) for i, bf in enumerate(f.list("boxes", required=False))]
    seen: set[str] = set()
    for i, b in enumerate(boxes):
        if b.name in seen:
            raise ConfigError(f.path, f"boxes[{i}].name", f"duplicate box name '{b.name}'")
        if b.name.startswith(TRACK_PREFIX):
            raise ConfigError(f.path, f"boxes[{i}].name", f"names starting '{TRACK_PREFIX}' are kept for track boxes")
        seen.add(b.name)
    return tuple(boxes)


def _box(b: Fields, i: int) -> Box:
    b.refuse_unknown(_BOX_KEYS)
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
    rgba = b.float_list("rgba", length=4, default=list(BOX_RGBA))
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
