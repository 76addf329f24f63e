"""Courses are data: config/courses/<name>.yaml describes the ground and the obstacles.

The file format is documented at the top of config/courses/flat.yaml. Obstacles are generic
boxes (hurdles, stepping blocks, stairs, ramps are all boxes), so a new course touches no Python.
A course may instead lay out a `track` of typed segments (platform, hurdles, blocks, stairs,
ramps) along x: then the boxes, obstacles, waypoints and goal follow from a few named numbers,
and `variants` can declare ranges for exactly those numbers. Every field goes through `Fields`,
so a bad course names its file and field before MuJoCo sees it.
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
TEXTURE_KINDS = ("checker", "gradient", "noise", "flat")
_TOP_KEYS = {"name", "description", "friction", "ground", "boxes", "spawn", "waypoints", "goal_x", "fall_z", "track", "variants"}
_GROUND_KEYS = {"type", "extent", "center", "z", "amplitude", "cell", "seed", "rgba"}
_BOX_KEYS = {"name", "pos", "size", "euler", "quat", "rgba"}
_SPAWN_KEYS = {"xy", "yaw"}
_VARIANT_KEYS = {"geometry", "friction", "textures", "lighting"}
_LIGHT_KEYS = {"azimuth", "elevation", "diffuse", "ambient", "headlight"}
_GROUND_RGBA = (0.35, 0.38, 0.42, 1.0)
_BOX_RGBA = (0.6, 0.55, 0.5, 1.0)


@dataclass(frozen=True)
class Ground:
    """The floor. 'rough' is a seeded heightfield, heights uniform in [-amplitude, +amplitude] about z."""

    kind: str
    extent: tuple[float, float]  # full size along x, y (m)
    center: tuple[float, float]
    amplitude: float = 0.0
    cell: float = 0.1  # heightfield grid spacing (m)
    seed: int = 0
    rgba: tuple[float, float, float, float] = _GROUND_RGBA
    z: float = 0.0  # height of the floor; below 0 it is a pit under the course's platforms
    texture: Texture | None = None  # None: the world's default checker


@dataclass(frozen=True)
class Box:
    """A static box. `size` is full edge lengths (not MuJoCo half-sizes); `quat` is (w, x, y, z)."""

    name: str
    pos: tuple[float, float, float]
    size: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    rgba: tuple[float, float, float, float]
    texture: Texture | None = None


@dataclass(frozen=True)
class Lighting:
    """Scene light; the nominal values are what every course rendered with before variants existed."""

    sun_dir: tuple[float, float, float] = (0.3, 0.2, -1.0)
    sun_diffuse: float = 0.7
    ambient: float = 0.0
    headlight: float = 0.4  # MuJoCo's default headlight diffuse


@dataclass(frozen=True)
class Variants:
    """What a seed may change. geometry: (segment, parameter, lo, hi); the rest None = fixed."""

    geometry: tuple[tuple[str, str, float, float], ...] = ()
    friction: tuple[float, float] | None = None
    textures: bool = False
    lighting: tuple[tuple[str, float, float], ...] = ()


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
    obstacles: tuple[Obstacle, ...] = ()  # in course order; crossing = the base passing x1
    fall_z: float | None = None  # the base below this z has fallen (into a pit)
    lighting: Lighting = Lighting()
    segments: tuple[Segment, ...] = ()  # the track as written (randomize rebuilds boxes from it)
    track_start_x: float = 0.0
    goal_after: float | None = None
    variants: Variants = Variants()
    variant: int = 0  # the seed this concrete course was drawn with; 0 = as written
    drawn: tuple[tuple[str, float], ...] = ()  # the variant's numbers: ('hurdles.height', 0.21), ('friction', 0.8), ...

    @property
    def last_obstacle_x(self) -> float | None:
        """x of the last obstacle's far edge: a run that passes it has crossed the course."""
        return max(o.x1 for o in self.obstacles) if self.obstacles else None


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
        course = _lay_track(course, {}, None)
    else:
        course = replace(course, obstacles=tuple(_box_obstacle(b) for b in course.boxes))
    if f.has("variants"):
        course = replace(course, variants=_variants(f.sub("variants"), course))
        # the track must still build with every range at its min, and at its max
        for end, pick in (("min", 2), ("max", 3)) if course.segments else ():
            try:
                _lay_track(course, {(g[0], g[1]): float(g[pick]) for g in course.variants.geometry}, None)
            except ConfigError as exc:
                raise ConfigError(path, "variants.geometry", f"with every range at its {end}, {exc.field}: {exc.message}") from exc
    return course


