"""A robot is data: config/robots/<robot>.yaml, a URDF and a MuJoCo model.

`load_robot()` reads the YAML, checks every field, then checks it against both models
(joint names, limits, feet, IMU site, camera) and refuses a mismatch by file and field.
Adding a robot touches no Python.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.robots.axes import check_axes, mjcf_axes, parse_axis, urdf_axes

# vendor.lcm_dialect: which robot side the mini_cheetah_lcm backend talks to (lucid_ros.hardware.lcm.types.DIALECTS).
LCM_DIALECTS = ("walk_these_ways", "cheetah_software")


@dataclass(frozen=True)
class JointSpec:
    name: str
    vendor_index: int
    lower: float
    upper: float
    velocity_limit: float
    effort_limit: float
    default: float
    kp: float
    kd: float
    vendor_sign: float = 1.0  # q_vendor = vendor_sign * q + vendor_offset (lucid_ros.hardware.convention)
    vendor_offset: float = 0.0
    axis: tuple[float, float, float] | None = None  # in the base frame at q = 0, if declared (lucid_ros.robots.axes)


@dataclass(frozen=True)
class CameraStream:
    width: int
    height: int
    vfov_deg: float
    rate_hz: float
    near: float = 0.05
    far: float = 10.0


@dataclass(frozen=True)
class CameraMount:
    name: str
    mjcf_camera: str
    frame: str
    position: tuple[float, float, float]
    rpy: tuple[float, float, float]
    depth: CameraStream | None
    color: CameraStream | None


@dataclass(frozen=True)
class SafetyLimits:
    max_roll: float
    max_pitch: float
    max_target_step: float  # rad per control tick: rate limit on joint targets
    joint_states_timeout: float
    imu_timeout: float
    policy_timeout: float
    camera_timeout: float
    damping_kd: float


@dataclass(frozen=True)
class HoistSpec:
    """An elastic hoist (gantry rope) that holds a humanoid by its base until it stands (sim only).

    The law and its schedule are lucid_ros.sim.hoist; this is only the robot's data."""

    stiffness: float  # N/m of rope stretch
    damping: float  # N*s/m of rope stretch rate
    height: float  # m the base hangs above where it would stand in the start pose
    lower_duration: float  # s of sim time from hung to slack
    rope_length: float  # m from the hook to the gantry (its horizontal pull is tension * offset / length)
    hook: tuple[float, float, float]  # the hook in `body`'s frame (m)
    body: str | None = None  # the body the harness is on (None: the base body); G1: its torso, above the waist joints


@dataclass(frozen=True)
class ImuMount:
    """Where the robot's own IMU is when a joint turns it relative to the base (H1: on the torso).

    The stack publishes the base's IMU (imu.site); drivers turn the robot's reading into it with
    lucid_ros.proprio.imu_mount, the sim's fake robots report this site's sensors."""

    site: str  # MJCF site with sensors <site>_quat, <site>_gyro, <site>_acc
    frame: str  # URDF link at the same place
    joint: str  # the robot joint that turns the mount relative to the base
    axis: tuple[float, float, float]  # that joint's axis in the base frame


