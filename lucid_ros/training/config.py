"""Everything a walking-policy training run depends on, in one place, with the values shipped.

Torch-free (the env, rewards and evaluation import it without the [train] extra).
`spec_dict()` turns the config into the policy spec (docs/policy-spec.md) that both training and
the runtime read: training builds its ObservationBuilder and ActionMapper from the very spec that
is exported with the network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lucid_ros.robots.description import RobotDescription
from lucid_ros.training.rewards import RewardParams, RewardWeights


@dataclass
class PPOConfig:
    actor_hidden: tuple[int, ...] = (256, 128, 128)
    critic_hidden: tuple[int, ...] = (256, 128, 128)
    init_std: float = 0.6
    min_std: float = 0.05
    gamma: float = 0.99
    lam: float = 0.95
    clip: float = 0.2
    value_clip: float = 0.2
    entropy: float = 0.005
    value_coef: float = 1.0
    lr: float = 1e-3
    lr_min: float = 1e-5
    lr_max: float = 3e-3
    desired_kl: float = 0.01
    epochs: int = 5
    minibatches: int = 4
    max_grad_norm: float = 1.0
    steps_per_env: int = 24
    # torch threads for the update only (acting between env steps stays on one, beside MuJoCo's
    # threads): on 2 cores a teacher-sized update takes 0.76 s instead of 1.37 s, with bit-identical
    # parameters (bench/bench_training_env.py)
    update_threads: int = 2


@dataclass
class ObsConfig:
    history: int = 3
    gait_frequency: float = 2.5  # Hz of the gait_phase clock the trot reward follows
    action_scale: float = 0.25
    action_clip: float = 5.0
    kp: float = 20.0
    kd: float = 0.5
    # trot generator (ppo.TrotGenerator) in raw action units (x action_scale = rad): at the top of a
    # swing the thigh flexes +0.175 rad and the knee bends -0.35 rad (about 5 cm of foot lift)
    tg_thigh: float = 0.7
    tg_calf: float = -1.4
    tg_gain: float = 10.0  # gate = clip(gain * max|command|, 0, 1): full trot from 0.1 m/s or rad/s
    # bipeds (humanoid_config): the legs' joints only, per-joint walking gains by joint kind, and a
    # walking generator swinging hip pitch, knee and ankle (raw action units, signed as the default pose)
    leg_joints_only: bool = False  # the policy drives the legs; waist and arms hold the default pose
    joint_gains: dict[str, tuple[float, float]] = field(default_factory=dict)  # joint-name keyword -> (kp, kd)
    tg_hip_pitch: float = 0.0
    tg_knee: float = 0.0
    tg_ankle: float = 0.0


@dataclass
class EnvConfig:
    n_envs: int = 512
    flat_fraction: float = 0.4  # share of envs on a plane; the rest on the 'rough' course (+-3 cm)
    terrain_extent: float = 40.0  # m; the rough course enlarged so a 20 s episode stays on it
    episode_s: float = 20.0
    # command ranges at the end of the curriculum (the ranges, with a little margin)
    vx: tuple[float, float] = (-0.6, 1.1)
    vy: tuple[float, float] = (-0.35, 0.35)
    wz: tuple[float, float] = (-1.1, 1.1)
    resample_s: tuple[float, float] = (2.0, 5.0)
    p_zero_command: float = 0.15
    p_single_axis: float = 0.25  # commands with only one of vx, vy, wz nonzero
    curriculum_start: float = 0.5  # command ranges start at this fraction of the final ranges
    curriculum_frac: float = 0.25  # ... and reach the full ranges after this fraction of the run
    # domain randomisation
    friction: tuple[float, float] = (0.4, 1.2)
    payload: tuple[float, float] = (-1.0, 1.0)  # kg added to the trunk
    strength: tuple[float, float] = (0.9, 1.1)
    kp_scale: tuple[float, float] = (0.9, 1.1)
    kd_scale: tuple[float, float] = (0.9, 1.1)
    latency_steps: tuple[int, int] = (0, 10)  # physics steps of 2 ms: 0-20 ms
    push_interval_s: tuple[float, float] = (3.0, 8.0)
    push_force: tuple[float, float] = (10.0, 55.0)  # N, horizontal, random direction, on the trunk
    push_duration_s: tuple[float, float] = (0.1, 0.4)
    push_start_frac: float = 0.1  # pushes grow from zero to full strength over this much of the run
    # sensor noise (uniform, +-): gyro rad/s, gravity unit vector, joint position rad, joint velocity rad/s
    noise_gyro: float = 0.2
    noise_gravity: float = 0.05
    noise_q: float = 0.01
    noise_dq: float = 1.5
    noise_scale: float = 1.0  # all four noises at once (bipeds start with less)
    # initial state
    init_joint_noise: float = 0.1
    init_vel_noise: float = 0.2
    # termination (the supervisor damps beyond max_roll/max_pitch = 1 rad: stop training before that)
    max_tilt: float = 0.8  # rad of roll or pitch
    min_height: float = 0.15  # m, trunk above the ground under the feet
    spawn_drop: float = 0.06  # m above the nominal base height at reset
    contact_threshold: float = 3.0  # N of external force for a body to count as touching
    weights: RewardWeights = field(default_factory=RewardWeights)
    # legged_gym's clip of each step's total at 0 (early penalties cannot make dying look better than
    # living); off for the jumping teacher, whose stall cost must make refusing worse than trying
    clip_reward_at_zero: bool = True
    # Charged once (not x dt) on the step an episode ends in a failure (tilt, height, trunk, joint
    # range, and in ParkourEnv a pit, the stuck rule or a steered env leaving the corridor); 0 = none.
    # Without the zero clip a fall ends every later step's costs, so it must cost more than carrying
    # on slowly (parkour.teacher_env_config sizes it; test_jump_recipe checks the ordering).
    fall_cost: float = 0.0
    reward: RewardParams = field(default_factory=RewardParams)


@dataclass
class TrainConfig:
    iterations: int = 1500
    time_budget_s: float = 80 * 60.0
    seed: int = 0
    nthread: int = 2
    obs: ObsConfig = field(default_factory=ObsConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


LEG_WORDS = ("hip", "knee", "ankle")


def policy_joints(robot: RobotDescription, obs: ObsConfig) -> list[str]:
    """The joints the policy drives, in the robot's canonical order: all, or the legs only."""
    if not obs.leg_joints_only:
        return list(robot.joint_names)
    return [j for j in robot.joint_names if any(w in j for w in LEG_WORDS)]


