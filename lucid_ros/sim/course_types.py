"""What a course is made of: the frozen dataclasses a validated course is built from.

Plain data with no parsing, so the loader (courses), the track layer (course_track) and the seeded
variants (course_variants) can all build and replace them without importing one another in a circle.
Quaternions are (w, x, y, z); box sizes are full edge lengths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GROUND_KINDS = ("plane", "rough")
TEXTURE_KINDS = ("checker", "gradient", "noise", "flat")
GROUND_RGBA = (0.35, 0.38, 0.42, 1.0)
BOX_RGBA = (0.6, 0.55, 0.5, 1.0)


@dataclass(frozen=True)
class Texture:
    """A procedural MuJoCo texture: checker, gradient, noise (random dots on rgb1) or flat."""

    kind: str
    rgb1: tuple[float, float, float]
    rgb2: tuple[float, float, float]
    repeat: float  # texture repeats per metre
    dots: float = 0.0  # noise: fraction of texels replaced by rgb2


@dataclass(frozen=True)
class Ground:
    """The floor. 'rough' is a seeded heightfield, heights uniform in [-amplitude, +amplitude] about z."""

    kind: str
    extent: tuple[float, float]  # full size along x, y (m)
    center: tuple[float, float]
    amplitude: float = 0.0
    cell: float = 0.1  # heightfield grid spacing (m)
    seed: int = 0
    rgba: tuple[float, float, float, float] = GROUND_RGBA
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
