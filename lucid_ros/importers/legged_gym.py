"""legged_gym's deploy conventions as data: what an rsl_rl checkpoint does not record.

An rsl_rl `model_<iter>.pt` holds weights only. What the network reads and what its output means
(observation terms and scales, joint order, default pose, gains, action scale, clips, rate) lives
in the trainer's config classes (legged_gym's `LeggedRobotCfg`, `LeggedRobotCfgPPO.policy`). This
module holds legged_gym's defaults per robot and reads the small YAML (`--config`) a user writes
from their own config: the keys are legged_gym's cfg names, so values are copied, not translated
(docs/import.md, section rsl_rl). Each value not given falls back to the default and says so in
the notes the spec keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.robots.description import RobotDescription

LEGS = ("FL", "FR", "RL", "RR")  # Isaac Gym's DOF order: alphabetical by body name
PARTS = ("hip", "thigh", "calf")

# legged_gym's LeggedRobotCfg: normalization.obs_scales, clip_observations / clip_actions,
# control.action_scale / decimation, sim.dt, and the observation of compute_observations().
OBS_SCALES = {"lin_vel": 2.0, "ang_vel": 0.25, "dof_pos": 1.0, "dof_vel": 0.05, "height_measurements": 5.0}
OBSERVATIONS = ["base_lin_vel", "base_ang_vel", "projected_gravity", "commands", "dof_pos", "dof_vel", "actions"]
MEASURED_POINTS_X = [round(-0.8 + 0.1 * i, 1) for i in range(17)]  # terrain.measured_points_x
MEASURED_POINTS_Y = [round(-0.5 + 0.1 * i, 1) for i in range(11)]
COMMON = {"action_scale": 0.25, "clip_observations": 100.0, "clip_actions": 100.0, "dt": 0.005, "decimation": 4, "activation": "elu"}

# Per robot: legged_gym's A1 config (init_state.default_joint_angles, control.stiffness/damping),
# which unitree_rl_gym's Go2 config repeats; the Go1 runs the same numbers (walk-these-ways).
_POSE = {"hip": (0.1, -0.1), "thigh_front": 0.8, "thigh_rear": 1.0, "calf": -1.5}
ROBOTS = {"go1": {"kp": 20.0, "kd": 0.5}, "go2": {"kp": 20.0, "kd": 0.5}}

# legged_gym observation name -> (spec term, obs_scales key or the scale rule, size rule)
TERMS = {
    "base_lin_vel": "base_lin_vel",
    "base_ang_vel": "base_ang_vel",
    "projected_gravity": "projected_gravity",
    "commands": "velocity_command",
    "dof_pos": "joint_pos_rel",
    "dof_vel": "joint_vel",
    "actions": "last_action",
    "height_measurements": "height_scan",
}
ACTIVATIONS = ("elu", "crelu", "relu", "selu", "lrelu", "tanh", "sigmoid", "identity")  # rsl_rl's names the graph builds
CONFIG_KEYS = (
    "joint_names",
    "default_joint_angles",
    "stiffness",
    "damping",
    "action_scale",
    "obs_scales",
    "commands_scale",
    "clip_observations",
    "clip_actions",
    "dt",
    "decimation",
    "observations",
    "measured_points_x",
    "measured_points_y",
    "policy",
)
POLICY_KEYS = ("activation", "actor_hidden_dims", "critic_hidden_dims", "init_noise_std", "rnn_type", "rnn_hidden_size", "rnn_num_layers")


@dataclass
class Conventions:
    """Everything the spec needs that the checkpoint does not say. `policy` holds the network
    facts the config states (actor_hidden_dims, rnn_*), checked against the checkpoint."""

    joints: list[str]
    default: list[float]
    kp: list[float]
    kd: list[float]
    action_scale: float
    clip_observations: float
    clip_actions: float
    dt: float
    decimation: int
    obs_scales: dict[str, float]
    commands_scale: list[float]
    observations: list[str]
    measured_points_x: list[float]
    measured_points_y: list[float]
    activation: str
    policy: dict[str, Any] = field(default_factory=dict)
    given: set[str] = field(default_factory=set)  # the --config keys that set a value ("policy.activation" for nested ones)
    notes: list[str] = field(default_factory=list)

    @property
    def rate_hz(self) -> float:
        return round(1.0 / (self.dt * self.decimation), 6)

    def obs_dim(self) -> int:
        sizes = {"dof_pos": len(self.joints), "dof_vel": len(self.joints), "actions": len(self.joints)}
        grid = len(self.measured_points_x) * len(self.measured_points_y)
        return sum(sizes.get(o, grid if o == "height_measurements" else 3) for o in self.observations)

    def terms(self) -> list[dict[str, Any]]:
        """The spec's observation terms: legged_gym's compute_observations(), term by term."""
        s = self.obs_scales
        out = []
        for o in self.observations:
            t: dict[str, Any] = {"name": TERMS[o]}
            if o == "base_lin_vel":
                t["scale"] = s["lin_vel"]
            elif o == "base_ang_vel":
                t["scale"] = s["ang_vel"]
            elif o == "commands":
                t["scale"] = list(self.commands_scale)
            elif o == "dof_pos":
                t.update(default=list(self.default), scale=s["dof_pos"])
            elif o == "dof_vel":
                t["scale"] = s["dof_vel"]
            elif o == "height_measurements":
                # clip(base_z - 0.5 - terrain_z, -1, 1) * scale == clip((raw - 0.5) * scale, ±scale)
                t.update(x=_grid(self.measured_points_x), y=_grid(self.measured_points_y), offset=-0.5, scale=s["height_measurements"])
                t["clip"] = s["height_measurements"]
            out.append(t)
        return out


def _grid(points: list[float]) -> list[float]:
    step = round(points[1] - points[0], 9) if len(points) > 1 else 1.0
    return [points[0], points[-1], step]


def isaac_joint_order(robot: RobotDescription) -> list[str] | None:
    """FL, FR, RL, RR × hip, thigh, calf, when the robot names its joints that way; else None."""
    names = [f"{leg}_{part}_joint" for leg in LEGS for part in PARTS]
    return names if set(names) == set(robot.joint_names) else None


def defaults(robot: RobotDescription) -> Conventions:
    """legged_gym's conventions for `robot`, before any --config."""
    joints = isaac_joint_order(robot) or []  # else the config must name them; read_config refuses otherwise
    pose, kp, kd, src = _pose_gains(robot, joints)
    notes = [f"default pose and gains: {src}"]
    return Conventions(
        joints=list(joints),
        default=pose,
        kp=kp,
        kd=kd,
        action_scale=COMMON["action_scale"],
        clip_observations=COMMON["clip_observations"],
        clip_actions=COMMON["clip_actions"],
        dt=COMMON["dt"],
        decimation=COMMON["decimation"],
        obs_scales=dict(OBS_SCALES),
        commands_scale=[OBS_SCALES["lin_vel"], OBS_SCALES["lin_vel"], OBS_SCALES["ang_vel"]],
        observations=list(OBSERVATIONS),
        measured_points_x=list(MEASURED_POINTS_X),
        measured_points_y=list(MEASURED_POINTS_Y),
        activation=COMMON["activation"],
        notes=notes,
    )


