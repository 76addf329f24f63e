"""Many copies of the SimRobot world, stepped together for training.

Physics is the same as SimRobot's by construction: the same assembled model, the same motor
law (MotorModel -> pd_torque) recomputed every physics step, the same mj_step on one MjData per
environment, so a test can require the two to agree to the last bit.

Why a Python loop over mj_step and not mujoco.rollout: the PD law needs the state at every
physics step, so a rollout call can only cover one step; it then restarts each environment from
its state vector, which drops qacc_warmstart and drifts from SimRobot (~1e-6 after 800 steps).
Measured with urdf/go1.xml, 4 physics steps per policy step, on a shared 2-core machine (load 1.4
to 3.4, so absolute numbers are noisy; the ranking held in every run), env-policy-steps/s:
  n_envs=64:  this loop 1 thread 3.4k-7.1k, 2 threads 5.1k-6.7k; rollout 1 thread 3.1k-4.6k, 2 threads 3.8k-6.0k
  n_envs=256: this loop 1 thread 4.3k-6.2k, 2 threads 6.1k-6.3k; rollout 1 thread 2.8k-4.3k, 2 threads 5.1k-5.8k
(mj_step releases the GIL, so the loop's chunks of environments step in parallel threads.)

Per-environment physical parameters (friction, payload) need per-environment MjModels: an
environment shares its terrain variant's model until it is randomised, then owns a copy
(about 0.2 MB each for Go1).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mujoco
import numpy as np

from lucid_ros.mathutil import quat_rotate_inverse
from lucid_ros.robots.description import RobotDescription
from lucid_ros.sim.courses import Course, load_course, randomize
from lucid_ros.sim.motor import MotorModel
from lucid_ros.sim.world import WorldIndex, build_model, foot_contacts, named_pose, place_on_ground

CourseLike = Course | str | Path


class BatchSim:
    """n_envs worlds; environment i uses terrain variant i % n_variants.

    Variants are the given courses, each in `variants` seeded versions (randomize(course, seed + k)).
    """

    def __init__(
        self, robot: RobotDescription, course_or_courses: CourseLike | Sequence[CourseLike], n_envs: int,
        seed: int = 0, threads: int = 2, variants: int = 1, motor: MotorModel | None = None,
    ) -> None:  # fmt: skip
        items = list(course_or_courses) if isinstance(course_or_courses, (list, tuple)) else [course_or_courses]
        courses = [c if isinstance(c, Course) else load_course(c) for c in items]
        self.robot = robot
        self.n_envs = n_envs
        self.rng = np.random.default_rng(seed)
        built = [(randomize(c, seed + k), *build_model(robot, c, seed + k)) for c in courses for k in range(variants)]
        self.courses = [b[0] for b in built]
        self.variant_models = [b[1] for b in built]
        self.indices = [b[2] for b in built]
        self.index = self.indices[0]
        _check_same_robot(self.indices)
        self.variant = np.arange(n_envs) % len(built)
        self.models = [self.variant_models[v] for v in self.variant]
        self._owned = np.zeros(n_envs, dtype=bool)
        self.datas = [mujoco.MjData(m) for m in self.models]
        self._views = [(d.qpos, d.qvel, d.ctrl, d.xfrc_applied) for d in self.datas]
        m0 = self.variant_models[0]
        self.qpos = np.zeros((n_envs, m0.nq))
        self.qvel = np.zeros((n_envs, m0.nv))
        self.ctrl = np.zeros((n_envs, m0.nu))
        self.tau = np.zeros((n_envs, robot.n_joints))
        self.cmd = np.zeros((n_envs, 5, robot.n_joints))  # q*, dq*, tau_ff, kp, kd
        self.motor = motor or MotorModel(robot.n_joints, batch=(n_envs,))
        self._effort = np.array(robot.effort_limit)
        self._push_force = np.zeros((n_envs, 3))
        self._push_steps = [0] * n_envs
        self._base_mass = float(m0.body_mass[self.index.base_body])
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self._chunks = [(int(c[0]), int(c[-1]) + 1) for c in np.array_split(np.arange(n_envs), max(1, threads)) if len(c)]
        self.reset_envs(np.ones(n_envs, dtype=bool))

    # ---- commands and stepping -----------------------------------------------------------------
    def set_commands(
        self, q: np.ndarray, dq: np.ndarray | None = None, tau: np.ndarray | None = None,
        kp: np.ndarray | None = None, kd: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """Latch joint commands, each broadcastable to (n_envs, n_joints); gains default to the robot's."""
        shape = (self.n_envs, self.robot.n_joints)
        for k, a in enumerate((q, dq, tau, self.robot.kp if kp is None else kp, self.robot.kd if kd is None else kd)):
            self.cmd[:, k] = 0.0 if a is None else np.broadcast_to(a, shape)

    def step(self, n_physics: int = 1) -> None:
        """n physics steps for every environment, the motor law recomputed at each one."""
        ix = self.index
        for _ in range(n_physics):
            q = self.qpos[:, ix.joint_qpos]
            dq = self.qvel[:, ix.joint_qvel]
            self.tau = self.motor.torque(q, dq, self.cmd, self._effort)
            self.ctrl[:, ix.actuators] = self.tau
            if self._pool is None:
                self._run(0, self.n_envs)
            else:
                for f in [self._pool.submit(self._run, lo, hi) for lo, hi in self._chunks]:
                    f.result()

    def _run(self, lo: int, hi: int) -> None:
        base, push, steps, mj_step = self.index.base_body, self._push_force, self._push_steps, mujoco.mj_step
        for i in range(lo, hi):
            qpos, qvel, ctrl, xfrc = self._views[i]
            ctrl[:] = self.ctrl[i]
            s = steps[i]
            if s > 0:  # pushing: s steps left; -1 = clear on this step (SimRobot's order exactly)
                xfrc[base, :3] = push[i]
                steps[i] = s - 1 if s > 1 else -1
            elif s < 0:
                xfrc[base, :3] = 0.0
                steps[i] = 0
            mj_step(self.models[i], self.datas[i])
            self.qpos[i] = qpos
            self.qvel[i] = qvel

    def push(self, env_ids: np.ndarray, force_world: np.ndarray, duration_s: float) -> None:
        """A force (N, world frame; (3,) or (k, 3)) on the base of the given envs for duration_s."""
        ids = self._ids(env_ids)
        self._push_force[ids] = np.broadcast_to(force_world, (len(ids), 3))
        n = int(round(duration_s / self.variant_models[0].opt.timestep))
        for i in ids:
            self._push_steps[i] = n
            if n == 0:
                self._views[i][3][self.index.base_body, :3] = 0.0

    # ---- resets and randomisation ------------------------------------------------------------
    def reset_envs(
        self, env_ids: np.ndarray, pose: str | np.ndarray = "default", joint_noise: float = 0.0,
        xy_noise: float = 0.0, yaw_noise: float = 0.0, lin_vel_noise: float = 0.0, ang_vel_noise: float = 0.0,
    ) -> None:  # fmt: skip
        """Reset the given envs (bool mask or indices) to `pose` at rest on the ground at their spawn.

        Noise terms are half-widths of uniform draws from self.rng: joint angles (clipped to limits),
        spawn xy, yaw, then base linear/angular velocity added after placing. Commands become passive.
        """
        ids = self._ids(env_ids)
        q0, roll_pitch = named_pose(self.robot, pose)
        ix, lo, hi = self.index, self.robot.lower, self.robot.upper
        for i in ids:
            m, d, course = self.models[i], self.datas[i], self.courses[self.variant[i]]
            mujoco.mj_resetData(m, d)
            q = np.clip(q0 + self.rng.uniform(-joint_noise, joint_noise, q0.shape), lo, hi) if joint_noise else q0
            xy = np.array(course.spawn_xy) + (self.rng.uniform(-xy_noise, xy_noise, 2) if xy_noise else 0.0)
            yaw = course.spawn_yaw + (self.rng.uniform(-yaw_noise, yaw_noise) if yaw_noise else 0.0)
            place_on_ground(m, d, self._index_of(i), q, (float(xy[0]), float(xy[1])), yaw, roll_pitch)
            if lin_vel_noise:
                d.qvel[ix.root_qvel : ix.root_qvel + 3] = self.rng.uniform(-lin_vel_noise, lin_vel_noise, 3)
            if ang_vel_noise:
                d.qvel[ix.root_qvel + 3 : ix.root_qvel + 6] = self.rng.uniform(-ang_vel_noise, ang_vel_noise, 3)
            self.qpos[i] = d.qpos
            self.qvel[i] = d.qvel
            self._push_steps[i] = 0
        self.cmd[ids] = 0.0
        self.tau[ids] = 0.0
        self._push_force[ids] = 0.0
        self.motor.reset(ids)

    def set_friction(self, env_ids: np.ndarray, mu: float | np.ndarray) -> None:
        """Sliding friction of the course surfaces per env (course geoms have contact priority)."""
        ids = self._ids(env_ids)
        for i, v in zip(ids, np.broadcast_to(mu, (len(ids),)), strict=True):
            self._own(i).geom_friction[self._index_of(i).course_geoms, 0] = v

    def set_payload(self, env_ids: np.ndarray, kg: float | np.ndarray) -> None:
        """Extra mass (kg) at the base's centre of mass per env; 0 restores the model's mass."""
        ids = self._ids(env_ids)
        for i, v in zip(ids, np.broadcast_to(kg, (len(ids),)), strict=True):
            m = self._own(i)
            m.body_mass[self.index.base_body] = self._base_mass + v
            mujoco.mj_setConst(m, mujoco.MjData(m))  # derived constants (invweight, subtree mass)

    # ---- readers (n_envs, ...) -----------------------------------------------------------------
    @property
    def q(self) -> np.ndarray:
        return self.qpos[:, self.index.joint_qpos]

    @property
    def dq(self) -> np.ndarray:
        return self.qvel[:, self.index.joint_qvel]

    @property
    def base_pos(self) -> np.ndarray:
        return self.qpos[:, self.index.root_qpos : self.index.root_qpos + 3].copy()

    @property
    def base_quat(self) -> np.ndarray:
        quat = self.qpos[:, self.index.root_qpos + 3 : self.index.root_qpos + 7]
        return quat / np.linalg.norm(quat, axis=1, keepdims=True)

    @property
    def lin_vel_world(self) -> np.ndarray:
        return self.qvel[:, self.index.root_qvel : self.index.root_qvel + 3].copy()

    @property
    def lin_vel_body(self) -> np.ndarray:
        return quat_rotate_inverse(self.base_quat, self.lin_vel_world)

    @property
    def ang_vel_body(self) -> np.ndarray:
        return self.qvel[:, self.index.root_qvel + 3 : self.index.root_qvel + 6].copy()

    @property
    def time(self) -> np.ndarray:
        """Sim time since each env's last reset."""
        return np.array([d.time for d in self.datas])

    def foot_contacts(self) -> np.ndarray:
        """(n_envs, n_feet) 0/1 from the contacts of the last physics step (at most one step old)."""
        return np.stack([foot_contacts(self.models[i], self.datas[i], self._index_of(i)) for i in range(self.n_envs)])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    # ---- helpers -------------------------------------------------------------------------------
    def _ids(self, env_ids: np.ndarray) -> np.ndarray:
        a = np.asarray(env_ids)
        if a.dtype == bool:
            if a.shape != (self.n_envs,):
                raise ValueError(f"env mask must have shape ({self.n_envs},), got {a.shape}")
            return np.flatnonzero(a)
        return np.atleast_1d(a).astype(np.int64)

    def _index_of(self, i: int) -> WorldIndex:
        return self.indices[self.variant[i]]

    def _own(self, i: int) -> mujoco.MjModel:
        if not self._owned[i]:
            self.models[i] = copy.copy(self.models[i])
            self._owned[i] = True
        return self.models[i]


def _check_same_robot(indices: list[WorldIndex]) -> None:
    """Joint, actuator and root addresses must agree across variants: they are read in bulk."""
    a = indices[0]
    for b in indices[1:]:
        same = np.array_equal(a.joint_qpos, b.joint_qpos) and np.array_equal(a.joint_qvel, b.joint_qvel)
        same = (
            same and np.array_equal(a.actuators, b.actuators) and (a.root_qpos, a.root_qvel, a.base_body) == (b.root_qpos, b.root_qvel, b.base_body)
        )
        if not same:
            raise ValueError("course variants changed the robot's joint or actuator addresses")