@dataclass(frozen=True)
class RobotDescription:
    name: str
    kind: str
    source: Path
    urdf_path: Path
    mjcf_path: Path
    base_body: str
    imu_site: str
    imu_frame: str
    feet: tuple[str, ...]
    nominal_base_height: float
    rate_hz: float
    physics_dt: float
    stand_duration: float
    vendor_motor_slots: int
    joints: tuple[JointSpec, ...]
    cameras: dict[str, CameraMount] = field(default_factory=dict)
    safety: SafetyLimits | None = None
    hoist: HoistSpec | None = None  # only robots whose YAML has a `hoist:` block
    imu_mount: ImuMount | None = None  # only robots whose IMU is not on the base (imu.mount)
    lcm_dialect: str = "walk_these_ways"  # vendor.lcm_dialect: the joint messages on mini_cheetah_lcm

    # Arrays in canonical joint order; every module indexes joints this way.
    @cached_property
    def joint_names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def n_joints(self) -> int:
        return len(self.joints)

    def _array(self, attr: str) -> np.ndarray:
        a = np.array([getattr(j, attr) for j in self.joints], dtype=np.float64)
        a.setflags(write=False)
        return a

    @cached_property
    def default_pose(self) -> np.ndarray:
        return self._array("default")

    @cached_property
    def kp(self) -> np.ndarray:
        return self._array("kp")

    @cached_property
    def kd(self) -> np.ndarray:
        return self._array("kd")

    @cached_property
    def lower(self) -> np.ndarray:
        return self._array("lower")

    @cached_property
    def upper(self) -> np.ndarray:
        return self._array("upper")

    @cached_property
    def velocity_limit(self) -> np.ndarray:
        return self._array("velocity_limit")

    @cached_property
    def effort_limit(self) -> np.ndarray:
        return self._array("effort_limit")

    @cached_property
    def vendor_sign(self) -> np.ndarray:
        return self._array("vendor_sign")

    @cached_property
    def vendor_offset(self) -> np.ndarray:
        return self._array("vendor_offset")

    @cached_property
    def vendor_index(self) -> np.ndarray:
        """vendor_index[i] is the wire slot of canonical joint i."""
        return np.array([j.vendor_index for j in self.joints], dtype=np.int64)

    def index_of(self, names: list[str]) -> np.ndarray:
        """Canonical indices of `names`; KeyError names the first unknown joint."""
        lookup = {n: i for i, n in enumerate(self.joint_names)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise KeyError(f"robot '{self.name}' has no joint(s) {missing}")
        return np.array([lookup[n] for n in names], dtype=np.int64)


def load_robot(name_or_path: str | Path, check_models: bool = True) -> RobotDescription:
    """Load and validate a robot description; raises ConfigError naming file and field."""
    path = paths.resolve("robots", name_or_path)
    f = Fields(read_yaml(path, "robot description", "robots"), path)
    robot = _parse(f, path)
    if check_models:
        check_mjcf(robot)
        check_urdf(robot)
    return robot


def _parse(f: Fields, path: Path) -> RobotDescription:
    model_dir = paths.urdf_dir() if not (path.parent / f.str("urdf")).exists() else path.parent
    joints = []
    for i, jf in enumerate(f.list("joints", min_len=1)):
        lo, hi = jf.range("position")
        j = JointSpec(
            name=jf.str("name"),
            vendor_index=jf.int("vendor_index", lo=0),
            lower=lo,
            upper=hi,
            velocity_limit=jf.float("velocity", lo=0, strict=True),
            effort_limit=jf.float("effort", lo=0, strict=True),
            default=jf.float("default"),
            kp=jf.float("kp", lo=0),
            kd=jf.float("kd", lo=0),
            vendor_sign=_sign(jf),
            vendor_offset=jf.float("vendor_offset", lo=-2 * math.pi, hi=2 * math.pi, default=0.0),
            axis=parse_axis(jf),
        )
        if not lo <= j.default <= hi:
            raise ConfigError(path, f"joints[{i}].default", f"{j.default} is outside position range [{lo}, {hi}]")
        joints.append(j)
    names = [j.name for j in joints]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(path, "joints", f"duplicate joint name(s) {dupes}")
    slots = f.int("vendor.motor_slots", lo=1)
    f.sub("vendor").refuse_unknown(("motor_slots", "lcm_dialect"))  # a misspelt lcm_dialect must not fall back to the default
    idx = [j.vendor_index for j in joints]
    for i, j in enumerate(joints):
        if j.vendor_index >= slots:
            raise ConfigError(path, f"joints[{i}].vendor_index", f"{j.vendor_index} >= vendor.motor_slots {slots}")
        if idx.count(j.vendor_index) > 1:
            raise ConfigError(path, f"joints[{i}].vendor_index", f"slot {j.vendor_index} is used by more than one joint")
    cams = {name: _camera(cf, name) for name, cf in f.dict("cameras", required=False).items()}
    s = f.sub("safety")
    safety = SafetyLimits(
        max_roll=s.float("max_roll", lo=0, strict=True),
        max_pitch=s.float("max_pitch", lo=0, strict=True),
        max_target_step=s.float("max_target_step", lo=0, strict=True),
        joint_states_timeout=s.float("joint_states_timeout", lo=0, strict=True),
        imu_timeout=s.float("imu_timeout", lo=0, strict=True),
        policy_timeout=s.float("policy_timeout", lo=0, strict=True),
        camera_timeout=s.float("camera_timeout", lo=0, strict=True),
        damping_kd=s.float("damping_kd", lo=0, strict=True),
    )
    f.sub("imu").refuse_unknown(("site", "frame", "mount"))
    mount = _imu_mount(f.sub("imu.mount"), names) if f.has("imu.mount") else None
    return RobotDescription(
        name=f.str("name"),
        kind=f.choice("kind", ("quadruped", "humanoid")),
        source=path,
        urdf_path=(model_dir / f.str("urdf")).resolve(),
        mjcf_path=(model_dir / f.str("mjcf")).resolve(),
        base_body=f.str("base_body"),
        imu_site=f.str("imu.site"),
        imu_frame=f.str("imu.frame"),
        feet=tuple(f.str_list("feet", min_len=1)),
        nominal_base_height=f.float("nominal_base_height", lo=0, strict=True),
        rate_hz=f.float("control.rate_hz", lo=0, strict=True),
        physics_dt=f.float("control.physics_dt", lo=0, strict=True),
        stand_duration=f.float("stand.duration", lo=0, strict=True),
        vendor_motor_slots=slots,
        joints=tuple(joints),
        cameras=cams,
        safety=safety,
        hoist=_hoist(f.sub("hoist")) if f.has("hoist") else None,
        imu_mount=mount,
        lcm_dialect=f.choice("vendor.lcm_dialect", LCM_DIALECTS, default="walk_these_ways"),
    )


def _sign(jf: Fields) -> float:
    """vendor_sign: +1 or -1 only (a gear ratio or a typo such as 0 would silently scale targets)."""
    value = jf.raw("vendor_sign", 1)
    if isinstance(value, bool) or value not in (1, -1):
        raise jf.error("vendor_sign", f"expected 1 or -1, got {value!r}")
    return float(value)


def _imu_mount(m: Fields, joint_names: list[str]) -> ImuMount:
    m.refuse_unknown(("site", "frame", "joint", "axis"))
    joint = m.str("joint")
    if joint not in joint_names:
        raise m.error("joint", f"'{joint}' is not one of the robot's joints")
    axis = m.float_list("axis", length=3)
    if not math.isclose(math.hypot(*axis), 1.0, abs_tol=1e-6):
        raise m.error("axis", f"expected a unit vector, got {axis}")
    return ImuMount(site=m.str("site"), frame=m.str("frame"), joint=joint, axis=tuple(axis))


HOIST_FIELDS = ("stiffness", "damping", "height", "lower_duration", "rope_length", "hook", "body")


def _hoist(h: Fields) -> HoistSpec:
    h.refuse_unknown(HOIST_FIELDS)
    return HoistSpec(
        stiffness=h.float("stiffness", lo=0, strict=True),
        damping=h.float("damping", lo=0),
        height=h.float("height", lo=0, hi=0.5),
        lower_duration=h.float("lower_duration", lo=0, strict=True),
        rope_length=h.float("rope_length", lo=0, strict=True),
        hook=tuple(h.float_list("hook", length=3)),
        body=h.str("body") if h.has("body") else None,
    )


def _camera(cf: Fields, name: str) -> CameraMount:
    def stream(key: str) -> CameraStream | None:
        if not cf.has(key):
            return None
        s = cf.sub(key)
        return CameraStream(
            width=s.int("width", lo=1),
            height=s.int("height", lo=1),
            vfov_deg=s.float("vfov_deg", lo=1, hi=179),
            rate_hz=s.float("rate_hz", lo=0, strict=True),
            near=s.float("near", lo=0, default=0.05),
            far=s.float("far", lo=0, default=10.0),
        )

    return CameraMount(
        name=name,
        mjcf_camera=cf.str("mjcf_camera"),
        frame=cf.str("frame"),
        position=tuple(cf.float_list("position", length=3)),
        rpy=tuple(cf.float_list("rpy", length=3)),
        depth=stream("depth"),
        color=stream("color"),
    )


def check_mjcf(robot: RobotDescription) -> None:
    """The MuJoCo model must have every joint (hinge, same range), the feet, IMU site and cameras."""
    import mujoco

    src = robot.source
    if not robot.mjcf_path.is_file():
        raise ConfigError(src, "mjcf", f"MuJoCo model not found: {robot.mjcf_path}")
    try:
        m = mujoco.MjModel.from_xml_path(str(robot.mjcf_path))
    except Exception as exc:  # noqa: BLE001 - mujoco raises ValueError with the parser's message
        raise ConfigError(robot.mjcf_path, None, f"MuJoCo cannot load the model: {exc}") from exc
    for i, j in enumerate(robot.joints):
        jid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j.name)
        if jid < 0:
            raise ConfigError(src, f"joints[{i}].name", f"'{j.name}' is not a joint in {robot.mjcf_path.name}")
        if m.jnt_type[jid] != mujoco.mjtJoint.mjJNT_HINGE:
            raise ConfigError(src, f"joints[{i}].name", f"'{j.name}' is not a hinge joint in {robot.mjcf_path.name}")
        if m.jnt_limited[jid]:
            _check_stop(robot, m, i, jid)
            lo, hi = m.jnt_range[jid]
            if j.lower < lo - 1e-6 or j.upper > hi + 1e-6:
                raise ConfigError(
                    src,
                    f"joints[{i}].position",
                    f"[{j.lower}, {j.upper}] exceeds the range [{lo:.4f}, {hi:.4f}] of '{j.name}' in {robot.mjcf_path.name}",
                )
    hinge_count = sum(1 for k in range(m.njnt) if m.jnt_type[k] == mujoco.mjtJoint.mjJNT_HINGE)
    if hinge_count != robot.n_joints:
        model_names = {mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, k) for k in range(m.njnt)}
        extra = sorted(n for n in model_names if n and n not in robot.joint_names and n != "root")
        raise ConfigError(src, "joints", f"lists {robot.n_joints} joints but {robot.mjcf_path.name} has {hinge_count} hinges (unlisted: {extra})")
    lookups = [("base_body", robot.base_body, mujoco.mjtObj.mjOBJ_BODY), ("imu.site", robot.imu_site, mujoco.mjtObj.mjOBJ_SITE)]
    lookups += [(f"feet[{i}]", n, mujoco.mjtObj.mjOBJ_GEOM) for i, n in enumerate(robot.feet)]
    lookups += [(f"cameras.{c.name}.mjcf_camera", c.mjcf_camera, mujoco.mjtObj.mjOBJ_CAMERA) for c in robot.cameras.values()]
    if robot.hoist is not None and robot.hoist.body is not None:
        lookups.append(("hoist.body", robot.hoist.body, mujoco.mjtObj.mjOBJ_BODY))
    for fld, name, kind in lookups:
        if mujoco.mj_name2id(m, kind, name) < 0:
            raise ConfigError(src, fld, f"'{name}' not found in {robot.mjcf_path.name}")
    if robot.imu_mount is not None:
        _check_mount(robot, m)
    check_axes(robot, mjcf_axes(m, robot.base_body), robot.mjcf_path.name)


