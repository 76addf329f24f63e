"""What a seed decides: the concrete variant of a course (randomize) and a rough ground's terrain.

Every draw comes from a generator seeded by the seed alone, so the sim bridge, training and a test
that ask for the same course and seed all get the same model.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from lucid_ros.sim.course_track import is_int, lay_track
from lucid_ros.sim.course_types import TEXTURE_KINDS, Course, Ground, Lighting, Texture, Variants


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
        out = lay_track(out, values, np.random.default_rng(rng.integers(2**63)))
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


def _lighting(rng: np.random.Generator, ranges: dict[str, tuple[float, float]]) -> Lighting:
    base = Lighting()
    draw = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in sorted(ranges.items())}
    sun = np.array(base.sun_dir) / np.linalg.norm(base.sun_dir)
    az = math.radians(draw["azimuth"]) if "azimuth" in draw else math.atan2(sun[1], sun[0])
    el = math.radians(draw["elevation"]) if "elevation" in draw else math.asin(-sun[2])
    direction = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), -math.sin(el))
    return Lighting(direction, draw.get("diffuse", base.sun_diffuse), draw.get("ambient", base.ambient), draw.get("headlight", base.headlight))


def random_texture(rng: np.random.Generator, kinds: tuple[str, ...], ground: bool = False) -> Texture:
    kind = kinds[int(rng.integers(len(kinds)))]
    rgb1 = tuple(float(v) for v in rng.uniform(0.1, 0.9, 3))
    rgb2 = tuple(float(v) for v in rng.uniform(0.1, 0.9, 3))
    repeat = float(rng.uniform(0.3, 1.5) if ground else rng.uniform(1.0, 4.0))
    return Texture(kind, rgb1, rgb2, repeat, float(rng.uniform(0.1, 0.5)) if kind == "noise" else 0.0)
