"""Model assembly: course geometry lands where the file says; addresses are found by name."""

import dataclasses

import mujoco
import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.robots import load_robot
from lucid_ros.sim.courses import parse_course
from lucid_ros.sim.world import build_model, named_pose

pytestmark = pytest.mark.skipif(not (paths.urdf_dir() / "go1.xml").is_file(), reason="urdf/go1.xml not present yet")

COURSE = {
    "name": "boxes",
    "friction": 0.7,
    "ground": {"type": "plane"},
    "boxes": [
        {"name": "hurdle", "pos": [2, 0, 0.1525], "size": [0.356, 1.22, 0.305]},
        {"pos": [4, 0, 0.1], "size": [1, 1, 0.2], "euler": [0, 0, 0.5]},
    ],
}


@pytest.fixture(scope="module")
def go1():
    return load_robot("go1")


def test_addresses_follow_the_robot_yaml(go1):
    model, ix = build_model(go1, parse_course(COURSE, "mem.yaml"))
    assert model.opt.timestep == go1.physics_dt
    for i, name in enumerate(go1.joint_names):
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        assert ix.joint_qpos[i] == model.jnt_qposadr[jid] and ix.joint_qvel[i] == model.jnt_dofadr[jid]
        assert model.actuator_trnid[ix.actuators[i], 0] == jid
    assert [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in ix.feet] == list(go1.feet)
    assert model.sensor_adr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, "imu_gyro")] == ix.imu_gyro
    assert ix.cameras["ego"] == ix.cameras["ego_camera"] >= 0
    assert mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, ix.base_body) == go1.base_body
    assert ix.robot_body[ix.base_body] and not ix.robot_body[0]
    assert len(ix.ground) == 1 and len(ix.boxes) == 2


def test_boxes_friction_and_priority(go1):
    model, ix = build_model(go1, parse_course(COURSE, "mem.yaml"))
    hurdle = ix.boxes[0]
    np.testing.assert_allclose(model.geom_size[hurdle], [0.178, 0.61, 0.1525])  # half of the full sizes
    np.testing.assert_allclose(model.geom_pos[hurdle], [2, 0, 0.1525])
    assert model.geom_quat[ix.boxes[1]][3] == pytest.approx(np.sin(0.25))  # yaw 0.5 rad
    assert np.all(model.geom_friction[ix.course_geoms, 0] == 0.7)
    assert np.all(model.geom_priority[ix.course_geoms] > model.geom_priority[ix.feet].max())


def test_rough_ground_is_a_heightfield_within_amplitude(go1):
    from lucid_ros.sim.courses import load_course

    model, ix = build_model(go1, load_course("rough"))
    g = ix.ground[0]
    assert model.geom_type[g] == mujoco.mjtGeom.mjGEOM_HFIELD
    lo, span = model.geom_pos[g, 2], model.hfield_size[model.geom_dataid[g], 2]
    assert -0.03 <= lo < -0.02 and 0.02 < lo + span <= 0.03
    m1, _ = build_model(go1, load_course("rough"), seed=1)
    m2, _ = build_model(go1, load_course("rough"), seed=2)
    assert not np.array_equal(m1.hfield_data, m2.hfield_data)


def _broken(go1, tmp_path, old, new):
    text = go1.mjcf_path.read_text()
    assert old in text
    p = tmp_path / "go1_broken.xml"
    p.write_text(text.replace(old, new))
    return dataclasses.replace(go1, mjcf_path=p)


@pytest.mark.parametrize(
    "old, new, field",
    [
        ('name="imu_acc"', 'name="imu_accel"', "imu.site"),
        ('<motor name="FL_calf_joint"', '<motor name="FL_knee"', "joints[5].name"),
        ('name="RL_foot"', 'name="RL_toe"', "feet[3]"),
        ('freejoint name="root"', 'freejoint name="base_free"', "mjcf"),
        ('camera name="ego_camera"', 'camera name="front"', "cameras.ego.mjcf_camera"),
    ],
)
def test_missing_model_parts_are_refused_with_the_yaml_field(go1, tmp_path, old, new, field):
    robot = _broken(go1, tmp_path, old, new)
    with pytest.raises(ConfigError) as e:
        build_model(robot, parse_course(COURSE, "mem.yaml"))
    assert e.value.field == field and e.value.path == str(go1.source)


