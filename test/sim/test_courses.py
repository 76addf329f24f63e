"""Courses load, validate by file and field, and vary only through randomize() within their declared ranges."""

import numpy as np
import pytest
import yaml

from lucid_ros.errors import ConfigError
from lucid_ros.sim.courses import load_course, randomize, terrain_heights

GOOD = {
    "name": "x",
    "friction": 0.8,
    "ground": {"type": "plane"},
    "boxes": [
        {"pos": [2, 0, 0.15], "size": [0.356, 1.22, 0.305]},
        {"name": "ramp", "pos": [4, 0.35, 0.1], "size": [1, 1, 0.05], "euler": [0, -0.4115, 0]},
        {"pos": [6, 0, 0.1], "size": [1, 0.91, 0.2], "quat": [2, 0, 0, 0], "rgba": [1, 0, 0, 1]},
    ],
    "spawn": {"xy": [0.5, 0], "yaw": 0.1},
    "waypoints": [[2, 0], [4, 0]],
    "goal_x": 7.0,
}


def write(tmp_path, data, name="x.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def test_shipped_courses_load():
    flat, rough = load_course("flat"), load_course("rough")
    assert flat.ground.kind == "plane" and flat.boxes == () and flat.friction > 0
    assert rough.ground.kind == "rough" and rough.ground.amplitude == pytest.approx(0.03)


def test_full_course_parses(tmp_path):
    c = load_course(write(tmp_path, GOOD))
    assert [b.name for b in c.boxes] == ["box_0", "ramp", "box_2"]
    assert c.boxes[0].size == (0.356, 1.22, 0.305)
    assert c.boxes[2].quat == (1.0, 0.0, 0.0, 0.0)  # normalised
    assert np.isclose(np.linalg.norm(c.boxes[1].quat), 1.0) and c.boxes[1].quat[2] < 0
    assert c.spawn_xy == (0.5, 0.0) and c.spawn_yaw == 0.1 and c.goal_x == 7.0
    assert c.waypoints == ((2.0, 0.0), (4.0, 0.0))


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["boxes"][2].update(size=[1, 2]), "boxes[2].size", "expected 3 numbers, got 2"),
        (lambda d: d.pop("friction"), "friction", "missing"),
        (lambda d: d.update(frction=1.0), "frction", "unknown field"),
        (lambda d: d["ground"].update(type="lava"), "ground.type", "expected one of"),
        (lambda d: d["ground"].update(amplitude=0.1), "ground.amplitude", "only used by type 'rough'"),
        (lambda d: d.update(ground={"type": "rough", "cell": 0.1}), "ground.amplitude", "missing"),
        (lambda d: d["boxes"][1].update(quat=[1, 0, 0, 0]), "boxes[1].quat", "not both"),
        (lambda d: d["boxes"][0].update(size=[1, 0, 1]), "boxes[0].size", "positive"),
        (lambda d: d["boxes"][0].update(name="ramp"), "boxes[1].name", "duplicate"),
        (lambda d: d["boxes"][0].update(rgba=[2, 0, 0, 1]), "boxes[0].rgba", "[0, 1]"),
        (lambda d: d.update(waypoints=[[1, 2], [3]]), "waypoints[1]", "two numbers"),
        (lambda d: d["spawn"].update(xy=[0, "a"]), "spawn.xy[1]", "expected a number"),
        (lambda d: d.update(friction=0), "friction", "must be >"),
    ],
)
def test_malformed_course_names_file_and_field(tmp_path, mutate, field, words):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    mutate(data)
    path = write(tmp_path, data, "bad_course.yaml")
    with pytest.raises(ConfigError) as e:
        load_course(path)
    assert e.value.field == field
    assert "bad_course.yaml" in str(e.value) and field in str(e.value) and words in str(e.value)


def test_unknown_course_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="known courses:.*flat"):
        load_course("no_such_course")
    p = tmp_path / "broken.yaml"
    p.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_course(p)


def test_randomize_picks_the_terrain_by_seed():
    rough, flat = load_course("rough"), load_course("flat")
    assert randomize(rough, 0) is rough and randomize(flat, 5) is flat
    a, b = randomize(rough, 1), randomize(rough, 2)
    assert a.ground.seed != b.ground.seed and a == randomize(rough, 1)
    ha, hb = terrain_heights(a.ground), terrain_heights(b.ground)
    assert ha.shape == (301, 301)  # 60 m / 0.2 m + 1 grid points per side
    assert np.abs(ha).max() <= 0.03 and np.abs(ha).max() > 0.025
    assert not np.allclose(ha, hb)
    np.testing.assert_array_equal(ha, terrain_heights(randomize(rough, 1).ground))