def _check_stop(robot: RobotDescription, m, i: int, jid: int) -> None:
    """A joint stop must be as stiff as the physics step allows (solreflimit time constant 2 x dt).

    MuJoCo's default (0.02 s) lets a leg swinging at 20 rad/s run 0.12-0.14 rad past its stop on
    every shipped model: an angle no robot reaches, past the supervisor's 1.1 x range trip, so sim
    would damp a robot for what hardware never reports (test/robots/test_joint_stops.py)."""
    timeconst = float(m.jnt_solref[jid][0])  # negative: direct stiffness, the author's own choice
    most = 2.0 * robot.physics_dt
    if timeconst > most + 1e-9:
        raise ConfigError(
            robot.mjcf_path,
            f"joint {robot.joints[i].name}",
            f"its stop is soft (solreflimit time constant {timeconst:g} s, MuJoCo's default is 0.02): a fast "
            f"swing runs ~0.1 rad past it; set solreflimit=\"{most:g} 1\" on the joints (2 x the "
            f"{robot.physics_dt:g} s physics step, as urdf/go1.xml does)",
        )


def _check_mount(robot: RobotDescription, m) -> None:
    """The mount site exists with its three sensors, sits on the body its joint turns, is aligned with
    the base at q = 0, and the joint turns about the declared axis (lucid_ros.proprio.imu_mount assumes all four)."""
    import mujoco

    src, mount, fname = robot.source, robot.imu_mount, robot.mjcf_path.name
    sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, mount.site)
    if sid < 0:
        raise ConfigError(src, "imu.mount.site", f"'{mount.site}' not found in {fname}")
    for suffix, kind in (
        ("quat", mujoco.mjtSensor.mjSENS_FRAMEQUAT),
        ("gyro", mujoco.mjtSensor.mjSENS_GYRO),
        ("acc", mujoco.mjtSensor.mjSENS_ACCELEROMETER),
    ):
        k = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, f"{mount.site}_{suffix}")
        if k < 0 or m.sensor_type[k] != kind or m.sensor_objid[k] != sid:
            raise ConfigError(src, "imu.mount.site", f"{fname} needs a {kind.name} sensor '{mount.site}_{suffix}' on site '{mount.site}'")
    jid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, mount.joint)
    if m.site_bodyid[sid] != m.jnt_bodyid[jid]:
        raise ConfigError(src, "imu.mount.joint", f"site '{mount.site}' is not on the body '{mount.joint}' turns in {fname}")
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    R_base = d.xmat[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, robot.base_body)].reshape(3, 3)
    if not np.allclose(R_base.T @ d.site_xmat[sid].reshape(3, 3), np.eye(3), atol=1e-6):
        raise ConfigError(src, "imu.mount.site", f"site '{mount.site}' in {fname} is not aligned with '{robot.base_body}' at q = 0")
    axis = R_base.T @ d.xaxis[jid]
    if not np.allclose(axis, mount.axis, atol=1e-6):
        raise ConfigError(src, "imu.mount.axis", f"{list(mount.axis)} differs from '{mount.joint}' in {fname}: {np.round(axis, 6).tolist()}")


