"""One simulated robot on one course: what the sim bridge node drives at the graph's tick.

It behaves like a hardware backend: `apply()` latches a JointCommand, `step()` runs the motor law
(`pd_torque`, through MotorModel) at every physics step as a motor driver would, and the readers
return the same `lucid_ros.types` a driver returns, in canonical joint order.

MUJOCO_GL must be chosen before mujoco is first imported; headless machines need EGL, so it
defaults to 'egl' here (and in lucid_ros/sim/__init__.py) unless the user set it.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from lucid_ros.mathutil import quat_rotate_inverse, yaw_of  # noqa: E402
from lucid_ros.robots.description import HoistSpec, RobotDescription  # noqa: E402
from lucid_ros.sim.courses import Course, load_course, randomize  # noqa: E402
from lucid_ros.sim.hoist import RELEASED, Hoist  # noqa: E402
from lucid_ros.sim.motor import MotorModel  # noqa: E402
from lucid_ros.sim.world import build_model, foot_contacts, named_pose, place_on_ground  # noqa: E402
from lucid_ros.types import MODES, ImuSample, JointCommand, JointSample  # noqa: E402


@dataclass
class GroundTruth:
    """What the simulator knows and a robot only estimates (evaluation, metrics, privileged obs)."""

    stamp: float
    pos: np.ndarray  # (3,) base position, world
    quat: np.ndarray  # (4,) (w, x, y, z) world-from-base
    lin_vel_world: np.ndarray
    lin_vel_body: np.ndarray
    ang_vel_body: np.ndarray


def command_array(cmd: JointCommand, n_joints: int) -> np.ndarray:
    """(5, n) = q*, dq*, tau_ff, kp, kd with the command's mode folded in, as the motors obey it."""
    if cmd.mode not in MODES:
        raise ValueError(f"unknown command mode {cmd.mode!r}; expected one of {list(MODES)}")
    out = np.zeros((5, n_joints))
    if cmd.mode == "passive":
        return out
    for k, a in enumerate((cmd.q, cmd.dq, cmd.tau, cmd.kp, cmd.kd)):
        a = np.asarray(a, dtype=np.float64)
        if a.shape != (n_joints,):
            raise ValueError(f"command arrays must have {n_joints} joints, got shape {a.shape}")
        out[k] = a
    if not np.all(np.isfinite(out)):
        raise ValueError("command has non-finite values")
    if cmd.mode == "damping":  # kp = 0, no feed-forward: the motors only resist motion
        out[[0, 1, 2, 3]] = 0.0
    return out


