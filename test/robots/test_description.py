"""Robot descriptions: config/robots/*.yaml against urdf/*.urdf and urdf/*.xml.

Covers: both robots load and pass the loader's model checks; joint order and vendor slots;
malformed YAML is refused naming the file and the dotted field; the URDF and the MJCF describe
the same robot (frames, masses, camera, IMU); and each robot physically stands in MuJoCo at its
default pose under the Unitree PD law with its YAML gains, at its nominal_base_height.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import RobotDescription, load_robot

GO1_JOINTS = [f"{leg}_{part}_joint" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf")]

H1_JOINTS = [
    "left_hip_yaw_joint", "left_hip_roll_joint", "left_hip_pitch_joint", "left_knee_joint", "left_ankle_joint",
    "right_hip_yaw_joint", "right_hip_roll_joint", "right_hip_pitch_joint", "right_knee_joint", "right_ankle_joint",
    "torso_joint",
    "left_shoulder_pitch_joint", "left_shoulder_roll_joint", "left_shoulder_yaw_joint", "left_elbow_joint",
    "right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_shoulder_yaw_joint", "right_elbow_joint",
]  # fmt: skip

# Unitree H1 wire order (unitree_go LowCmd_.motor_cmd), slot 9 unused.
H1_VENDOR = {
    "right_hip_roll_joint": 0, "right_hip_pitch_joint": 1, "right_knee_joint": 2,
    "left_hip_roll_joint": 3, "left_hip_pitch_joint": 4, "left_knee_joint": 5,
    "torso_joint": 6, "left_hip_yaw_joint": 7, "right_hip_yaw_joint": 8,
    "left_ankle_joint": 10, "right_ankle_joint": 11,
    "right_shoulder_pitch_joint": 12, "right_shoulder_roll_joint": 13, "right_shoulder_yaw_joint": 14, "right_elbow_joint": 15,
    "left_shoulder_pitch_joint": 16, "left_shoulder_roll_joint": 17, "left_shoulder_yaw_joint": 18, "left_elbow_joint": 19,
}  # fmt: skip


ROBOTS = ["go1", "go2", "mini_cheetah", "h1", "g1"]


@pytest.fixture(scope="module")
def go1() -> RobotDescription:
    return load_robot("go1")


@pytest.fixture(scope="module")
def h1() -> RobotDescription:
    return load_robot("h1")


# ----------------------------------------------------------------------------- loading


def test_go1_loads(go1):
    assert go1.name == "go1" and go1.kind == "quadruped"
    assert go1.n_joints == 12
    assert go1.joint_names == GO1_JOINTS
    assert go1.base_body == "trunk"
    assert go1.feet == ("FR_foot", "FL_foot", "RR_foot", "RL_foot")
    assert go1.mjcf_path == paths.urdf_dir().resolve() / "go1.xml"
    assert go1.urdf_path == paths.urdf_dir().resolve() / "go1.urdf"
    assert "ego" in go1.cameras and go1.cameras["ego"].mjcf_camera == "ego_camera"
    assert go1.physics_dt == pytest.approx(0.002)
    assert go1.lcm_dialect == "walk_these_ways"  # no vendor.lcm_dialect: the default


def test_h1_loads(h1):
    assert h1.name == "h1" and h1.kind == "humanoid"
    assert h1.n_joints == 19
    assert h1.joint_names == H1_JOINTS
    assert h1.base_body == "pelvis"
    assert h1.feet == ("left_foot", "right_foot")
    assert h1.vendor_motor_slots == 20
    assert h1.physics_dt == pytest.approx(0.002)
    assert h1.safety is not None and h1.safety.max_roll <= 0.8 and h1.safety.max_pitch <= 0.8


def test_go1_vendor_order_is_canonical_order(go1):
    # unitree_legged_sdk: FR 0-2, FL 3-5, RR 6-8, RL 9-11; hip, thigh, calf.
    np.testing.assert_array_equal(go1.vendor_index, np.arange(12))


def test_go2_matches_sdk2_motor_order_and_published_limits():
    # SDK2 unitree_go motor_cmd: FR 0-2, FL 3-5, RR 6-8, RL 9-11; hip, thigh, calf (as the Go1)
    go2 = load_robot("go2")
    assert go2.joint_names == GO1_JOINTS and go2.vendor_motor_slots == 20
    np.testing.assert_array_equal(go2.vendor_index, np.arange(12))
    np.testing.assert_allclose(go2.effort_limit, np.tile([23.7, 23.7, 45.43], 4))
    # front thighs -90..200 deg, rear -30..260 deg; knee -156..-48 deg
    np.testing.assert_allclose(go2.lower[1::3], [-1.5708, -1.5708, -0.5236, -0.5236])
    np.testing.assert_allclose(go2.upper[2::3], np.full(4, -0.83776))
    m = mujoco.MjModel.from_xml_path(str(go2.mjcf_path))
    assert float(m.body_mass.sum()) == pytest.approx(6.921 + 4 * (0.678 + 1.152 + 0.241), abs=1e-6)  # 15.2 kg


def test_h1_vendor_index_matches_wire_order(h1):
    assert {n: int(v) for n, v in zip(h1.joint_names, h1.vendor_index, strict=True)} == H1_VENDOR
    used = sorted(h1.vendor_index.tolist())
    assert used == [i for i in range(20) if i != 9]


@pytest.mark.parametrize("name", ROBOTS)
def test_vendor_index_is_a_permutation_into_the_slots(name):
    r = load_robot(name)
    idx = r.vendor_index
    assert len(set(idx.tolist())) == r.n_joints
    assert idx.min() >= 0 and idx.max() < r.vendor_motor_slots
    # canonical -> wire -> canonical round trip
    wire = np.full(r.vendor_motor_slots, np.nan)
    wire[idx] = np.arange(r.n_joints)
    np.testing.assert_array_equal(wire[idx], np.arange(r.n_joints))


@pytest.mark.parametrize("name", ROBOTS)
def test_arrays_are_consistent(name):
    r = load_robot(name)
    for arr in (r.default_pose, r.kp, r.kd, r.lower, r.upper, r.velocity_limit, r.effort_limit):
        assert arr.shape == (r.n_joints,)
    assert np.all(r.lower <= r.default_pose) and np.all(r.default_pose <= r.upper)
    assert np.all(r.effort_limit > 0) and np.all(r.kp > 0) and np.all(r.kd > 0)


# ----------------------------------------------------------------------------- malformed YAML


def _broken_go1(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """go1.yaml with exactly one substitution, written to a temp folder (models resolve to urdf/)."""
    text = (paths.config_dir() / "robots" / "go1.yaml").read_text()
    new, n = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert n == 1, f"pattern {pattern!r} not found in go1.yaml"
    path = tmp_path / "broken_go1.yaml"
    path.write_text(new)
    return path


BROKEN = [
    # (id, pattern, replacement, expected field regex, message fragment)
    ("missing_field", r"^nominal_base_height:.*\n", "", r"nominal_base_height", "missing"),
    ("kp_not_a_number", r"(name: FR_hip_joint,.*kp: )20\.0", r"\1high", r"joints\[0\]\.kp", "number"),
    ("default_outside_range", r"(name: FR_hip_joint,.*default: )-0\.1", r"\g<1>1.5", r"joints\[0\]\.default", "outside"),
    ("duplicate_vendor_index", r"(name: FL_hip_joint, vendor_index: )3", r"\g<1>0", r"joints\[\d+\]\.vendor_index", "more than one"),
    ("joint_missing_in_mjcf", r"name: FR_hip_joint,", "name: FR_hip_motor,", r"joints\[0\]\.name", "go1.xml"),
    ("range_wider_than_mjcf", r"(name: FR_calf_joint,.*position: )\[-2\.818,", r"\1[-2.9,", r"joints\[2\]\.position", "go1.xml"),
    ("range_differs_from_urdf", r"(name: FR_calf_joint,.*position: )\[-2\.818,", r"\1[-2.6,", r"joints\[2\]\.position", "go1.urdf"),
    ("vendor_index_beyond_slots", r"(name: RL_calf_joint, vendor_index: )11", r"\g<1>20", r"joints\[11\]\.vendor_index", "motor_slots"),
    ("lcm_dialect_unknown", r"^(vendor:\n)", r"\1  lcm_dialect: bogus\n", r"vendor\.lcm_dialect", "'bogus'"),
    ("vendor_field_misspelt", r"^(vendor:\n)", r"\1  lcm_dialet: cheetah_software\n", r"vendor\.lcm_dialet", "unknown field"),
    ("unknown_foot", r"^feet: \[FR_foot,", "feet: [FR_toe,", r"feet\[0\]", "FR_toe"),
    ("vendor_sign_not_unit", r"(name: FR_thigh_joint,.*kd: 0\.5)\}", r"\1, vendor_sign: 0}", r"joints\[1\]\.vendor_sign", "1 or -1"),
    ("vendor_sign_a_word", r"(name: FR_thigh_joint,.*kd: 0\.5)\}", r"\1, vendor_sign: minus}", r"joints\[1\]\.vendor_sign", "1 or -1"),
    ("vendor_offset_a_word", r"(name: FR_calf_joint,.*kd: 0\.5)\}", r"\1, vendor_offset: half_pi}", r"joints\[2\]\.vendor_offset", "number"),
    ("vendor_offset_beyond_a_turn", r"(name: FR_calf_joint,.*kd: 0\.5)\}", r"\1, vendor_offset: 7.0}", r"joints\[2\]\.vendor_offset", "<="),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_malformed_yaml_names_file_and_field(tmp_path, case):
    _, pattern, replacement, field_re, fragment = case
    path = _broken_go1(tmp_path, pattern, replacement)
    with pytest.raises(ConfigError) as info:
        load_robot(path)
    err = info.value
    assert err.path == str(path.resolve())
    assert err.field is not None and re.fullmatch(field_re, err.field), err.field
    text = str(err)
    assert str(path.resolve()) in text and err.field in text
    assert fragment in text


BROKEN_H1_MOUNT = [
    # (id, pattern, replacement, expected field, message fragment): h1.yaml's imu.mount
    ("mount_joint_unknown", r"joint: torso_joint", "joint: waist_joint", "imu.mount.joint", "not one of the robot's joints"),
    ("mount_joint_not_the_sites", r"joint: torso_joint", "joint: left_knee_joint", "imu.mount.joint", "not on the body"),
    ("mount_axis_not_unit", r"axis: \[0\.0, 0\.0, 1\.0\]", "axis: [0.0, 0.0, 2.0]", "imu.mount.axis", "unit vector"),
    ("mount_axis_differs", r"axis: \[0\.0, 0\.0, 1\.0\]", "axis: [0.0, 1.0, 0.0]", "imu.mount.axis", "differs"),
    ("mount_axis_a_word", r"axis: \[0\.0, 0\.0, 1\.0\]", "axis: up", "imu.mount.axis", "list of numbers"),
    ("mount_site_missing", r"site: imu_torso", "site: imu_chest", "imu.mount.site", "imu_chest"),
    ("mount_frame_missing", r"frame: imu_torso_link", "frame: chest_link", "imu.mount.frame", "chest_link"),
    ("mount_unknown_field", r"joint: torso_joint", "joint: torso_joint\n    mount: torso", "imu.mount.mount", "unknown field"),
]


@pytest.mark.parametrize("case", BROKEN_H1_MOUNT, ids=[c[0] for c in BROKEN_H1_MOUNT])
def test_malformed_imu_mount_names_file_and_field(tmp_path, case):
    _, pattern, replacement, fld, fragment = case
    text = (paths.config_dir() / "robots" / "h1.yaml").read_text()
    new, n = re.subn(pattern, replacement, text, count=1)
    assert n == 1, pattern
    path = tmp_path / "broken_h1.yaml"
    path.write_text(new)
    with pytest.raises(ConfigError) as info:
        load_robot(path)
    assert info.value.field == fld and str(path.resolve()) in str(info.value) and fragment in str(info.value), str(info.value)


def test_lcm_dialect_in_flow_style_is_checked(tmp_path):
    """`vendor: {motor_slots: 20, lcm_dialect: bogus}`: refused by file and field, the choices named."""
    path = _broken_go1(tmp_path, r"^vendor:\n  motor_slots: 20.*$", "vendor: {motor_slots: 20, lcm_dialect: bogus}")
    with pytest.raises(ConfigError) as info:
        load_robot(path)
    assert info.value.field == "vendor.lcm_dialect" and str(path.resolve()) in str(info.value)
    assert "walk_these_ways" in str(info.value) and "cheetah_software" in str(info.value)
    ok = _broken_go1(tmp_path, r"^vendor:\n  motor_slots: 20.*$", "vendor: {motor_slots: 20, lcm_dialect: cheetah_software}")
    assert load_robot(ok).lcm_dialect == "cheetah_software"


def test_unmodified_copy_loads_from_a_temp_folder(tmp_path):
    path = tmp_path / "go1_copy.yaml"
    path.write_text((paths.config_dir() / "robots" / "go1.yaml").read_text())
    r = load_robot(path)
    assert r.n_joints == 12 and r.mjcf_path.name == "go1.xml"


# ----------------------------------------------------------------------------- URDF == MJCF


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _rpy(r: float, p: float, y: float) -> np.ndarray:
    return _rot([0, 0, 1], y) @ _rot([0, 1, 0], p) @ _rot([1, 0, 0], r)


def _floats(s: str | None, default: str = "0 0 0") -> np.ndarray:
    return np.array([float(v) for v in (s or default).split()])


class UrdfTree:
    """Minimal URDF forward kinematics (poses relative to the root link)."""

    def __init__(self, path: Path):
        root = ET.parse(path).getroot()
        self.mass: dict[str, float] = {}
        for link in root.iter("link"):
            m = link.find("inertial/mass")
            self.mass[link.get("name")] = float(m.get("value")) if m is not None else 0.0
        self.parent_joint = {}
        for j in root.iter("joint"):
            o = j.find("origin")
            ax = j.find("axis")
            self.parent_joint[j.find("child").get("link")] = dict(
                name=j.get("name"),
                type=j.get("type"),
                parent=j.find("parent").get("link"),
                xyz=_floats(o.get("xyz") if o is not None else None),
                rpy=_floats(o.get("rpy") if o is not None else None),
                axis=_floats(ax.get("xyz") if ax is not None else None, "1 0 0"),
            )

    def pose(self, link: str, q: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        if link not in self.parent_joint:
            return np.zeros(3), np.eye(3)
        j = self.parent_joint[link]
        p, R = self.pose(j["parent"], q)
        p = p + R @ j["xyz"]
        R = R @ _rpy(*j["rpy"])
        if j["type"] in ("revolute", "continuous"):
            R = R @ _rot(j["axis"], q.get(j["name"], 0.0))
        return p, R


def _mjcf_at(robot: RobotDescription, q: np.ndarray) -> tuple[mujoco.MjModel, mujoco.MjData]:
    m = mujoco.MjModel.from_xml_path(str(robot.mjcf_path))
    d = mujoco.MjData(m)
    d.qpos[:] = 0
    d.qpos[3] = 1.0  # base at the origin, identity orientation
    for name, v in zip(robot.joint_names, q, strict=True):
        d.qpos[m.jnt_qposadr[m.joint(name).id]] = v
    mujoco.mj_forward(m, d)  # frames, cameras and sites
    return m, d


@pytest.mark.parametrize("name", ROBOTS)
def test_urdf_and_mjcf_agree(name):
    r = load_robot(name)
    urdf = UrdfTree(r.urdf_path)
    rng = np.random.default_rng(7)
    for q in [r.default_pose, np.zeros(r.n_joints), rng.uniform(r.lower, r.upper), rng.uniform(r.lower, r.upper)]:
        m, d = _mjcf_at(r, q)
        qd = dict(zip(r.joint_names, q, strict=True))
        base_pos = d.xpos[m.body(r.base_body).id].copy()
        checked = 0
        for b in range(1, m.nbody):
            link = m.body(b).name
            if link not in urdf.mass:
                continue
            p, R = urdf.pose(link, qd)
            np.testing.assert_allclose(d.xpos[b] - base_pos, p, atol=1e-6, err_msg=f"{name}: frame of {link}")
            np.testing.assert_allclose(d.xmat[b].reshape(3, 3), R, atol=1e-6, err_msg=f"{name}: orientation of {link}")
            assert m.body_mass[b] == pytest.approx(urdf.mass[link], abs=1e-6), f"{name}: mass of {link}"
            checked += 1
        assert checked == m.nbody - 1  # every MJCF body is a URDF link of the same name
        # IMU: site imu <-> link imu_link
        p, _ = urdf.pose(r.imu_frame, qd)
        np.testing.assert_allclose(d.site_xpos[m.site(r.imu_site).id] - base_pos, p, atol=1e-6)
        # feet: URDF foot link at the sphere centre (Go1) or the sole centre (H1)
        for foot in r.feet:
            g = m.geom(foot).id
            centre = d.geom_xpos[g].copy()
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
                centre -= d.geom_xmat[g].reshape(3, 3)[:, 2] * m.geom_size[g][2]
            p, _ = urdf.pose(foot, qd)
            np.testing.assert_allclose(centre - base_pos, p, atol=1e-6, err_msg=f"{name}: {foot}")
        # cameras: MuJoCo looks along -z with y up; the URDF camera link looks along x with z up
        for cam in r.cameras.values():
            c = m.camera(cam.mjcf_camera).id
            p, R = urdf.pose(cam.frame, qd)
            np.testing.assert_allclose(d.cam_xpos[c] - base_pos, p, atol=1e-6)
            Rc = d.cam_xmat[c].reshape(3, 3)
            np.testing.assert_allclose(-Rc[:, 2], R[:, 0], atol=1e-4, err_msg=f"{name}: camera view direction")
            np.testing.assert_allclose(Rc[:, 1], R[:, 2], atol=1e-4, err_msg=f"{name}: camera up")
    assert sum(urdf.mass.values()) == pytest.approx(float(m.body_mass.sum()), abs=1e-6)


@pytest.mark.parametrize("name", ROBOTS)
def test_mjcf_actuators_sensors_and_camera(name):
    r = load_robot(name)
    m = mujoco.MjModel.from_xml_path(str(r.mjcf_path))
    assert m.opt.timestep == pytest.approx(r.physics_dt)
    assert m.nu == r.n_joints
    for j in r.joints:
        a = m.actuator(j.name)
        assert m.actuator_trnid[a.id][0] == m.joint(j.name).id
        assert m.actuator_gear[a.id][0] == 1.0
        assert m.actuator_ctrllimited[a.id]
        np.testing.assert_allclose(m.actuator_ctrlrange[a.id], [-j.effort_limit, j.effort_limit])
    root = m.joint("root")
    assert m.jnt_type[root.id] == mujoco.mjtJoint.mjJNT_FREE
    assert m.jnt_bodyid[root.id] == m.body(r.base_body).id
    site = m.site(r.imu_site).id
    assert m.site_bodyid[site] == m.body(r.base_body).id
    for sensor, kind in [("imu_quat", mujoco.mjtSensor.mjSENS_FRAMEQUAT), ("imu_gyro", mujoco.mjtSensor.mjSENS_GYRO),
                         ("imu_acc", mujoco.mjtSensor.mjSENS_ACCELEROMETER)]:  # fmt: skip
        s = m.sensor(sensor).id
        assert m.sensor_type[s] == kind
        assert m.sensor_objid[s] == site
    for cam in r.cameras.values():
        c = m.camera(cam.mjcf_camera).id
        stream = cam.depth or cam.color
        assert m.cam_fovy[c] == pytest.approx(stream.vfov_deg)
        assert m.cam_bodyid[c] != 0
    # no floor, no lights: the robot file holds the robot only
    assert all(m.geom_bodyid[g] != 0 for g in range(m.ngeom))
    assert m.nlight == 0


# ----------------------------------------------------------------------------- physics


def _world(robot: RobotDescription) -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_file(str(robot.mjcf_path))
    floor = spec.worldbody.add_geom()
    floor.name = "floor"
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [10, 10, 0.1]
    return spec.compile()


class Stand:
    """Robot on a plane under tau = clip(kp (q* - q) + kd (0 - dq), +-effort) every physics step."""

    def __init__(self, robot: RobotDescription, start: np.ndarray, clearance: float = 0.005):
        self.r = robot
        self.m = m = _world(robot)
        self.d = d = mujoco.MjData(m)
        ids = [m.joint(n).id for n in robot.joint_names]
        self.qadr = m.jnt_qposadr[ids]
        self.vadr = m.jnt_dofadr[ids]
        self.act = np.array([m.actuator(n).id for n in robot.joint_names])
        d.qpos[self.qadr] = start
        d.qpos[2] = 1.5
        mujoco.mj_kinematics(m, d)
        floor = m.geom("floor").id
        gap = min(mujoco.mj_geomDistance(m, d, g, floor, 5.0, None) for g in range(m.ngeom) if g != floor and m.geom_contype[g])
        d.qpos[2] -= gap - clearance
        mujoco.mj_forward(m, d)

    def run(self, seconds: float, target) -> np.ndarray:
        r, m, d = self.r, self.m, self.d
        n = int(round(seconds / m.opt.timestep))
        heights = np.empty(n)
        for k in range(n):
            q_star = target(d.time)
            q, dq = d.qpos[self.qadr], d.qvel[self.vadr]
            d.ctrl[self.act] = np.clip(r.kp * (q_star - q) + r.kd * (0.0 - dq), -r.effort_limit, r.effort_limit)
            mujoco.mj_step(m, d)
            heights[k] = d.qpos[2]
        return heights

    def up(self) -> float:
        w, x, y, _ = self.d.qpos[3:7]
        return 1 - 2 * (x * x + y * y)  # z of the base z axis in the world


@pytest.mark.parametrize("name", ROBOTS)
def test_stands_at_default_pose(name):
    r = load_robot(name)
    sim = Stand(r, r.default_pose)
    heights = sim.run(10.0, lambda t: r.default_pose)
    settled = heights[int(1.0 / sim.m.opt.timestep) :]
    assert np.all(np.abs(settled - r.nominal_base_height) < 0.02), (
        f"{name}: base height {settled.min():.3f}..{settled.max():.3f}, nominal {r.nominal_base_height}"
    )
    assert settled[-500:].max() - settled[-500:].min() < 0.005  # steady, not oscillating
    assert sim.up() > 0.98
    assert np.linalg.norm(sim.d.qpos[:2]) < 0.1  # no creeping away
    # IMU reads the base orientation and gravity while standing still
    d, m = sim.d, sim.m
    quat = d.sensordata[m.sensor_adr[m.sensor("imu_quat").id] :][:4]
    np.testing.assert_allclose(np.abs(quat @ d.qpos[3:7]), 1.0, atol=1e-6)
    acc = d.sensordata[m.sensor_adr[m.sensor("imu_acc").id] :][:3]
    assert np.linalg.norm(acc) == pytest.approx(9.81, abs=0.2)


@pytest.mark.parametrize("name", ["go1", "mini_cheetah"])
def test_quadruped_stands_up_from_folded(name):
    """From the folded pose `lucid-ros sim` starts a quadruped in (Go1 thigh +1.5, calf -2.6; the Mini
    Cheetah, bending the other way, -1.5, +2.6), the stand interpolation reaches the nominal height."""
    from lucid_ros.sim.world import named_pose

    r = load_robot(name)
    crouch = named_pose(r, "lying")[0]
    sim = Stand(r, crouch)
    T = r.stand_duration

    def target(t: float) -> np.ndarray:
        a = min(1.0, t / T)
        return (1 - a) * crouch + a * r.default_pose

    heights = sim.run(T + 3.0, target)
    assert heights[0] < r.nominal_base_height - 0.1
    final = heights[-int(1.0 / sim.m.opt.timestep) :]
    assert np.all(np.abs(final - r.nominal_base_height) < 0.02), f"{final.min():.3f}..{final.max():.3f}"
    assert sim.up() > 0.98
