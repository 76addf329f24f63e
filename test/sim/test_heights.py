"""The privileged height map agrees with MuJoCo's own ray casts on every shipped course."""

import time

import mujoco
import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.robots import load_robot
from lucid_ros.sim.courses import load_course, randomize
from lucid_ros.sim.heights import DEFAULT_PATTERN, CourseHeights, course_height, scan_points
from lucid_ros.sim.world import build_model

COURSES = ["flat", "rough", "hurdle", "gaps", "stairs_up", "stairs_down", "parkour"]
pytestmark = pytest.mark.skipif(not (paths.urdf_dir() / "go1.xml").is_file(), reason="urdf/go1.xml not present yet")


@pytest.fixture(scope="module")
def go1():
    return load_robot("go1")


def _ray_heights(model, data, xy, top=5.0):
    """mj_ray straight down from z = top onto static geoms (the robot is moved far away)."""
    out = np.empty(len(xy))
    geomid = np.zeros(1, dtype=np.int32)
    for i, (x, y) in enumerate(xy):
        dist = mujoco.mj_ray(model, data, np.array([x, y, top]), np.array([0.0, 0.0, -1.0]), None, 1, -1, geomid)
        out[i] = top - dist if dist >= 0 else -np.inf
    return out


@pytest.mark.parametrize("name", COURSES)
@pytest.mark.parametrize("seed", [0, 3])
def test_heights_match_mujoco_ray_casts(go1, name, seed):
    course = randomize(load_course(name), seed)
    model, ix = build_model(go1, course)
    data = mujoco.MjData(model)
    data.qpos[ix.root_qpos : ix.root_qpos + 3] = (500.0, 500.0, 50.0)
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(seed + 7)
    x_end = course.goal_x + 2.0 if course.goal_x is not None else 8.0
    xy = np.stack([rng.uniform(course.spawn_xy[0] - 2.0, x_end, 400), rng.uniform(-2.5, 2.5, 400)], axis=1)
    if course.obstacles:  # plus points right at the obstacles' edges, where an off-by-a-box error would show
        o = np.array([[ob.x0, ob.x1] for ob in course.obstacles]).ravel()
        xy = np.concatenate([xy, np.stack([o + rng.uniform(-0.02, 0.02, len(o)), rng.uniform(-0.3, 0.3, len(o))], axis=1)])
    want = _ray_heights(model, data, xy)
    got = course_height(course, xy)
    assert np.all(np.isfinite(want)), "every sampled point has ground below it"
    bad = np.abs(got - want) > 0.01
    assert not bad.any(), f"{bad.sum()} of {len(xy)} points differ, e.g. {xy[bad][:3]} got {got[bad][:3]} want {want[bad][:3]}"
    if name in ("gaps", "parkour"):
        assert want.min() < course.ground.z + 0.01 and course.fall_z > course.ground.z  # the gaps are a pit


def test_heights_see_the_course():
    hurdle = load_course("hurdle")
    h = course_height(hurdle, np.array([[2.0, 0.0], [3.0, 0.0], [2.0, 0.7]]))
    np.testing.assert_allclose(h, [0.305, 0.0, 0.0])
    gaps = load_course("gaps")
    gap = gaps.obstacles[0]
    h = course_height(gaps, np.array([[0.0, 0.0], [0.5 * (gap.x0 + gap.x1), 0.0]]))
    np.testing.assert_allclose(h, [0.0, -1.0])
    ramps = [b for b in load_course("parkour").boxes if b.name == "track_ramps_0"][0]
    slope = course_height(load_course("parkour"), np.array([[ramps.pos[0], 0.35 - 0.1], [ramps.pos[0], 0.35 + 0.1]]))
    assert (slope[1] - slope[0]) / 0.2 == pytest.approx(np.tan(0.4115), rel=1e-6)  # outer edge high


def test_heights_are_fast_enough_for_training():
    heights = CourseHeights(load_course("parkour"))
    xy = scan_points(np.random.default_rng(0).uniform([-1, -0.5], [15, 0.5], (32, 2)), np.zeros(32)).reshape(-1, 2)
    heights(xy)
    t0 = time.perf_counter()
    for _ in range(20):
        heights(xy)
    per_call = (time.perf_counter() - t0) / 20
    print(f"{len(xy)} points on parkour ({len(heights.course.boxes)} boxes): {per_call * 1e3:.2f} ms per call")
    assert len(xy) == 32 * 132 and per_call < 0.03  # measured ~1 ms on the 2-core CI machine; loose for load


def test_scan_points_follow_base_and_yaw():
    assert len(DEFAULT_PATTERN.offsets) == 132 and DEFAULT_PATTERN.xs[0] == -0.45 and DEFAULT_PATTERN.xs[-1] == 1.2
    pts = scan_points(np.array([1.0, 2.0, 0.3]), np.pi / 2)
    k = np.flatnonzero((DEFAULT_PATTERN.offsets == [1.2, 0.0]).all(axis=1))[0]
    np.testing.assert_allclose(pts[k], [1.0, 3.2], atol=1e-12)  # 1.2 m ahead of a robot facing +y
    batch = scan_points(np.zeros((4, 5, 3)), np.zeros((4, 5)))
    assert batch.shape == (4, 5, 132, 2)
    np.testing.assert_allclose(batch[2, 3], DEFAULT_PATTERN.offsets)