def randomize(course: Course, seed: int) -> Course:
    """The concrete course for `seed`: seed 0 is the course exactly as written.

    Seeds >= 1 draw every range declared under `variants` (track numbers, friction, textures,
    lighting) from one generator seeded by the seed, so the same seed always gives the same
    model and any two seeds differ. A rough ground also draws a new terrain. Nothing outside
    the declared ranges changes, so obstacles stay where the course's waypoints expect them.
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"course seed must be >= 0 (0 = the course as written), got {seed}")
    v = course.variants
    if seed == 0 or course.variant != 0 or (v == Variants() and course.ground.kind != "rough"):
        return course  # already concrete (build_model may be handed a variant), or nothing to vary
    out = replace(course, variant=seed)
    if course.ground.kind == "rough":
        mixed = int(np.random.SeedSequence([course.ground.seed, seed]).generate_state(1)[0])
        out = replace(out, ground=replace(course.ground, seed=mixed))
    if v == Variants():
        return out
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1C0DE]))
    values: dict[tuple[str, str], float] = {}
    for seg, param, lo, hi in v.geometry:
        kind = next(s.kind for s in course.segments if s.name == seg)
        values[(seg, param)] = float(rng.integers(int(lo), int(hi) + 1)) if is_int(kind, param) else float(rng.uniform(lo, hi))
    if course.segments:
        out = _lay_track(out, values, np.random.default_rng(rng.integers(2**63)))
    if v.friction is not None:
        out = replace(out, friction=float(rng.uniform(*v.friction)))
    drawn = [(f"{seg}.{param}", value) for (seg, param), value in values.items()] + ([("friction", out.friction)] if v.friction else [])
    out = replace(out, drawn=tuple(drawn))
    if v.textures:
        out = replace(
            out,
            ground=replace(out.ground, texture=random_texture(rng, TEXTURE_KINDS, ground=True)),
            boxes=tuple(replace(b, texture=random_texture(rng, TEXTURE_KINDS)) for b in out.boxes),
        )
    if v.lighting:
        out = replace(out, lighting=_lighting(rng, dict((k, (lo, hi)) for k, lo, hi in v.lighting)))
    return out


def terrain_heights(ground: Ground) -> np.ndarray:
    """Heights (nrow along y, ncol along x) of a rough ground at its grid points, about ground.z.

    Deterministic in ground.seed, so the sim bridge, training and a test all see the same terrain.
    """
    ncol = int(round(ground.extent[0] / ground.cell)) + 1
    nrow = int(round(ground.extent[1] / ground.cell)) + 1
    rng = np.random.default_rng(ground.seed)
    return rng.uniform(-ground.amplitude, ground.amplitude, size=(nrow, ncol))


def _lay_track(course: Course, values: dict, rng: np.random.Generator | None) -> Course:
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


def _box_obstacle(b: Box) -> Obstacle:
    """Axis-aligned footprint of a (possibly rotated) box, for progress along a box-only course."""
    rot = quat_matrix(b.quat)
    half = np.abs(rot) @ (np.array(b.size) / 2)
    return Obstacle(b.name, b.pos[0] - half[0], b.pos[0] + half[0], b.pos[1] - half[1], b.pos[1] + half[1])


def _variants(v: Fields, course: Course) -> Variants:
    _no_unknown(v, _VARIANT_KEYS)
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
        _no_unknown(lf, _LIGHT_KEYS)
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


def _lighting(rng: np.random.Generator, ranges: dict[str, tuple[float, float]]) -> Lighting:
    base = Lighting()
    draw = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in sorted(ranges.items())}
    sun = np.array(base.sun_dir) / np.linalg.norm(base.sun_dir)
    az = math.radians(draw["azimuth"]) if "azimuth" in draw else math.atan2(sun[1], sun[0])
    el = math.radians(draw["elevation"]) if "elevation" in draw else math.asin(-sun[2])
    direction = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), -math.sin(el))
    return Lighting(direction, draw.get("diffuse", base.sun_diffuse), draw.get("ambient", base.ambient), draw.get("headlight", base.headlight))


def _ground(g: Fields) -> Ground:
    _no_unknown(g, _GROUND_KEYS)
    kind = g.choice("type", GROUND_KINDS)
    ex, ey = _pair(g, "extent", (40.0, 40.0))
    if ex <= 0 or ey <= 0:
        raise g.error("extent", f"must be positive, got {[ex, ey]}")
    rgba = g.float_list("rgba", length=4, default=list(_GROUND_RGBA))
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


# ---- track: typed segments laid one after another along +x ---------------------------------------
# Each segment starts where the previous one ended, at the level (top height) the previous one left;
# the level starts at z = 0. Boxes reach down to the floor (ground.z), so with a floor below 0 every
# space between boxes is a pit. Parameters: (type, lower bound, strict, default); None = required.
TRACK_PREFIX = "track_"
_SEGMENT_PARAMS: dict[str, dict[str, tuple[str, float | None, bool, object]]] = {
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
_TRACK_KEYS = {"start_x", "segments", "goal_after"}
_MAX_RAMP_ANGLE = 1.2  # rad; steeper is a wall, not a ramp


@dataclass(frozen=True)
class Texture:
    """A procedural MuJoCo texture: checker, gradient, noise (random dots on rgb1) or flat."""

    kind: str
    rgb1: tuple[float, float, float]
    rgb2: tuple[float, float, float]
    repeat: float  # texture repeats per metre
    dots: float = 0.0  # noise: fraction of texels replaced by rgb2


@dataclass(frozen=True)
class Segment:
    kind: str
    name: str
    params: tuple[tuple[str, object], ...]  # sorted (key, value) pairs, hashable

    def get(self, key: str, values: dict | None = None) -> object:
        if values and (self.name, key) in values:
            return values[(self.name, key)]
        return dict(self.params)[key]


@dataclass(frozen=True)
class Obstacle:
    """An obstacle's footprint; it is crossed when the base passes x1 with y within [y0, y1]."""

    name: str
    x0: float
    x1: float
    y0: float
    y1: float


