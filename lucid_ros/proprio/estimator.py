"""The policy's view of the body: projected gravity, angular velocity, a body-velocity estimate
and per-foot contact, from one joint sample and one IMU sample of the same tick.

Body velocity (leg odometry fused with the accelerometer)
--------------------------------------------------------
A foot in stance does not move in the world. With p_foot = p_base + R r (r: foot position in the
base frame, a function of q), differentiating gives 0 = v_world + R (ω × r + ṙ), so in the body
frame
    v_leg = −(J(q) dq + ω × r)        for each stance foot,
averaged over the feet weighted by their contact estimate. J and r come from forward kinematics
of the robot's own MuJoCo model (`robot.mjcf_path`) in a private MjData whose base sits fixed at
the origin: the same geometry the simulator and training use, for any number of feet.

Leg odometry is unbiased but jumps at touchdown and slip; the accelerometer is smooth but
integrates to drift. A complementary filter takes the best of both:
    predict  v ← v + dt (acc + g·gravity_b − ω × v)      (body-frame kinematics, acc = specific force)
    correct  v ← v + α (v_leg − v),   α = dt / (τ + dt),   τ = `tau` (default 0.05 s)
τ = 0.05 s trusts the legs on a ~50 ms horizon: at 50 Hz, α ≈ 0.29, so a leg-odometry spike is
attenuated ~3.5x while a real velocity change is tracked within ~3 ticks, and accelerometer bias
b only leaves a steady error τ·b (0.05 m/s for a 1 m/s² bias). A gap in the data longer than
`max_dt` restarts the filter from v_leg instead of integrating across it.

Contacts (0..1)
---------------
From foot height along gravity relative to the lowest foot: the lowest foot is in contact (1),
a foot more than `contact_band[1]` above it is in the air (0), linear in between; the band's
lower edge absorbs the kinematic error between feet standing on the same ground. This needs no
force sensing (the Go1's foot sensors are unreliable and H1 has none) and works for 2 or 4 feet,
but it calls a foot on a step higher than the others 'swing'; terrain-aware policies should use
their own contact terms. The lowest foot always counts as stance, so v_leg always exists.

Cost: one mj_kinematics + mj_comPos and one mj_jacGeom per foot, and no general numpy
cross/rotate helpers (those alone cost more than the kinematics): measured 60-85 µs per update
for Go1 and H1 on the shared 2-core dev machine (test_update_costs_less_than_0_3_ms).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointSample, ProprioState

GRAVITY = 9.81  # m/s², the accelerometer's 1 g
TAU = 0.05  # s, complementary filter time constant (see module docstring)
CONTACT_BAND = (0.01, 0.04)  # m above the lowest foot: full contact below, none above
MAX_DT = 0.1  # s, a longer gap restarts the filter


class ProprioEstimator:
    """Stateful (the velocity filter): one instance per robot stream, `update` once per tick."""

    def __init__(self, robot: RobotDescription, tau: float = TAU, contact_band: tuple[float, float] = CONTACT_BAND, max_dt: float = MAX_DT):
        self.robot = robot
        self.tau = tau
        self.contact_band = contact_band
        self.max_dt = max_dt
        try:
            self.model = mujoco.MjModel.from_xml_path(str(robot.mjcf_path))
        except Exception as exc:  # noqa: BLE001 - mujoco raises ValueError with the parser's message
            raise ConfigError(robot.mjcf_path, None, f"MuJoCo cannot load the model: {exc}") from exc
        m = self.model
        self.data = mujoco.MjData(m)
        self._qadr, self._dadr = self._joint_addresses()
        self._base = self._id(mujoco.mjtObj.mjOBJ_BODY, robot.base_body, "base_body")
        self._feet = [self._id(mujoco.mjtObj.mjOBJ_GEOM, f, f"feet[{i}]") for i, f in enumerate(robot.feet)]
        # Pin the base at the origin, level and still: the model's world frame is the base frame.
        self.data.qpos[:] = m.qpos0
        jnt = m.body_jntadr[self._base]
        if jnt >= 0 and m.jnt_type[jnt] == mujoco.mjtJoint.mjJNT_FREE:
            a = m.jnt_qposadr[jnt]
            self.data.qpos[a : a + 7] = [0, 0, 0, 1, 0, 0, 0]
        self.data.qvel[:] = 0.0
        self._jac = np.zeros((len(self._feet), 3, m.nv))
        self._v = np.zeros(3)
        self._last: float | None = None
        self._stamps: dict[str, float | None] = {"joint_states": None, "imu": None}

    def _id(self, kind: mujoco.mjtObj, name: str, field: str) -> int:
        i = mujoco.mj_name2id(self.model, kind, name)
        if i < 0:
            raise ConfigError(self.robot.source, field, f"'{name}' not found in {self.robot.mjcf_path.name}")
        return i

    def _joint_addresses(self) -> tuple[np.ndarray, np.ndarray]:
        ids = [self._id(mujoco.mjtObj.mjOBJ_JOINT, n, f"joints[{i}].name") for i, n in enumerate(self.robot.joint_names)]
        return self.model.jnt_qposadr[ids].copy(), self.model.jnt_dofadr[ids].copy()

    def reset(self) -> None:
        """Forget the velocity filter and input stamps (sim reset, time jumping backwards)."""
        self._v[:] = 0.0
        self._last = None
        self._stamps = dict.fromkeys(self._stamps)

    def ages(self, now: float) -> dict[str, float | None]:
        """Seconds since each input's last stamp (None if never received), for diagnostics."""
        return {k: (None if s is None else now - s) for k, s in self._stamps.items()}

    def feet(self, q: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Foot positions and velocities relative to the base, in the base frame, (n_feet, 3) each."""
        m, d = self.model, self.data
        d.qpos[self._qadr] = q
        d.qvel[self._dadr] = dq
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        for i, g in enumerate(self._feet):
            mujoco.mj_jacGeom(m, d, self._jac[i], None, g)
        rot = d.xmat[self._base].reshape(3, 3)  # identity unless the model has no free base
        pos = (d.geom_xpos[self._feet] - d.xpos[self._base]) @ rot
        vel = (self._jac @ d.qvel) @ rot
        return pos, vel

    def contacts(self, foot_pos: np.ndarray, gravity: np.ndarray) -> np.ndarray:
        """0..1 per foot from height along gravity above the lowest foot (module docstring)."""
        height = -(foot_pos @ gravity)
        above = height - height.min()
        lo, hi = self.contact_band
        return np.clip((hi - above) / (hi - lo), 0.0, 1.0)

    def update(self, joints: JointSample, imu: ImuSample) -> ProprioState:
        """One tick. Non-finite inputs pass through to the state (the safety supervisor refuses
        them) but never enter the velocity filter, which holds its last value instead."""
        q = np.asarray(joints.q, dtype=np.float64)
        dq = np.asarray(joints.dq, dtype=np.float64)
        quat = np.asarray(imu.quat, dtype=np.float64)
        gyro = np.asarray(imu.gyro, dtype=np.float64)
        acc = np.asarray(imu.acc, dtype=np.float64)
        self._stamps["joint_states"], self._stamps["imu"] = joints.stamp, imu.stamp
        gravity = _projected_gravity(quat)
        sane = np.all(np.isfinite(q)) and np.all(np.isfinite(dq))
        if sane:
            pos, vel = self.feet(q, dq)
            contacts = self.contacts(pos, gravity) if np.all(np.isfinite(gravity)) else np.ones(len(self._feet))
        else:
            contacts = np.zeros(len(self._feet))
        v_leg = None
        omega = _skew(gyro)  # omega @ r == gyro x r
        if sane and np.all(np.isfinite(omega)):
            v_feet = -(vel + pos @ omega.T)
            v_leg = contacts @ v_feet / contacts.sum()
        self._filter(float(joints.stamp), v_leg, acc, omega, gravity)
        return ProprioState(
            stamp=joints.stamp,
            q=q,
            dq=dq,
            tau=np.asarray(joints.tau, dtype=np.float64),
            quat=quat,
            gravity=gravity,
            ang_vel=gyro,
            lin_vel=self._v.copy(),
            contacts=contacts,
        )

    def _filter(self, stamp: float, v_leg: np.ndarray | None, acc: np.ndarray, omega: np.ndarray, gravity: np.ndarray) -> None:
        dt = stamp - self._last if self._last is not None else math.nan
        if not (0.0 < dt <= self.max_dt):  # first tick, a gap, or time going backwards: restart
            if v_leg is not None:
                self._v = v_leg
                self._last = stamp
            return
        self._last = stamp
        v = self._v
        accel = acc + GRAVITY * gravity - omega @ v
        if np.all(np.isfinite(accel)):
            v = v + dt * accel
        if v_leg is not None:
            v = v + (dt / (self.tau + dt)) * (v_leg - v)
        if np.all(np.isfinite(v)):
            self._v = v


# Closed forms for single vectors: numpy's general cross/rotate cost ~20-50 µs per call here,
# more than all of the kinematics. test_estimator checks them against lucid_ros.mathutil.
def _projected_gravity(quat: np.ndarray) -> np.ndarray:
    """R(q)^T (0, 0, -1) for a world-from-body (w, x, y, z), normalised first; NaN if degenerate."""
    n2 = float(quat @ quat)
    if not n2 > 0:
        return np.full(3, np.nan)
    w, x, y, z = (float(c) for c in quat)
    s = 2.0 / n2
    return np.array([-s * (x * z - w * y), -s * (y * z + w * x), -1.0 + s * (x * x + y * y)])


def _skew(v: np.ndarray) -> np.ndarray:
    """The matrix S with S @ r == v x r."""
    x, y, z = (float(c) for c in v)
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