def _pose_gains(robot: RobotDescription, joints: list[str]) -> tuple[list[float], list[float], list[float], str]:
    """Default pose, kp, kd for `joints` and where they come from."""
    if robot.name in ROBOTS:
        kp, kd = ROBOTS[robot.name]["kp"], ROBOTS[robot.name]["kd"]
        src = f"legged_gym's quadruped defaults for {robot.name} (A1 config: hip ±0.1, thigh 0.8 front / 1.0 rear, calf -1.5; kp {kp:g}, kd {kd:g})"
        return [_legged_gym_pose(j) for j in joints], [kp] * len(joints), [kd] * len(joints), src
    idx = robot.index_of(joints) if joints else []
    pose, kp, kd = ([float(a[i]) for i in idx] for a in (robot.default_pose, robot.kp, robot.kd))
    return pose, kp, kd, f"the robot description's ({robot.name}: no legged_gym defaults known for it)"


def _legged_gym_pose(joint: str) -> float:
    leg, part = joint.split("_")[:2]
    if part == "hip":
        return _POSE["hip"][0] if leg[1] == "L" else _POSE["hip"][1]
    if part == "thigh":
        return _POSE["thigh_front"] if leg[0] == "F" else _POSE["thigh_rear"]
    return _POSE["calf"]


