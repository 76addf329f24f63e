"""Reward terms for velocity-tracking locomotion: plain numpy functions of a batched state.

Each term takes a `RewardState` (leading dim B) and returns (B,) values *before* weighting; the
weights live in `config.RewardWeights`, and `total()` sums weight * term * dt. The shapes follow
the legged_gym family (exp kernels for tracking, squared penalties for the rest), plus a gait
clock: feet are asked to alternate in diagonal pairs at the clock's frequency while the command
asks to move, and to stay planted while it asks to stand. A clock makes trotting appear within a
few hundred PPO iterations instead of having to be discovered from feet air time alone.

Kept free of MuJoCo and torch so tests can build states by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

# Trot: FR and RL swing together, then FL and RR (robot `feet:` order FR, FL, RR, RL).
TROT_OFFSETS = np.array([0.0, 0.5, 0.5, 0.0])
# Biped walk: the feet alternate (robot `feet:` order left, right).
BIPED_OFFSETS = np.array([0.0, 0.5])
GAITS = {"trot": TROT_OFFSETS, "biped": BIPED_OFFSETS}


@dataclass
class RewardState:
    """Everything the reward reads, batched. Body frame unless noted; joints in canonical order."""

    command: np.ndarray  # (B, 3) vx, vy, yaw rate
    lin_vel: np.ndarray  # (B, 3) true base linear velocity, body frame
    ang_vel: np.ndarray  # (B, 3) true base angular velocity, body frame
    gravity: np.ndarray  # (B, 3) projected gravity, (0, 0, -1) level
    base_height: np.ndarray  # (B,) trunk height above the ground under the feet (m)
    q: np.ndarray  # (B, n)
    dq: np.ndarray  # (B, n)
    ddq: np.ndarray  # (B, n) joint acceleration over the last policy step
    tau: np.ndarray  # (B, n) motor torques applied (mean over the policy step)
    action: np.ndarray  # (B, n) clipped raw action now
    last_action: np.ndarray  # (B, n) clipped raw action of the previous step
    default_pose: np.ndarray  # (n,)
    lower: np.ndarray  # (n,) soft position limits
    upper: np.ndarray  # (n,)
    foot_contact: np.ndarray  # (B, 4) bool
    foot_height: np.ndarray  # (B, 4) foot sphere bottom above the local ground (m)
    foot_vel_xy: np.ndarray  # (B, 4) horizontal foot speed (m/s)
    air_time: np.ndarray  # (B, 4) s the foot had been in the air when it touched down (0 otherwise)
    first_contact: np.ndarray  # (B, 4) bool: touched down this step
    collision: np.ndarray  # (B,) number of thigh/calf/hip bodies touching the ground
    phase: np.ndarray  # (B,) gait clock phase in [0, 1)
    obstacle_rise: np.ndarray | None = None  # (B, 4) how far the ground just ahead of each foot rises (m)
    goal_speed: np.ndarray | None = None  # (B,) world speed toward the course line's point ahead (m/s; ParkourEnv)
    foot_edge: np.ndarray | None = None  # (B, 4) bool: the foot stands within a few cm of a terrain edge (ParkourEnv)
    gait_offsets: np.ndarray = field(default_factory=lambda: TROT_OFFSETS)  # (n_feet,) each foot's clock offset (GAITS)


def moving(command: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """(B,) bool: the command asks to move (any of vx, vy, yaw rate above threshold)."""
    return np.max(np.abs(command), axis=-1) > threshold


def desired_stance(phase: np.ndarray, command: np.ndarray, duty: float = 0.5, offsets: np.ndarray = TROT_OFFSETS) -> np.ndarray:
    """(B, n_feet) in {0, 1}: which feet the gait clock wants on the ground (all of them when standing)."""
    foot_phase = (phase[:, None] + np.asarray(offsets)[None, :]) % 1.0
    stance = (foot_phase >= 1.0 - duty).astype(np.float64)
    return np.where(moving(command)[:, None], stance, 1.0)


def tracking_lin_vel(s: RewardState, sigma: float) -> np.ndarray:
    err = np.sum(np.square(s.command[:, :2] - s.lin_vel[:, :2]), axis=1)
    return np.exp(-err / sigma)


def tracking_ang_vel(s: RewardState, sigma: float) -> np.ndarray:
    return np.exp(-np.square(s.command[:, 2] - s.ang_vel[:, 2]) / sigma)


def lin_vel_z(s: RewardState) -> np.ndarray:
    return np.square(s.lin_vel[:, 2])


def ang_vel_xy(s: RewardState) -> np.ndarray:
    return np.sum(np.square(s.ang_vel[:, :2]), axis=1)


def orientation(s: RewardState) -> np.ndarray:
    return np.sum(np.square(s.gravity[:, :2]), axis=1)


def base_height(s: RewardState, target: float) -> np.ndarray:
    return np.square(s.base_height - target)


def torques(s: RewardState) -> np.ndarray:
    return np.sum(np.square(s.tau), axis=1)


def dof_acc(s: RewardState) -> np.ndarray:
    return np.sum(np.square(s.ddq), axis=1)


def action_rate(s: RewardState) -> np.ndarray:
    return np.sum(np.square(s.action - s.last_action), axis=1)


def dof_pos_limits(s: RewardState) -> np.ndarray:
    below = np.clip(s.lower - s.q, 0.0, None)
    above = np.clip(s.q - s.upper, 0.0, None)
    return np.sum(below + above, axis=1)


def collision(s: RewardState) -> np.ndarray:
    return s.collision.astype(np.float64)


def feet_air_time(s: RewardState, target: float = 0.2) -> np.ndarray:
    """Reward touch-downs after at least `target` s in the air, only while asked to move."""
    r = np.sum((s.air_time - target) * s.first_contact, axis=1)
    return r * moving(s.command)


def gait_contact(s: RewardState) -> np.ndarray:
    """Fraction of feet whose contact matches the clock (+1 each), in [0, 1]."""
    want = desired_stance(s.phase, s.command, offsets=s.gait_offsets) > 0.5
    return np.mean(want == s.foot_contact, axis=1)


def swing_height(s: RewardState, target: float) -> np.ndarray:
    """Squared shortfall of swing feet below `target` clearance while moving (feet the clock swings)."""
    swing = 1.0 - desired_stance(s.phase, s.command, offsets=s.gait_offsets)
    short = np.clip(target - s.foot_height, 0.0, None)
    return np.sum(np.square(short) * swing, axis=1)


def obstacle_clearance(s: RewardState, min_rise: float = 0.05, margin: float = 0.03) -> np.ndarray:
    """Per airborne foot with an obstacle just ahead (rising more than `min_rise`), the fraction of
    that rise (plus `margin`) it is lifted: 1 when it clears it. Walking clearance (7 cm) lifts no
    foot onto a 0.22 m hurdle; this pays for trying, and is positive so that the zero clip of the
    total cannot make standing back from an obstacle look better than lifting a foot at it."""
    if s.obstacle_rise is None:
        return np.zeros(len(s.command))
    ahead = (s.obstacle_rise > min_rise) & ~s.foot_contact.astype(bool)
    lifted = np.clip(s.foot_height / (s.obstacle_rise + margin), 0.0, 1.0)
    return np.sum(lifted * ahead, axis=1)


def tracking_goal_vel(s: RewardState) -> np.ndarray:
    """Speed toward the goal as a fraction of the commanded speed, capped at 1 (extreme-parkour's
    goal-velocity reward): 0 for standing, nothing extra for going faster, so a leap at 1.2 m/s under
    a 0.5 command is paid in full where an exp kernel on the velocity error pays 0.09. 0 without a
    goal or a forward command."""
    if s.goal_speed is None:
        return np.zeros(len(s.command))
    vcmd = s.command[:, 0]
    go = vcmd > 0.05
    return np.where(go, np.minimum(s.goal_speed, vcmd) / np.where(go, vcmd, 1.0), 0.0)


def stall(s: RewardState, fraction: float = 0.2) -> np.ndarray:
    """1 while a forward command is not followed (goal speed under `fraction` of it): with a negative
    weight, refusing at an obstacle costs every step it lasts, so standing at an edge can never be
    worth more than trying (with the zero clip of the total off: EnvConfig.clip_reward_at_zero, the jump recipe)."""
    if s.goal_speed is None:
        return np.zeros(len(s.command))
    vcmd = s.command[:, 0]
    return ((vcmd > 0.05) & (s.goal_speed < fraction * vcmd)).astype(np.float64)


def feet_edge(s: RewardState) -> np.ndarray:
    """Feet in contact on a terrain edge (extreme-parkour's feet_edge): a foot on a hurdle's or a
    gap's rim slips off; the count, to be penalised."""
    if s.foot_edge is None:
        return np.zeros(len(s.command))
    return np.sum(s.foot_edge & s.foot_contact.astype(bool), axis=1).astype(np.float64)


def foot_slip(s: RewardState) -> np.ndarray:
    return np.sum(np.square(s.foot_vel_xy) * s.foot_contact, axis=1)


def stand_still(s: RewardState) -> np.ndarray:
    """Joint distance from the default pose while the command is zero."""
    return np.sum(np.abs(s.q - s.default_pose), axis=1) * ~moving(s.command)


def alive(s: RewardState) -> np.ndarray:
    """1 per step not fallen (a biped has to be paid for staying up before it can be paid to walk)."""
    return np.ones(len(s.command))


def hip_pose(s: RewardState, hips: np.ndarray) -> np.ndarray:
    """Squared hip (abduction) deviation from default: keeps the legs under the body."""
    return np.sum(np.square(s.q[:, hips] - s.default_pose[hips]), axis=1)


@dataclass
class RewardWeights:
    tracking_lin_vel: float = 1.5
    tracking_ang_vel: float = 0.8
    lin_vel_z: float = -2.0
    ang_vel_xy: float = -0.05
    orientation: float = -2.0
    base_height: float = -20.0
    torques: float = -1e-4
    dof_acc: float = -2.5e-7
    action_rate: float = -0.01
    dof_pos_limits: float = -10.0
    collision: float = -1.0
    feet_air_time: float = 0.5
    gait_contact: float = 0.4
    swing_height: float = -30.0
    foot_slip: float = -0.1
    stand_still: float = -0.5
    hip_pose: float = -0.5
    obstacle_clearance: float = 0.0  # the parkour teacher's (training.parkour.teacher_weights)
    tracking_goal_vel: float = 0.0  # the jumping teacher's (training.parkour.jump_weights), and the next two
    stall: float = 0.0
    feet_edge: float = 0.0
    alive: float = 0.0  # bipeds (config.humanoid_config)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class RewardParams:
    tracking_sigma: float = 0.2
    base_height_target: float = 0.28
    swing_height_target: float = 0.07
    air_time_target: float = 0.15


def compute_terms(s: RewardState, p: RewardParams, hips: np.ndarray) -> dict[str, np.ndarray]:
    """Every term, unweighted, (B,) each."""
    return {
        "tracking_lin_vel": tracking_lin_vel(s, p.tracking_sigma),
        "tracking_ang_vel": tracking_ang_vel(s, p.tracking_sigma),
        "lin_vel_z": lin_vel_z(s),
        "ang_vel_xy": ang_vel_xy(s),
        "orientation": orientation(s),
        "base_height": base_height(s, p.base_height_target),
        "torques": torques(s),
        "dof_acc": dof_acc(s),
        "action_rate": action_rate(s),
        "dof_pos_limits": dof_pos_limits(s),
        "collision": collision(s),
        "feet_air_time": feet_air_time(s, p.air_time_target),
        "gait_contact": gait_contact(s),
        "swing_height": swing_height(s, p.swing_height_target),
        "foot_slip": foot_slip(s),
        "stand_still": stand_still(s),
        "hip_pose": hip_pose(s, hips),
        "obstacle_clearance": obstacle_clearance(s),
        "tracking_goal_vel": tracking_goal_vel(s),
        "stall": stall(s),
        "feet_edge": feet_edge(s),
        "alive": alive(s),
    }


def total(terms: dict[str, np.ndarray], weights: RewardWeights, dt: float, only_positive: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(reward (B,), weighted terms). With only_positive the sum is clipped at 0 (legged_gym): early
    on, penalties then cannot make ending the episode by falling look better than living."""
    w = weights.as_dict()
    weighted = {k: v * (w[k] * dt) for k, v in terms.items() if w.get(k, 0.0) != 0.0}
    r = np.sum(np.stack(list(weighted.values()), axis=0), axis=0)
    if only_positive:
        r = np.clip(r, 0.0, None)
    return r, weighted
