"""Courses load, validate by file and field, and vary only through randomize()."""

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