def test_named_poses(go1):
    q, rp = named_pose(go1, "lying")
    assert rp == (0.0, 0.0)
    np.testing.assert_allclose(q[go1.index_of(["FR_hip_joint", "FR_thigh_joint", "FR_calf_joint"])], [0.0, 1.5, -2.6])
    np.testing.assert_array_equal(named_pose(go1, "crouch")[0], q)
    np.testing.assert_array_equal(named_pose(go1, "default")[0], go1.default_pose)
    # the Mini Cheetah bends the other way (hip and knee about -y): folded at hip -1.5, knee +2.6
    mc = load_robot("mini_cheetah")
    np.testing.assert_allclose(named_pose(mc, "lying")[0][:3], [0.0, -1.5, 2.6])
    with pytest.raises(ValueError):
        named_pose(go1, "sitting")
    with pytest.raises(ValueError):
        named_pose(go1, np.zeros(3))


# ---- the shipped courses and their variants in MuJoCo --------------------------------------------
ALL_COURSES = ["flat", "rough", "hurdle", "gaps", "stairs_up", "stairs_down", "parkour"]


@pytest.mark.parametrize("name", ALL_COURSES)
@pytest.mark.parametrize("seed", [0, 4])
def test_go1_spawns_standing_on_the_start_of_every_course(go1, name, seed):
    from lucid_ros.sim.courses import load_course
    from lucid_ros.sim.heights import course_height
    from lucid_ros.sim.robot_sim import SimRobot
    from lucid_ros.types import JointCommand

    sim = SimRobot(go1, load_course(name), seed=seed)
    m, d, ix = sim.model, sim.data, sim.index
    mujoco.mj_forward(m, d)
    geom = d.contact.geom[: d.ncon]
    robot_vs_course = ix.robot_body[m.geom_bodyid[geom]].any(axis=1) & np.isin(geom, ix.course_geoms).any(axis=1)
    assert np.all(d.contact.dist[: d.ncon][robot_vs_course] > -1e-4), "the robot starts inside the course"
    feet = d.geom_xpos[ix.feet]
    ground = course_height(sim.course, feet[:, :2])
    gap = feet[:, 2] - m.geom_size[ix.feet, 0] - ground
    # lowered until a foot touches; the default stance is not quite level
    assert abs(gap).min() < 1e-3 and gap.max() < 0.015 + 2 * sim.course.ground.amplitude
    spawn_top = course_height(sim.course, np.array(sim.course.spawn_xy))
    n = go1.n_joints
    sim.apply(JointCommand(0.0, go1.default_pose, np.zeros(n), np.zeros(n), np.array(go1.kp), np.array(go1.kd)))
    sim.step(int(1.0 / m.opt.timestep))  # hold the stance for 1 s: it stays up, where it was put
    gt = sim.ground_truth()
    assert 0.2 < gt.pos[2] - spawn_top < 0.4 and np.linalg.norm(gt.pos[:2] - sim.course.spawn_xy) < 0.1
    assert gt.quat[0] > np.cos(0.1 / 2)  # tilted less than 0.1 rad
    sim.close()


def _ego(go1, course, seed, depth=False):
    from lucid_ros.sim.robot_sim import SimRobot

    sim = SimRobot(go1, course, seed=seed)
    try:
        return sim.render("ego", depth=depth)
    finally:
        sim.close()


def test_variants_change_what_the_camera_sees_and_a_seed_repeats_it(go1):
    from lucid_ros.sim.courses import load_course

    hurdle = load_course("hurdle")
    a, b, a_again, nominal = _ego(go1, hurdle, 1), _ego(go1, hurdle, 2), _ego(go1, hurdle, 1), _ego(go1, hurdle, 0)
    assert a.shape == b.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, a_again)
    for other in (b, nominal):
        assert np.abs(a.astype(int) - other.astype(int)).mean() > 5.0


def test_textures_and_light_change_the_image_but_not_the_depth(go1):
    from lucid_ros.sim.courses import parse_course

    course = parse_course({**COURSE, "variants": {"textures": True, "lighting": {"azimuth": [0, 360], "diffuse": [0.2, 1.0]}}}, "mem.yaml")
    rgb = [_ego(go1, course, s) for s in (1, 2)]
    depth = [_ego(go1, course, s, depth=True) for s in (1, 2)]
    assert np.abs(rgb[0].astype(int) - rgb[1].astype(int)).mean() > 5.0
    np.testing.assert_array_equal(depth[0], depth[1])


def test_lucid_ros_sim_runs_a_course_variant():
    import json
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "s.json")
        r = subprocess.run(
            [sys.executable, "-m", "lucid_ros.cli", "sim", "--course", "hurdle", "--duration", "2", "--seed", "3", "--quiet", "--summary", summary],
            capture_output=True, text=True, timeout=300, env=dict(os.environ),
        )  # fmt: skip
        assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]  # the blind robot neither falls nor finishes: a run that worked
        s = json.loads(open(summary).read())
    assert s["course"] == "hurdle" and s["seed"] == 3 and s["falls"] == 0 and not s["failed"]