def policy_gains(joints: list[str], obs: ObsConfig) -> tuple[Any, Any]:
    """(kp, kd) for the spec: scalars, or one per joint from `joint_gains` (first keyword found)."""
    if not obs.joint_gains:
        return obs.kp, obs.kd
    kp, kd = [], []
    for j in joints:
        key = next((k for k in obs.joint_gains if k in j), None)
        if key is None:
            raise ValueError(f"joint_gains: no keyword of {list(obs.joint_gains)} matches joint '{j}'")
        kp.append(float(obs.joint_gains[key][0]))
        kd.append(float(obs.joint_gains[key][1]))
    return kp, kd


# Walking gains (kp N*m/rad, kd N*m*s/rad) by joint kind: Unitree's published training values for
# its humanoids (unitree_rl_gym's H1 and G1 configs), which the real motors are known to track.
HUMANOID_GAINS = {
    "h1": {"hip": (150.0, 2.0), "knee": (200.0, 4.0), "ankle": (40.0, 2.0)},
    "g1": {"hip": (100.0, 2.0), "knee": (150.0, 4.0), "ankle": (40.0, 2.0)},
}


def humanoid_config(robot: RobotDescription, cfg: TrainConfig) -> TrainConfig:
    """The walking recipe for a biped: the legs only (waist and arms held), an alternating gait clock
    at 1.25 Hz with a walking generator, pushes and payload scaled to the robot's weight, episodes
    ended before the supervisor's tilt limit, and the biped reward shaping (alive, upright, hips
    under the body, feet lifted 8 cm in swing). Quadrupeds are returned unchanged."""
    if robot.kind != "humanoid":
        return cfg
    o, e, w, r = cfg.obs, cfg.env, cfg.env.weights, cfg.env.reward
    o.leg_joints_only, o.gait_frequency = True, 1.25
    o.joint_gains = dict(HUMANOID_GAINS.get(robot.name, HUMANOID_GAINS["h1"]))
    o.tg_hip_pitch, o.tg_knee, o.tg_ankle, o.tg_gain = 1.2, 2.4, 1.2, 10.0  # x0.25: hip 0.3, knee 0.6, ankle 0.3 rad
    e.vx, e.vy, e.wz = (-0.5, 1.0), (-0.3, 0.3), (-1.0, 1.0)
    e.payload = (-1.0, 3.0)
    e.push_force = (20.0, 160.0)
    e.push_interval_s = (4.0, 8.0)
    e.push_duration_s = (0.1, 0.3)
    e.init_joint_noise, e.init_vel_noise, e.noise_scale = 0.05, 0.1, 0.5
    e.max_tilt = 0.9 * min(robot.safety.max_roll, robot.safety.max_pitch)
    e.min_height = 0.6 * robot.nominal_base_height
    e.spawn_drop = 0.03
    r.swing_height_target, r.air_time_target = 0.08, 0.3
    # yaw tracking weighted as speed: at 0.5 the H1 learned to walk straight and not turn (0.02 rad/s
    # at a 0.5 rad/s command after 105 min; docs/training.md), so phase 3 and G1 train at 1.0
    w.tracking_lin_vel, w.tracking_ang_vel = 1.0, 1.0
    w.orientation, w.base_height = -1.0, -10.0
    w.dof_pos_limits, w.collision = -5.0, -1.0
    w.feet_air_time, w.gait_contact, w.swing_height = 0.0, 0.18, -20.0
    w.foot_slip, w.stand_still, w.hip_pose, w.alive = -0.2, -0.2, -1.0, 0.15
    w.torques = -1e-5  # a 50 kg robot's standing torques are ~100x a Go1's sum of squares
    return cfg


def spec_dict(robot: RobotDescription, obs: ObsConfig, name: str = "go1_walk") -> dict[str, Any]:
    """The policy spec for this config (without onnx/sha256, which export fills in)."""
    joints = policy_joints(robot, obs)
    kp, kd = policy_gains(joints, obs)
    return {
        "format": "lucid_ros.policy/1",
        "name": name,
        "robot": robot.name,
        "rate_hz": float(robot.rate_hz),
        "joint_order": joints,
        "gains": {"kp": kp, "kd": kd},
        "action": {"clip": obs.action_clip, "scale": obs.action_scale, "offset": "default"},
        "observation": {
            "history": obs.history,
            "history_layout": "term_major",
            "clip": 100.0,
            "terms": [
                {"name": "base_ang_vel", "scale": 0.25},
                {"name": "projected_gravity"},
                {"name": "velocity_command", "scale": [2.0, 2.0, 0.25]},
                {"name": "joint_pos_rel"},
                {"name": "joint_vel", "scale": 0.05},
                {"name": "last_action"},
                {"name": "gait_phase", "frequency": obs.gait_frequency},
            ],
        },
        "inputs": {"observation": "obs", "images": [], "recurrent": []},
        "outputs": {"action": "actions"},
        "training": {},
    }