def read_config(cfg: Path | None, robot: RobotDescription) -> Conventions:
    """legged_gym's defaults for `robot`, overridden key by key by the user's YAML. Unknown keys,
    joints the robot lacks and malformed values are a ConfigError naming the file and key."""
    conv = defaults(robot)
    if cfg is None:
        if not conv.joints:
            raise ConfigError(
                None, "--config", f"robot {robot.name}'s joints are not named FL/FR/RL/RR_hip/thigh/calf_joint: pass --config with joint_names"
            )
        conv.notes.append("no --config: legged_gym's defaults (observation, scales, clips, 50 Hz, ELU) and Isaac Gym's joint order")
        return conv
    raw = read_yaml(cfg, "training config (--config)")
    f = Fields(raw if raw is not None else {}, cfg)
    f.refuse_unknown(CONFIG_KEYS)
    given = conv.given = set(f.data)
    if "joint_names" in given:
        conv.joints = _joint_names(f, robot)
        conv.default, conv.kp, conv.kd, _ = _pose_gains(robot, conv.joints)
    elif not conv.joints:
        raise f.error("joint_names", f"required: robot {robot.name}'s joints are not named FL/FR/RL/RR_hip/thigh/calf_joint")
    if "default_joint_angles" in given:
        conv.default = _per_joint(f, "default_joint_angles", conv.joints, exact=True)
    if "stiffness" in given:
        conv.kp = _per_joint(f, "stiffness", conv.joints, exact=False)
    if "damping" in given:
        conv.kd = _per_joint(f, "damping", conv.joints, exact=False)
    for key in ("action_scale", "clip_observations", "clip_actions", "dt"):
        if key in given:
            setattr(conv, key, f.float(key, lo=0, strict=True))
    if "decimation" in given:
        conv.decimation = f.int("decimation", lo=1)
    if "obs_scales" in given:
        s = f.sub("obs_scales")
        s.refuse_unknown(OBS_SCALES)
        conv.obs_scales.update({k: s.float(k) for k in s.data})
        conv.commands_scale = [conv.obs_scales["lin_vel"], conv.obs_scales["lin_vel"], conv.obs_scales["ang_vel"]]
    if "commands_scale" in given:
        conv.commands_scale = f.float_list("commands_scale", length=3)
    if "observations" in given:
        conv.observations = f.str_list("observations", min_len=1)
        for i, o in enumerate(conv.observations):
            if o not in TERMS:
                raise f.error(f"observations[{i}]", f"{o!r} is not a legged_gym observation this importer knows (known: {list(TERMS)})")
            if conv.observations.index(o) != i:
                raise f.error(f"observations[{i}]", f"{o!r} appears twice")
    for key in ("measured_points_x", "measured_points_y"):
        if key in given:
            pts = f.float_list(key)
            if len(pts) < 1 or (len(pts) > 1 and not np.allclose(np.diff(pts), pts[1] - pts[0], atol=1e-6)) or (len(pts) > 1 and pts[1] <= pts[0]):
                raise f.error(key, "expected evenly spaced increasing points (legged_gym's grid)")
            setattr(conv, key, pts)
    if "policy" in given:
        p = f.sub("policy")
        p.refuse_unknown(POLICY_KEYS)
        given |= {f"policy.{k}" for k in p.data}
        if p.has("activation"):
            conv.activation = p.choice("activation", ACTIVATIONS)
        if p.has("actor_hidden_dims"):
            conv.policy["actor_hidden_dims"] = [int(v) for v in p.float_list("actor_hidden_dims")]
        if p.has("rnn_type"):
            conv.policy["rnn_type"] = p.choice("rnn_type", ("lstm", "gru"))
        for key in ("rnn_hidden_size", "rnn_num_layers"):
            if p.has(key):
                conv.policy[key] = p.int(key, lo=1)
    missing = [k for k in CONFIG_KEYS if k not in given and k not in ("measured_points_x", "measured_points_y", "policy")]
    if missing:
        conv.notes.append(f"not in --config, legged_gym's defaults: {', '.join(missing)}")
    return conv


def _joint_names(f: Fields, robot: RobotDescription) -> list[str]:
    names = f.str_list("joint_names", min_len=1)
    for i, n in enumerate(names):
        if n not in robot.joint_names:
            raise f.error(f"joint_names[{i}]", f"{n!r} is not a joint of robot {robot.name} (its joints: {robot.joint_names})")
        if names.index(n) != i:
            raise f.error(f"joint_names[{i}]", f"{n!r} appears twice")
    return names


def _per_joint(f: Fields, key: str, joints: list[str], exact: bool) -> list[float]:
    """legged_gym's per-joint mappings: default_joint_angles by full joint name (`exact`);
    stiffness/damping by substring, the last matching key winning, as legged_gym assigns PD gains.
    A number is taken for every joint. A joint left without a value is refused (legged_gym would
    set its gains to zero)."""
    value = f.raw(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [f.float(key)] * len(joints)
    items = f.raw(key)
    if not isinstance(items, dict) or not items:
        raise f.error(key, f"expected a number or a mapping of joint names to numbers, got {items!r}")
    for name in items:
        if exact and name not in joints:
            raise f.error(f"{key}.{name}", f"names no joint of the policy (joint_names: {joints})")
        if not exact and not any(str(name) in j for j in joints):
            raise f.error(f"{key}.{name}", f"matches no joint of the policy (joint_names: {joints})")
    out = []
    for j in joints:
        hits = [name for name in items if (name == j if exact else str(name) in j)]
        if not hits:
            raise f.error(key, f"gives no value for joint {j!r}")
        out.append(f.float(f"{key}.{hits[-1]}", lo=None if exact else 0.0))
    return out


def rollout_sampler(conv: Conventions, reference):
    """Observations as a walking quadruped produces them, in the policy's own layout and through
    the spec's own scales and clips: a body that tilts and turns, velocities that follow commands
    changing now and then, joints swinging about the default pose, terrain under the feet, and
    `actions` fed back from the source network itself (closed loop). Magnitudes stay those of a
    rollout, so the equivalence check measures the conversion, not float32 rounding on inputs no
    robot produces."""
    terms = conv.terms()
    n = len(conv.joints)
    grid = len(conv.measured_points_x) * len(conv.measured_points_y)
    period = 1.0 / conv.rate_hz

    def sample(rng: np.random.Generator, steps: int) -> np.ndarray:
        out = np.zeros((steps, conv.obs_dim()), dtype=np.float32)
        tilt, omega, lin, q, dq, cmd = np.zeros(2), np.zeros(3), np.zeros(3), np.zeros(n), np.zeros(n), np.zeros(3)
        action = np.zeros(n)
        reference.reset()
        for t in range(steps):
            if t % 100 == 0:
                cmd = rng.uniform([-0.5, -0.3, -0.8], [1.0, 0.3, 0.8])
            omega = 0.8 * omega + rng.normal(0, 0.3, 3)
            lin = 0.9 * lin + 0.1 * np.array([cmd[0], cmd[1], 0.0]) + rng.normal(0, 0.05, 3)
            tilt = np.clip(0.95 * tilt + rng.normal(0, 0.02, 2), -0.3, 0.3)
            gravity = np.array([np.sin(tilt[1]), -np.cos(tilt[1]) * np.sin(tilt[0]), -np.cos(tilt[1]) * np.cos(tilt[0])])
            dq = 0.7 * dq + rng.normal(0, 1.5, n)
            q = np.clip(q + dq * period, -0.6, 0.6)  # about the default pose: the dof_pos term's raw value
            raw = {
                "base_lin_vel": lin,
                "base_ang_vel": omega,
                "projected_gravity": gravity,
                "commands": cmd,
                "dof_pos": q,
                "dof_vel": dq,
                "actions": action,
                "height_measurements": 0.28 + rng.normal(0, 0.03, grid),
            }
            parts = []
            for name, term in zip(conv.observations, terms, strict=True):
                v = (raw[name] + term.get("offset", 0.0)) * np.asarray(term.get("scale", 1.0))
                parts.append(np.clip(v, -term["clip"], term["clip"]) if "clip" in term else v)
            out[t] = np.clip(np.concatenate(parts), -conv.clip_observations, conv.clip_observations)
            action = np.clip(reference.step(out[t][None], {}), -conv.clip_actions, conv.clip_actions)
        reference.reset()
        return out

    return sample