@dataclass(frozen=True)
class _Laid:
    boxes: tuple[Box, ...]
    obstacles: tuple[Obstacle, ...]
    end_x: float


def check_keys(t: Fields) -> None:
    _no_unknown(t, _TRACK_KEYS)


def variable_params(kind: str) -> list[str]:
    return [k for k, spec in _SEGMENT_PARAMS[kind].items() if spec[0] != "s"]


def is_int(kind: str, param: str) -> bool:
    return _SEGMENT_PARAMS[kind][param][0] == "i"


def check_value(kind: str, param: str, value: float, path: object, field: str) -> None:
    """The same bound for a written number and for both ends of its variant range."""
    _, lo, strict, _ = _SEGMENT_PARAMS[kind][param]
    if lo is not None and (value <= lo if strict else value < lo):
        raise ConfigError(path, field, f"must be {'>' if strict else '>='} {lo}, got {value}")
    if kind == "ramps" and param == "angle" and value > _MAX_RAMP_ANGLE:
        raise ConfigError(path, field, f"must be <= {_MAX_RAMP_ANGLE} rad, got {value}")


def parse_segments(t: Fields) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for i, s in enumerate(t.list("segments", min_len=1)):
        kind = s.choice("type", tuple(_SEGMENT_PARAMS))
        spec = _SEGMENT_PARAMS[kind]
        _no_unknown(s, set(spec) | {"type", "name"})
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


def lay(segments: tuple[Segment, ...], values: dict, start_x: float, floor: float, rng: np.random.Generator | None, source: object) -> _Laid:
    """Boxes and obstacles of the track; `values` overrides (segment, parameter) numbers."""
    x, level = float(start_x), 0.0
    boxes: list[Box] = []
    obstacles: list[Obstacle] = []

    def box(name: str, x0: float, x1: float, y: float, width: float, top: float, bottom: float = floor, quat=(1.0, 0.0, 0.0, 0.0)) -> None:
        if top > bottom + 1e-6 and x1 > x0 + 1e-9:
            pos = (0.5 * (x0 + x1), y, 0.5 * (top + bottom))
            boxes.append(Box(TRACK_PREFIX + name, pos, (x1 - x0, width, top - bottom), quat, _BOX_RGBA))

    def jitter(lateral: float) -> float:
        return float(rng.uniform(-lateral, lateral)) if rng is not None and lateral > 0 else 0.0

    for seg in segments:
        p = {k: seg.get(k, values) for k in _SEGMENT_PARAMS[seg.kind]}
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


def random_texture(rng: np.random.Generator, kinds: tuple[str, ...], ground: bool = False) -> Texture:
    kind = kinds[int(rng.integers(len(kinds)))]
    rgb1 = tuple(float(v) for v in rng.uniform(0.1, 0.9, 3))
    rgb2 = tuple(float(v) for v in rng.uniform(0.1, 0.9, 3))
    repeat = float(rng.uniform(0.3, 1.5) if ground else rng.uniform(1.0, 4.0))
    return Texture(kind, rgb1, rgb2, repeat, float(rng.uniform(0.1, 0.5)) if kind == "noise" else 0.0)


def quat_matrix(q: tuple[float, float, float, float] | np.ndarray) -> np.ndarray:
    """Rotation matrix of a (w, x, y, z) quaternion."""
    w, x, y, z = (float(v) for v in q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip
