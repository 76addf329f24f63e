"""WalkEnv: n Go1 worlds stepped together for PPO, through the runtime's own code paths.

What is shared with the runtime, imported (never copied):
- the world: `sim.world.build_model(robot, course)` (robot MJCF + course), addresses from its WorldIndex;
- the motors: `sim.motor.MotorModel` (pd_torque every 2 ms physics step, with strength, gain scales
  and latency as its randomisation knobs), 10 physics steps per 50 Hz policy step (robot rate_hz,
  physics_dt);
- the observation: `policy.observations.ObservationBuilder` built from the exported spec, fed the
  IMU sensors (by name) and joint encoders, plus noise;
- the action: `policy.actions.ActionMapper` then `safety.limits.clip_targets` (joint limits and
  the per-tick rate limit the supervisor applies).

Why not lucid_ros.sim.batch.BatchSim: it did not exist when this was written, and it keeps one
MjModel copy per randomised env with a Python thread pool over mj_step. Here `mujoco.batch.Batch`
does the same physics (every env is mj_step on its own state row, the MotorModel torque set
before each physics step) with friction and payload as per-env *expanded* model fields, no model
copies, and the stepping in C threads. test/training/test_walk_env.py checks that a WalkEnv
trajectory equals SimRobot's (the sim bridge's world) to 1e-9, so the choice cannot change the
physics. Python calls `MotorModel.torque` (numpy, all envs at once) before every physics step;
measured on 2 cores this is as fast as letting MuJoCo run 10 substeps itself (the Python work
is ~5% of a physics step of 512 envs).

Two sub-batches: a share of the envs on a plane ('flat' course) and the rest on the 'rough'
course (+-3 cm heightfield), enlarged so an episode does not walk off it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from lucid_ros.mathutil import projected_gravity, quat_rotate, quat_rotate_inverse, quat_to_rpy, rpy_to_quat
from lucid_ros.policy.actions import ActionMapper
from lucid_ros.policy.observations import ObservationBuilder, ObsInputs
from lucid_ros.policy.spec import PolicySpec
from lucid_ros.robots.description import RobotDescription
from lucid_ros.safety.checks import joints_out_of_range
from lucid_ros.safety.limits import clip_targets
from lucid_ros.sim.courses import Course, load_course
from lucid_ros.sim.heights import CourseHeights
from lucid_ros.sim.motor import MotorModel
from lucid_ros.sim.world import WorldIndex, build_model, foot_bottom
from lucid_ros.training import rewards as R
from lucid_ros.training.config import EnvConfig

PRIV_DIM = 21  # privileged critic inputs of a four-footed robot, see _observe (priv_dim)


def priv_dim(robot: RobotDescription) -> int:
    """Privileged critic inputs: 17 + one contact flag per foot (Go1: 21)."""
    return 17 + len(robot.feet)


class Terrain:
    """Ground height under (x, y) for a training course: the sim's own height map
    (lucid_ros.sim.heights.CourseHeights: plane or heightfield, boxes, pits), so training and the
    running sim agree to the float32 rounding MuJoCo stores a heightfield with. Off a rough field's
    edge the edge's height (the field is the whole world there; nothing is measured past it)."""

    def __init__(self, course: Course):
        self.course = course
        self.heights = CourseHeights(course)
        g = course.ground
        self.rough = g.kind == "rough"
        self._lo = (g.center[0] - g.extent[0] / 2, g.center[1] - g.extent[1] / 2)
        self._hi = (g.center[0] + g.extent[0] / 2, g.center[1] + g.extent[1] / 2)

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if self.rough:
            x, y = np.clip(x, self._lo[0], self._hi[0]), np.clip(y, self._lo[1], self._hi[1])
        return self.heights(np.stack([x, y], axis=-1))


@dataclass
class _World:
    """One mujoco.batch.Batch over a slice of the envs, with its bound arrays."""

    model: mujoco.MjModel
    index: WorldIndex
    terrain: Terrain
    batch: mjbatch.Batch
    sl: slice

    def __post_init__(self):
        b = self.batch
        self.qpos, self.qvel, self.ctrl = b.bind("qpos"), b.bind("qvel"), b.bind("ctrl")
        self.xfrc = b.bind("xfrc_applied")
        self.sensordata, self.cfrc_ext, self.geom_xpos = b.bind("sensordata"), b.bind("cfrc_ext"), b.bind("geom_xpos")
        self.friction = b.expand("geom_friction")
        self.body_mass = b.expand("body_mass")
        self.base_mass = float(self.model.body_mass[self.index.base_body])


class WalkEnv:
    """Batched velocity-tracking env. `reset_all() -> (obs, priv)`; `step(raw) -> (obs, priv, rew, done, timeout, info)`."""

    def __init__(self, robot: RobotDescription, spec: PolicySpec, cfg: EnvConfig, seed: int = 0, nthread: int = 2):
        self.robot, self.spec, self.cfg = robot, spec, cfg
        self.n = n = cfg.n_envs
        self.rng = np.random.default_rng(seed)
        self.dt = 1.0 / spec.rate_hz
        self.substeps = int(round(self.dt / robot.physics_dt))
        self.builder = ObservationBuilder(spec, robot, batch=n)
        self.mapper = ActionMapper(spec, robot)
        self.motor = MotorModel(robot.n_joints, batch=(n,))
        self.effort = robot.effort_limit
        self.default = robot.default_pose
        self.gait_frequency = next(t.frequency for t in spec.observation.terms if t.name == "gait_phase")
        self.worlds: list[_World] = self._make_worlds(nthread)
        w0 = self.worlds[0]
        m, ix = w0.model, w0.index
        self.feet_body = m.geom_bodyid[ix.feet]  # the calf bodies carrying the foot spheres
        self.foot_radius = foot_bottom(m, ix.feet)
        names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i) or "" for i in range(m.nbody)]
        # bodies that should never touch the ground: a quadruped's thighs and hip housings, a biped's
        # knees, hips and hands
        legs = ("_thigh", "_hip") if robot.kind == "quadruped" else ("knee_link", "hip_roll_link", "hip_yaw_link", "hand", "elbow_link")
        self.knee_bodies = np.array([i for i, s in enumerate(names) if s.endswith(legs)], dtype=np.int64)
        self.trunk_contact_ends = True  # the trunk touching anything ends the episode as a fall
        # the hip joints kept near their default (quadruped abduction; biped roll and yaw: feet under the body)
        hip = (lambda j: j.endswith("hip_joint")) if robot.kind == "quadruped" else (lambda j: "hip_roll" in j or "hip_yaw" in j)
        self.hips = robot.index_of([j for j in robot.joint_names if hip(j)])
        self.gait_offsets = R.GAITS[gait_of(robot)]
        self.n_feet = nf = len(robot.feet)
        if len(self.gait_offsets) != nf:
            raise ValueError(f"{robot.name}: {nf} feet, but the gait clock has {len(self.gait_offsets)}")
        self.height_ref = 0.3 if robot.kind == "quadruped" else robot.nominal_base_height  # critic input offset
        # per-env state
        z = lambda *s: np.zeros((n, *s))  # noqa: E731
        self.command = z(3)
        self.cmd_timer = z()
        self.t = z()  # s since episode start (= phase time)
        self.t_limit = np.full(n, cfg.episode_s)  # the first episodes end at random times (desync)
        self.last_action = z(spec.n_act)
        self.prev_target = np.broadcast_to(self.default, (n, robot.n_joints)).copy()
        self.last_dq = z(robot.n_joints)
        self.air = z(nf)
        self.push_timer = z()
        self.push_left = z()
        self.push_force = z(3)
        self.dr_friction = z()
        self.dr_payload = z()
        self.dr_strength = np.ones(n)
        self.dr_kp = np.ones(n)
        self.dr_kd = np.ones(n)
        # Latency is drawn once per env for the whole run: MotorModel's delay line is rebuilt (and
        # every env's queue cleared) by set_latency, so redrawing it at each reset would keep
        # resetting the delay of the envs still running. 512 envs cover 0..10 steps many times.
        self.dr_latency = self.rng.integers(cfg.latency_steps[0], cfg.latency_steps[1] + 1, n)
        self.motor.set_latency(self.dr_latency)
        self.progress = 0.0  # 0..1 through training: command curriculum and push strength
        self.terrain_ids = np.zeros(n)
        for w in self.worlds:
            self.terrain_ids[w.sl] = float(w.terrain.rough)

    def _make_worlds(self, nthread: int) -> list[_World]:
        """flat_fraction of the envs on a plane, the rest on the enlarged rough course."""
        cfg, n = self.cfg, self.n
        n_flat = int(round(n * cfg.flat_fraction))
        rough = load_course("rough")
        rough = replace(rough, ground=replace(rough.ground, extent=(cfg.terrain_extent, cfg.terrain_extent)))
        flat = load_course("flat")
        return self._lay_worlds([(flat, n_flat, Terrain(flat)), (rough, n - n_flat, Terrain(rough))], nthread)

    def _lay_worlds(self, plan: list, nthread: int) -> list[_World]:
        """(course, env count, terrain) -> consecutive env slices, one compiled model and batch each."""
        worlds, start = [], 0
        for course, count, terrain in plan:
            if count == 0:
                continue
            model, index = build_model(self.robot, course)
            worlds.append(_World(model, index, terrain, mjbatch.Batch(model, count, nthread=nthread), slice(start, start + count)))
            start += count
        return worlds

    # ---- state access ------------------------------------------------------------------------

    def _gather(self, fn) -> np.ndarray:
        return np.concatenate([fn(w) for w in self.worlds], axis=0)

    def _read(self) -> dict[str, np.ndarray]:
        ix = self.worlds[0].index
        s = {}
        s["pos"] = self._gather(lambda w: w.qpos[:, ix.root_qpos : ix.root_qpos + 3])
        s["quat"] = self._gather(lambda w: w.qpos[:, ix.root_qpos + 3 : ix.root_qpos + 7])
        s["vel_w"] = self._gather(lambda w: w.qvel[:, ix.root_qvel : ix.root_qvel + 3])
        s["ang_vel"] = self._gather(lambda w: w.qvel[:, ix.root_qvel + 3 : ix.root_qvel + 6])
        s["q"] = self._gather(lambda w: w.qpos[:, ix.joint_qpos])
        s["dq"] = self._gather(lambda w: w.qvel[:, ix.joint_qvel])
        s["imu_quat"] = self._gather(lambda w: w.sensordata[:, ix.imu_quat : ix.imu_quat + 4])
        s["imu_gyro"] = self._gather(lambda w: w.sensordata[:, ix.imu_gyro : ix.imu_gyro + 3])
        # geom ids are per world: a course's ground and boxes come first, so a course with more boxes
        # moves the robot's geoms along (body, joint and sensor addresses do not move)
        s["foot_pos"] = self._gather(lambda w: w.geom_xpos[:, w.index.feet])
        s["foot_force"] = self._gather(lambda w: np.linalg.norm(w.cfrc_ext[:, self.feet_body, 3:], axis=-1))
        s["knee_force"] = self._gather(lambda w: np.linalg.norm(w.cfrc_ext[:, self.knee_bodies, 3:], axis=-1))
        s["trunk_force"] = self._gather(lambda w: w.cfrc_ext[:, ix.base_body, 3:])
        fx, fy = s["foot_pos"][..., 0], s["foot_pos"][..., 1]
        s["ground_feet"] = np.concatenate([w.terrain.height(fx[w.sl], fy[w.sl]) for w in self.worlds], axis=0)
        s["ground_base"] = np.concatenate([w.terrain.height(s["pos"][w.sl, 0], s["pos"][w.sl, 1]) for w in self.worlds], axis=0)
        return s

    # ---- commands, randomisation, resets -----------------------------------------------------

    def _sample_commands(self, ids: np.ndarray) -> None:
        k = len(ids)
        if k == 0:
            return
        c = self.cfg
        f = c.curriculum_start + (1.0 - c.curriculum_start) * min(1.0, self.progress / max(c.curriculum_frac, 1e-9))
        rng = self.rng
        cmd = np.stack([rng.uniform(*c.vx, k) * f, rng.uniform(*c.vy, k) * f, rng.uniform(*c.wz, k) * f], axis=1)
        single = rng.random(k) < c.p_single_axis
        axis = rng.integers(0, 3, k)
        keep = np.eye(3, dtype=bool)[axis]
        cmd = np.where(single[:, None] & ~keep, 0.0, cmd)
        cmd[rng.random(k) < c.p_zero_command] = 0.0
        self.command[ids] = cmd
        self.cmd_timer[ids] = rng.uniform(*c.resample_s, k)

    def _randomize(self, w: _World, local: np.ndarray, glob: np.ndarray) -> None:
        c, rng, k = self.cfg, self.rng, len(local)
        fr = rng.uniform(*c.friction, k)
        w.friction[local[:, None], w.index.ground[None, :], 0] = fr[:, None]
        pay = rng.uniform(*c.payload, k)
        w.body_mass[local, w.index.base_body] = w.base_mass + pay
        w.batch.set_const(local)
        self.dr_friction[glob], self.dr_payload[glob] = fr, pay
        self.dr_strength[glob] = rng.uniform(*c.strength, k)
        self.dr_kp[glob] = rng.uniform(*c.kp_scale, k)
        self.dr_kd[glob] = rng.uniform(*c.kd_scale, k)

    def _reset(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        c, rng, ix = self.cfg, self.rng, self.worlds[0].index
        for w in self.worlds:
            sel = ids[(ids >= w.sl.start) & (ids < w.sl.stop)]
            if len(sel) == 0:
                continue
            local = sel - w.sl.start
            k = len(sel)
            w.batch.reset(local, stage=mujoco.mjtStage.mjSTAGE_NONE.value)
            self._randomize(w, local, sel)
            xy, yaw, z = self._spawn(w, local)
            rp = rng.uniform(-0.05, 0.05, (k, 2))
            qpos = w.qpos[local]
            qpos[:, ix.root_qpos : ix.root_qpos + 2] = xy
            qpos[:, ix.root_qpos + 2] = z
            qpos[:, ix.root_qpos + 3 : ix.root_qpos + 7] = rpy_to_quat(np.column_stack([rp, yaw]))
            qpos[:, ix.joint_qpos] = self.default + rng.uniform(-c.init_joint_noise, c.init_joint_noise, (k, self.robot.n_joints))
            w.qpos[local] = qpos
            qvel = np.zeros((k, w.model.nv))
            qvel[:, ix.root_qvel : ix.root_qvel + 6] = rng.uniform(-c.init_vel_noise, c.init_vel_noise, (k, 6))
            w.qvel[local] = qvel
            w.xfrc[local] = 0.0
            w.ctrl[local] = 0.0
            w.batch.forward(local)
        self.motor.reset(ids)
        self.builder.reset(ids)
        self.t[ids] = 0.0
        self.t_limit[ids] = c.episode_s
        self.last_action[ids] = 0.0
        self.prev_target[ids] = self.default
        self.last_dq[ids] = 0.0
        self.air[ids] = 0.0
        self.push_timer[ids] = rng.uniform(*c.push_interval_s, len(ids))
        self.push_left[ids] = 0.0
        self.push_force[ids] = 0.0
        self._sample_commands(ids)
        self.motor.strength = self.dr_strength[:, None]
        self.motor.kp_scale = self.dr_kp[:, None]
        self.motor.kd_scale = self.dr_kd[:, None]

    def _spawn(self, w: _World, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where envs `local` (rows of world w) start: (xy (k, 2), yaw (k,), base z (k,)). Anywhere, any heading."""
        k = len(local)
        span = 0.3 * self.cfg.terrain_extent if w.terrain.rough else 5.0
        xy = self.rng.uniform(-span, span, (k, 2))
        yaw = self.rng.uniform(-np.pi, np.pi, k)
        return xy, yaw, w.terrain.height(xy[:, 0], xy[:, 1]) + self.robot.nominal_base_height + self.cfg.spawn_drop  # Go1: 0.34

    def reset_all(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.arange(self.n)
        self._reset(ids)
        self.t_limit = self.rng.uniform(0.2, 1.0, self.n) * self.cfg.episode_s
        self.state = self._read()
        self.foot_xy_prev = self.state["foot_pos"][..., :2].copy()
        return self._observe(self.state)

    # ---- observation -------------------------------------------------------------------------

    def _observe(self, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        c, rng, n = self.cfg, self.rng, self.n
        nj = self.robot.n_joints
        u = lambda a, shape: rng.uniform(-a * c.noise_scale, a * c.noise_scale, shape)  # noqa: E731
        grav = projected_gravity(s["imu_quat"]) + u(c.noise_gravity, (n, 3))
        grav /= np.linalg.norm(grav, axis=1, keepdims=True)
        inputs = ObsInputs(
            q=s["q"] + u(c.noise_q, (n, nj)),
            dq=s["dq"] + u(c.noise_dq, (n, nj)),
            gravity=grav,
            ang_vel=s["imu_gyro"] + u(c.noise_gyro, (n, 3)),
            command=self.command,
            last_action=self.last_action,
            phase_time=self.t,
            **self._extra_inputs(s),
        )
        self.last_inputs = inputs  # for a distillation env's second (student) observation builder
        obs = self.builder.build(inputs)
        lin_body = quat_rotate_inverse(s["quat"], s["vel_w"])
        contact = (s["foot_force"] > c.contact_threshold).astype(np.float64)
        height = s["pos"][:, 2] - s["ground_base"]
        push_body = quat_rotate_inverse(s["quat"], self.push_force) / 50.0
        priv = np.column_stack(
            [
                lin_body * 2.0,
                s["ang_vel"] * 0.25,
                height - self.height_ref,
                contact,
                self.dr_friction,
                self.dr_payload,
                self.dr_strength - 1.0,
                self.dr_kp - 1.0,
                self.dr_kd - 1.0,
                self.dr_latency / 10.0,
                push_body,
                self.terrain_ids,
            ]
        ).astype(np.float32)
        return obs, priv

    def _extra_inputs(self, s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """More ObsInputs fields for specs with more terms (a teacher's height_scan)."""
        return {}

    # ---- stepping ----------------------------------------------------------------------------

    def _pushes(self) -> None:
        c, rng = self.cfg, self.rng
        strength = min(1.0, self.progress / max(c.push_start_frac, 1e-9))
        self.push_timer -= self.dt
        start = np.flatnonzero((self.push_timer <= 0) & (self.push_left <= 0))
        if len(start):
            k = len(start)
            ang = rng.uniform(-np.pi, np.pi, k)
            mag = rng.uniform(*c.push_force, k) * strength
            self.push_force[start] = np.column_stack([mag * np.cos(ang), mag * np.sin(ang), np.zeros(k)])
            self.push_left[start] = rng.uniform(*c.push_duration_s, k)
            self.push_timer[start] = rng.uniform(*c.push_interval_s, k)
        self.push_force[self.push_left <= 0] = 0.0
        self.push_left -= self.dt
        ix = self.worlds[0].index
        for w in self.worlds:
            w.xfrc[:, ix.base_body, :3] = self.push_force[w.sl]

    def step(self, raw: np.ndarray):
        cfg, n = self.cfg, self.n
        ix = self.worlds[0].index
        action = self.mapper.clip_raw(raw)
        q_target, kp, kd = self.mapper.targets(raw)
        q_target, _ = clip_targets(q_target, self.prev_target, self.robot)
        self.prev_target = q_target
        cmd = np.zeros((n, 5, self.robot.n_joints))
        cmd[:, 0], cmd[:, 3], cmd[:, 4] = q_target, kp, kd
        self._pushes()
        tau_sq = np.zeros((n, self.robot.n_joints))
        vel_stage = mujoco.mjtStage.mjSTAGE_VEL.value
        q, dq = self.state["q"], self.state["dq"]
        for k in range(self.substeps):
            if k:
                q = self._gather(lambda w: w.qpos[:, ix.joint_qpos])
                dq = self._gather(lambda w: w.qvel[:, ix.joint_qvel])
            tau = self.motor.torque(q, dq, cmd, self.effort)
            tau_sq += tau * tau
            for w in self.worlds:
                w.ctrl[:, ix.actuators] = tau[w.sl]
                w.batch.step(stage=vel_stage if k == self.substeps - 1 else mujoco.mjtStage.mjSTAGE_NONE.value)
        s = self._read()
        self.t += self.dt
        # --- reward state
        quat = s["quat"]
        lin_body = quat_rotate_inverse(quat, s["vel_w"])
        grav = projected_gravity(quat)
        contact = s["foot_force"] > cfg.contact_threshold
        first = contact & (self.air > 0)
        self.air += self.dt
        air_at_touch = np.where(first, self.air, 0.0)
        self.air[contact] = 0.0
        foot_xy = s["foot_pos"][..., :2]
        foot_v = np.linalg.norm(foot_xy - self.foot_xy_prev, axis=-1) / self.dt
        self.foot_xy_prev = foot_xy.copy()
        feet_z = s["foot_pos"][..., 2] - self.foot_radius - s["ground_feet"]
        # how far the ground just ahead of each foot rises above the ground under it (ParkourEnv
        # provides `clear_ground`; on WalkEnv's terrain nothing is in the way)
        rise = np.clip(s["clear_ground"] - s["ground_feet"], 0.0, None) if "clear_ground" in s else np.zeros_like(feet_z)
        height = s["pos"][:, 2] - s["ground_base"]
        knee_hits = np.sum(s["knee_force"] > cfg.contact_threshold, axis=1)
        rs = R.RewardState(
            command=self.command, lin_vel=lin_body, ang_vel=s["ang_vel"], gravity=grav, base_height=height,
            q=s["q"], dq=s["dq"], ddq=(s["dq"] - self.last_dq) / self.dt, tau=np.sqrt(tau_sq / self.substeps),
            action=action, last_action=self.last_action, default_pose=self.default,
            lower=self.robot.lower, upper=self.robot.upper, foot_contact=contact, foot_height=feet_z,
            foot_vel_xy=foot_v, air_time=air_at_touch, first_contact=first, collision=knee_hits,
            phase=(self.gait_frequency * self.t) % 1.0, obstacle_rise=rise, gait_offsets=self.gait_offsets,
            goal_speed=s.get("goal_speed"), foot_edge=s.get("foot_edge"),
        )  # fmt: skip
        terms = R.compute_terms(rs, cfg.reward, self.hips)
        rew, weighted = R.total(terms, cfg.weights, self.dt, only_positive=cfg.clip_reward_at_zero)
        self.last_dq = s["dq"].copy()
        self.last_action = action
        # --- termination
        rpy = quat_to_rpy(quat)
        trunk_hit = np.linalg.norm(s["trunk_force"] - self.push_force, axis=1) > cfg.contact_threshold
        fell = (
            (np.abs(rpy[:, 0]) > cfg.max_tilt)
            | (np.abs(rpy[:, 1]) > cfg.max_tilt)
            | (height < cfg.min_height)
            | (trunk_hit & self.trunk_contact_ends)
        )
        fell |= ~np.isfinite(s["q"]).all(axis=1)
        # a joint pushed past what the safety supervisor tolerates: on the robot it would be damped
        fell |= joints_out_of_range(s["q"], self.robot).any(axis=1)
        extra_fall, off = self._episode_ends(s)
        fell |= extra_fall
        timeout = (self.t >= self.t_limit - 1e-9) | off
        done = fell | timeout
        if cfg.fall_cost:
            weighted["fall_cost"] = cfg.fall_cost * fell
            rew = rew + weighted["fall_cost"]
        info = {
            "terms": {k: float(v.mean()) for k, v in weighted.items()},
            "err_vx": np.abs(self.command[:, 0] - lin_body[:, 0]),
            "err_vy": np.abs(self.command[:, 1] - lin_body[:, 1]),
            "err_wz": np.abs(self.command[:, 2] - s["ang_vel"][:, 2]),
            "fell": fell,
        }
        # --- commands, resets, next observation
        self.cmd_timer -= self.dt
        self._sample_commands(np.flatnonzero((self.cmd_timer <= 0) & ~done))
        ids = np.flatnonzero(done)
        if len(ids):
            self._reset(ids)
            s = self._read()
            self.foot_xy_prev[ids] = s["foot_pos"][ids, :, :2]
        self.state = s
        obs, priv = self._observe(s)
        return obs, priv, rew.astype(np.float32), fell, timeout & ~fell, info

    def _episode_ends(self, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(fell, off) beyond the tilt/height/trunk checks: here, leaving the rough course (not a fall)."""
        off = np.zeros(self.n, dtype=bool)
        for w in self.worlds:
            if w.terrain.rough:
                half = 0.45 * self.cfg.terrain_extent
                off[w.sl] = (np.abs(s["pos"][w.sl, 0]) > half) | (np.abs(s["pos"][w.sl, 1]) > half)
        return np.zeros(self.n, dtype=bool), off


def world_positions(env: WalkEnv) -> np.ndarray:
    """(n, 3) trunk positions (for debugging and tests)."""
    return env.state["pos"]


def gait_of(robot: RobotDescription) -> str:
    """The gait clock's pattern for this robot: a trot for four feet, alternating for two."""
    return {4: "trot", 2: "biped"}.get(len(robot.feet), "trot")


__all__ = ["WalkEnv", "PRIV_DIM", "Terrain", "foot_bottom", "priv_dim", "quat_rotate"]