class SimRobot:
    """`hoist` (the robot's `hoist:` block, or None): hang the robot from an elastic hoist at every
    upright reset, as a real humanoid starts (lucid_ros.sim.hoist); `lower_hoist()` sets it down."""

    def __init__(
        self, robot: RobotDescription, course: Course | str | Path = "flat", seed: int = 0, motor: MotorModel | None = None,
        hoist: HoistSpec | None = None,
    ) -> None:  # fmt: skip
        if not isinstance(course, Course):
            course = load_course(course)
        self.robot = robot
        self.course = randomize(course, seed)
        self.model, self.index = build_model(robot, course, seed)
        self.data = mujoco.MjData(self.model)
        self.motor = motor or MotorModel(robot.n_joints)
        self._effort = np.array(robot.effort_limit)
        self._cmd = np.zeros((5, robot.n_joints))
        self._push = np.zeros(3)
        self._push_steps = 0
        self._fresh = False  # do derived quantities (sensors, contacts, poses) match qpos/qvel?
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        # callables(model, data) after every physics step, reading only (evaluation.jumps.ContactRecorder)
        self.physics_hooks: list = []
        total_mass = float(self.model.body_subtreemass[self.index.base_body])
        self.hoist = Hoist(hoist, total_mass, -float(self.model.opt.gravity[2])) if hoist is not None else None
        # the body the harness is on: the base, or (hoist.body) e.g. a G1's torso above its waist joints
        self._hook_body = self.index.base_body
        if hoist is not None and hoist.body is not None:
            self._hook_body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, hoist.body)
        self.reset()

    @property
    def hook_body(self) -> int:
        """MuJoCo body id the hoist's harness is on (the base unless the `hoist:` block names one)."""
        return self._hook_body

    @property
    def time(self) -> float:
        return float(self.data.time)

    def reset(self, pose: str | np.ndarray = "default", base_xyz: np.ndarray | None = None, yaw: float | None = None) -> None:
        """Put the robot at rest in `pose` ('default', 'crouch', 'lying' or joint angles).

        With base_xyz None the base goes over the course spawn point at the height where the robot
        just touches the ground; yaw None means the course's spawn yaw. The command becomes passive.
        Sim time keeps running, so a graph clock driven by it never goes backwards.
        """
        t = self.data.time
        mujoco.mj_resetData(self.model, self.data)
        self.data.time = t
        q, roll_pitch = named_pose(self.robot, pose)
        yaw = self.course.spawn_yaw if yaw is None else float(yaw)
        if base_xyz is None:
            place_on_ground(self.model, self.data, self.index, q, self.course.spawn_xy, yaw, roll_pitch)
        else:
            place_on_ground(self.model, self.data, self.index, q, tuple(base_xyz[:2]), yaw, roll_pitch)
            self.data.qpos[self.index.root_qpos + 2] = float(base_xyz[2])
            mujoco.mj_forward(self.model, self.data)
        if self.hoist is not None:
            self._hang(pose, base_xyz)
        self.motor.reset()
        self._cmd[:] = 0.0
        self._push_steps = 0
        self._fresh = True

    def _hang(self, pose: str | np.ndarray, base_xyz: np.ndarray | None) -> None:
        if isinstance(pose, str) and pose == "lying":
            self.hoist.release()
            return
        if base_xyz is None:
            self.data.qpos[self.index.root_qpos + 2] += self.hoist.spec.height
            mujoco.mj_forward(self.model, self.data)
        self.hoist.hang(self._hook()[0])

    def steady(self) -> None:
        """An operator steadying a hung robot by hand: every motion stops and the rope hangs straight
        above the hook again (a 1 m rope swings undamped sideways: ±5 cm at lowering tipped a stand)."""
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)
        if self.hoist is not None and self.hoist.phase(self.time) != RELEASED:
            self.hoist.hang(self._hook()[0])
        self._fresh = True

    def lower_hoist(self, t0: float) -> float | None:
        """Start lowering the hoist at sim time t0; returns when it will be released (None: no hoist)."""
        return None if self.hoist is None else self.hoist.lower(t0)

    def _hook(self) -> tuple[np.ndarray, np.ndarray]:
        """The hoist's hook: world position and velocity. On the base body from qpos/qvel (current);
        on another body from the last step's kinematics (one 2 ms step old: a rope of ~10 rad/s
        does not notice) and its Jacobian."""
        if self._hook_body != self.index.base_body:
            b = self._hook_body
            p = self.data.xpos[b] + self.data.xmat[b].reshape(3, 3) @ np.asarray(self.hoist.spec.hook)
            jacp = np.zeros((3, self.model.nv))
            mujoco.mj_jac(self.model, self.data, jacp, None, p, b)
            return p, jacp @ self.data.qvel
        r, v = self.index.root_qpos, self.index.root_qvel
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, self.data.qpos[r + 3 : r + 7])
        rot = rot.reshape(3, 3)
        arm = rot @ np.asarray(self.hoist.spec.hook)
        omega_world = rot @ self.data.qvel[v + 3 : v + 6]  # free joint: angular velocity in the body frame
        return self.data.qpos[r : r + 3] + arm, self.data.qvel[v : v + 3] + np.cross(omega_world, arm)

    def _hoist_wrench(self) -> np.ndarray:
        """The rope force as an xfrc_applied wrench on the hook's body (force, torque about its CoM)."""
        hook, vel = self._hook()
        f = self.hoist.force(self.data.time, hook, vel)
        if not f.any():
            return np.zeros(6)
        return np.concatenate([f, np.cross(hook - self.data.xipos[self._hook_body], f)])

    def apply(self, cmd: JointCommand) -> None:
        """Latch a command until the next apply(); ValueError (command unchanged) if malformed."""
        self._cmd = command_array(cmd, self.robot.n_joints)

    def apply_push(self, force_world_xyz: np.ndarray, duration_s: float) -> None:
        """A force (N, world frame) on the base for `duration_s` of sim time (whole physics steps)."""
        self._push = np.asarray(force_world_xyz, dtype=np.float64).reshape(3).copy()
        self._push_steps = int(round(duration_s / self.model.opt.timestep))

    def step(self, n: int = 1) -> None:
        """n physics steps; the motor torque is recomputed from the latched command at each one."""
        m, d, ix = self.model, self.data, self.index
        for _ in range(n):
            push = self._push if self._push_steps > 0 else 0.0
            self._push_steps = max(0, self._push_steps - 1)
            d.xfrc_applied[ix.base_body] = 0.0  # the push and the hoist own xfrc_applied; set anew each step
            if self.hoist is not None:
                d.xfrc_applied[self._hook_body] = self._hoist_wrench()  # on the hook's body (the base or, e.g., a torso)
            d.xfrc_applied[ix.base_body, :3] += push
            tau = self.motor.torque(d.qpos[ix.joint_qpos], d.qvel[ix.joint_qvel], self._cmd, self._effort)
            d.ctrl[ix.actuators] = tau
            mujoco.mj_step(m, d)
            for fn in self.physics_hooks:
                fn(m, d)
        self._fresh = False

    # ---- readers: lucid_ros.types in canonical joint order -------------------------------------
    def joint_sample(self) -> JointSample:
        d, ix = self.data, self.index
        return JointSample(self.time, d.qpos[ix.joint_qpos].copy(), d.qvel[ix.joint_qvel].copy(), d.actuator_force[ix.actuators].copy())

    def imu_sample(self) -> ImuSample:
        self._refresh()
        s, ix = self.data.sensordata, self.index
        quat = s[ix.imu_quat : ix.imu_quat + 4].copy()
        return ImuSample(self.time, quat / np.linalg.norm(quat), s[ix.imu_gyro : ix.imu_gyro + 3].copy(), s[ix.imu_acc : ix.imu_acc + 3].copy())

    def mount_imu_sample(self) -> ImuSample:
        """The robot's own IMU where it really is (robot.imu_mount: sensors <site>_quat/_gyro/_acc), else
        the base's: what a fake robot puts on the wire."""
        mount = self.robot.imu_mount
        if mount is None:
            return self.imu_sample()
        self._refresh()
        m, s = self.model, self.data.sensordata
        adr = [int(m.sensor(f"{mount.site}_{k}").adr[0]) for k in ("quat", "gyro", "acc")]
        quat = s[adr[0] : adr[0] + 4].copy()
        return ImuSample(self.time, quat / np.linalg.norm(quat), s[adr[1] : adr[1] + 3].copy(), s[adr[2] : adr[2] + 3].copy())

    def ground_truth(self) -> GroundTruth:
        r, v = self.index.root_qpos, self.index.root_qvel
        quat = self.data.qpos[r + 3 : r + 7].copy()
        quat /= np.linalg.norm(quat)
        lin = self.data.qvel[v : v + 3].copy()  # free joint: linear velocity in world, angular in body
        return GroundTruth(
            self.time, self.data.qpos[r : r + 3].copy(), quat, lin, quat_rotate_inverse(quat, lin), self.data.qvel[v + 3 : v + 6].copy()
        )

    def planar_pose(self) -> tuple[float, float, float]:
        """(x, y, yaw) of the base: what an operator steering along a course reads, at every tick of
        a fake robot's remote (without ground_truth's body-frame velocities)."""
        r = self.index.root_qpos
        quat = self.data.qpos[r + 3 : r + 7]
        return float(self.data.qpos[r]), float(self.data.qpos[r + 1]), float(yaw_of(quat / np.linalg.norm(quat)))

    def foot_contacts(self) -> np.ndarray:
        """(n_feet,) 0/1 in robot.feet order: the foot touches something that is not the robot."""
        self._refresh()
        return foot_contacts(self.model, self.data, self.index)

    def snapshot(self) -> mujoco.MjData:
        """A copy of the world now (kinematics current) that `render(..., data=)` can draw in another
        thread while this one steps on: a camera must not stall the physics it films."""
        self._refresh()
        snap = mujoco.MjData(self.model)
        mujoco.mj_copyData(snap, self.model, self.data)
        return snap

    def render(
        self, camera_name: str = "ego", width: int | None = None, height: int | None = None, depth: bool = False, data: mujoco.MjData | None = None,
    ) -> np.ndarray:  # fmt: skip
        """RGB (h, w, 3) uint8 or depth (h, w) float32 metres from a named camera.

        camera_name is a mount name from the robot YAML ('ego') or an MJCF camera name; the size
        defaults to that mount's depth or color stream. Renderers are cached per size. `data`: draw
        a `snapshot()` instead of the live world (then from one thread only).
        """
        cid = self.index.cameras.get(camera_name)
        if cid is None:
            cid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name)
            if cid < 0:
                raise KeyError(f"no camera '{camera_name}' (robot cameras: {sorted(self.index.cameras)})")
        mount = next((c for c in self.robot.cameras.values() if camera_name in (c.name, c.mjcf_camera)), None)
        stream = (mount.depth if depth else mount.color) if mount else None
        width = width or (stream.width if stream else 320)
        height = height or (stream.height if stream else 240)
        g = self.model.vis.global_
        if width > g.offwidth or height > g.offheight:
            raise ValueError(f"{width}x{height} exceeds the offscreen buffer {g.offwidth}x{g.offheight} of this model")
        if data is None:
            self._refresh()
        r = self._renderers.get((width, height))
        if r is None:
            r = self._renderers[(width, height)] = mujoco.Renderer(self.model, height, width)
        if depth:
            r.enable_depth_rendering()
        try:
            r.update_scene(self.data if data is None else data, camera=int(cid))
            return r.render().copy()
        finally:
            if depth:
                r.disable_depth_rendering()

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    def _refresh(self) -> None:
        """mj_step leaves sensors and contacts at the start of its step; recompute them for now.

        mj_forward writes no state mj_step reads except qacc_warmstart (when nothing is constrained),
        which is restored, so reading never changes the trajectory: SimRobot and BatchSim agree.
        """
        if not self._fresh:
            warm = self.data.qacc_warmstart.copy()
            mujoco.mj_forward(self.model, self.data)
            self.data.qacc_warmstart[:] = warm
            self._fresh = True