# ---- the parkour courses, their tracks and their variants ------------------------------------------
PARKOUR = ["hurdle", "gaps", "stairs_up", "stairs_down", "parkour"]


@pytest.mark.parametrize("name", PARKOUR)
def test_parkour_courses_have_a_finish_past_their_last_obstacle(name):
    c = load_course(name)
    assert c.obstacles and c.goal_x > c.last_obstacle_x > c.spawn_xy[0]
    assert c.waypoints[-1] == (c.goal_x, 0.0) and len(c.waypoints) == len(c.obstacles) + 1
    assert c.variants.geometry and c.variants.textures and c.variants.friction and c.variants.lighting
    assert all(b.name.startswith("track_") for b in c.boxes)


def test_nominal_dimensions_are_the_facts():
    hurdles = [b for b in load_course("hurdle").boxes]
    assert [b.pos[0] for b in hurdles] == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert all(b.size == pytest.approx((0.356, 1.22, 0.305)) and b.pos[2] == pytest.approx(0.1525) for b in hurdles)
    gaps = load_course("gaps")
    start, *blocks = [b for b in gaps.boxes if b.name != "track_finish"]
    assert start.size[0] == pytest.approx(2.7) and start.pos[2] + start.size[2] / 2 == pytest.approx(0.0)
    assert np.diff([b.pos[0] for b in blocks]) == pytest.approx([1.52] * 4)
    assert all(b.size[:2] == pytest.approx((1.0, 0.91)) and b.pos[2] + b.size[2] / 2 == pytest.approx(0.0) for b in blocks)
    assert gaps.ground.z == -1.0 and gaps.fall_z == -0.25
    for name, sign in (("stairs_up", 1), ("stairs_down", -1)):
        steps = [b for b in load_course(name).boxes if b.name.startswith("track_stairs_")]
        tops = [b.pos[2] + b.size[2] / 2 for b in steps]
        assert np.diff(tops) == pytest.approx([sign * 0.20] * (len(tops) - 1)) and all(b.size[0] == pytest.approx(0.35) for b in steps)
    ramps = [b for b in load_course("parkour").boxes if b.name.startswith("track_ramps_")]
    rolls = [2 * np.arctan2(b.quat[1], b.quat[0]) for b in ramps]
    assert rolls == pytest.approx([0.4115, -0.4115]) and [np.sign(b.pos[1]) for b in ramps] == [1, -1]


@pytest.mark.parametrize("name", PARKOUR)
def test_variants_are_deterministic_distinct_and_within_their_ranges(name):
    c = load_course(name)
    assert randomize(c, 0) is c
    ranges = {f"{seg}.{p}": (lo, hi) for seg, p, lo, hi in c.variants.geometry}
    ranges["friction"] = c.variants.friction
    seen = set()
    for seed in range(1, 31):
        v = randomize(c, seed)
        assert v == randomize(load_course(name), seed) and v.variant == seed
        assert dict(v.drawn).keys() == ranges.keys()
        for key, value in v.drawn:
            assert ranges[key][0] <= value <= ranges[key][1], (seed, key, value)
        assert v.goal_x - v.last_obstacle_x == pytest.approx(c.goal_x - c.last_obstacle_x)
        assert all(b.texture is not None for b in v.boxes) and v.ground.texture is not None
        seen.add((v.drawn, v.boxes, v.lighting))
    assert len(seen) == 30


def test_variant_geometry_is_what_was_drawn():
    for seed in range(1, 11):
        v = randomize(load_course("hurdle"), seed)
        d = dict(v.drawn)
        assert all(b.size[2] == pytest.approx(d["hurdles.height"]) and abs(b.pos[1]) <= d["hurdles.lateral"] for b in v.boxes)
        assert np.diff([b.pos[0] for b in v.boxes]) == pytest.approx([d["hurdles.spacing"]] * 4)
        g = randomize(load_course("gaps"), seed)
        assert all(o.x1 - o.x0 == pytest.approx(dict(g.drawn)["blocks.gap"]) for o in g.obstacles)