def check_urdf(robot: RobotDescription) -> None:
    """The URDF must declare every joint as revolute with the same limits (to 1e-3)."""
    src = robot.source
    if not robot.urdf_path.is_file():
        raise ConfigError(src, "urdf", f"URDF not found: {robot.urdf_path}")
    try:
        root = ET.parse(robot.urdf_path).getroot()
    except ET.ParseError as exc:
        raise ConfigError(robot.urdf_path, None, f"not valid XML: {exc}") from exc
    urdf_joints: dict[str, Any] = {j.get("name"): j for j in root.iter("joint")}
    links = {link.get("name") for link in root.iter("link")}
    for i, j in enumerate(robot.joints):
        uj = urdf_joints.get(j.name)
        if uj is None:
            raise ConfigError(src, f"joints[{i}].name", f"'{j.name}' is not a joint in {robot.urdf_path.name}")
        if uj.get("type") not in ("revolute", "continuous"):
            raise ConfigError(src, f"joints[{i}].name", f"'{j.name}' is '{uj.get('type')}' in {robot.urdf_path.name}, expected revolute")
        lim = uj.find("limit")
        if lim is not None and uj.get("type") == "revolute":
            lo, hi = float(lim.get("lower", "nan")), float(lim.get("upper", "nan"))
            if not (math.isclose(lo, j.lower, abs_tol=1e-3) and math.isclose(hi, j.upper, abs_tol=1e-3)):
                raise ConfigError(
                    src, f"joints[{i}].position", f"[{j.lower}, {j.upper}] differs from [{lo}, {hi}] for '{j.name}' in {robot.urdf_path.name}"
                )
    check_axes(robot, urdf_axes(root), robot.urdf_path.name)
    mount = [("imu.mount.frame", robot.imu_mount.frame)] if robot.imu_mount is not None else []
    for fld, name in [("imu.frame", robot.imu_frame)] + mount + [(f"cameras.{c.name}.frame", c.frame) for c in robot.cameras.values()]:
        if name not in links:
            raise ConfigError(src, fld, f"link '{name}' not found in {robot.urdf_path.name}")