def test_visual_variants_never_move_collision_geometry(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    data["variants"] = {"textures": True, "lighting": {"elevation": [20, 80], "diffuse": [0.2, 1.0]}}
    c = load_course(write(tmp_path, data))
    for seed in (1, 2, 3):
        v = randomize(c, seed)
        assert [(b.pos, b.size, b.quat) for b in v.boxes] == [(b.pos, b.size, b.quat) for b in c.boxes]
        assert v.friction == c.friction and v.ground.z == c.ground.z and v.lighting != c.lighting


@pytest.mark.parametrize(
    "variants, field, words",
    [
        ({"geometry": {"hurdles.height": [0.3, 0.1]}}, "variants.geometry.hurdles.height", "min 0.3 is greater than max 0.1"),
        ({"geometry": {"hurdles.height": [0.1]}}, "variants.geometry.hurdles.height", "two numbers"),
        ({"geometry": {"hurdles.height": [-0.1, 0.2]}}, "variants.geometry.hurdles.height", "must be > 0"),
        ({"geometry": {"hurdles.colour": [0, 1]}}, "variants.geometry.hurdles.colour", "not a variable number"),
        ({"geometry": {"walls.height": [0.1, 0.2]}}, "variants.geometry.walls.height", "no track segment named 'walls'"),
        ({"geometry": {"hurdles.count": [2, 3.5]}}, "variants.geometry.hurdles.count", "whole numbers"),
        ({"geometry": {"platform_1.length": [0.5, 1.2]}}, "variants.geometry", "with every range at its min, track.goal_after: goal x"),
        ({"gravity": [9, 10]}, "variants.gravity", "unknown field"),
        ({"friction": [0.0, 1.0]}, "variants.friction", "must be > 0"),
        ({"lighting": {"elevation": [10, 120]}}, "variants.lighting.elevation", "(0, 90]"),
        ({"lighting": {"colour": [0, 1]}}, "variants.lighting.colour", "unknown field"),
        ({"textures": "yes"}, "variants.textures", "true or false"),
    ],
)
def test_bad_variants_are_refused_with_file_and_field(tmp_path, variants, field, words):
    data = {
        "name": "t", "friction": 1.0, "ground": {"type": "plane"},
        "track": {"goal_after": 1.0, "segments": [
            {"type": "hurdles", "name": "hurdles", "count": 3, "spacing": 2.0, "depth": 0.3, "width": 1.0, "height": 0.2},
            {"type": "platform", "length": 1.2},
        ]},
        "variants": variants,
    }  # fmt: skip
    with pytest.raises(ConfigError) as e:
        load_course(write(tmp_path, data, "bad_variants.yaml"))
    assert e.value.field == field and "bad_variants.yaml" in str(e.value) and words in str(e.value)


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["track"]["segments"].append({"type": "blocks", "count": 2, "depth": 1, "width": 1, "gap": 0.5}), "track.segments", "need a pit"),
        (
            lambda d: d["track"]["segments"].append({"type": "stairs", "count": 2, "riser": 0.2, "tread": 0.3, "width": 1, "direction": "down"}),
            "track.segments",
            "below the floor",
        ),
        (lambda d: d["track"]["segments"][0].update(type="wall"), "track.segments[0].type", "expected one of"),
        (lambda d: d["track"]["segments"][0].update(heigth=0.2), "track.segments[0].heigth", "unknown field"),
        (lambda d: d["track"]["segments"][0].pop("height"), "track.segments[0].height", "missing"),
        (lambda d: d["track"].update(goal_after=5.0), "track.goal_after", "beyond the end of the track"),
        (lambda d: d.update(goal_x=3.0), "goal_x", "from the track"),
        (lambda d: d.update(fall_z=-1.0), "fall_z", "must be >"),
    ],
)
def test_bad_tracks_are_refused_with_file_and_field(tmp_path, mutate, field, words):
    data = {
        "name": "t", "friction": 1.0, "ground": {"type": "plane"},
        "track": {"goal_after": 1.0, "segments": [
            {"type": "hurdles", "name": "h", "count": 1, "spacing": 2.0, "depth": 0.3, "width": 1.0, "height": 0.2},
            {"type": "platform", "length": 1.2},
        ]},
    }  # fmt: skip
    mutate(data)
    with pytest.raises(ConfigError) as e:
        load_course(write(tmp_path, data, "bad_track.yaml"))
    assert field in str(e.value.field) and "bad_track.yaml" in str(e.value) and words in str(e.value)


def test_negative_seeds_are_refused():
    with pytest.raises(ValueError, match="seed must be >= 0"):
        randomize(load_course("hurdle"), -1)
