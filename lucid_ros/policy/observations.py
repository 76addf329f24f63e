"""Observation assembly: robot state in canonical order -> the policy's observation vector.

This is the one implementation training and the robot share (the classic sim-to-real bug is a
second copy that differs in term order, a scale, a frame or the history layout). It is batched:
the runtime calls it with B = 1, training with B = thousands, through the same code path. Every
index array is computed once in the constructor; `build` is a handful of vectorised numpy ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lucid_ros.mathutil import projected_gravity, quat_to_rpy
from lucid_ros.policy.spec import PolicySpec
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ProprioState


@dataclass
class ObsInputs:
    """Batched inputs (leading dim B). Joint arrays in the robot's canonical order; vectors in the
    body frame. Only the inputs the spec's terms read are required; the rest may stay None.

    gravity may be omitted when quat is given (it is derived); roll_pitch uses quat when given,
    gravity otherwise. last_action is in the policy's joint_order (it is the clipped raw action).
    """

    q: np.ndarray | None = None  # (B, n_robot)
    dq: np.ndarray | None = None  # (B, n_robot)
    gravity: np.ndarray | None = None  # (B, 3) unit, (0, 0, -1) level
    quat: np.ndarray | None = None  # (B, 4) (w, x, y, z) world-from-body
    ang_vel: np.ndarray | None = None  # (B, 3)
    lin_vel: np.ndarray | None = None  # (B, 3)
    contacts: np.ndarray | None = None  # (B, n_feet) robot `feet:` order, 0..1
    command: np.ndarray | None = None  # (B, 3) vx, vy, yaw rate
    last_action: np.ndarray | None = None  # (B, n_act)
    phase_time: np.ndarray | None = None  # (B,) s since RUNNING
    height_scan: np.ndarray | None = None  # (B, N) base height above the terrain at the term's scan_points() (sim only)

    @classmethod
    def from_state(cls, state: ProprioState, command: np.ndarray) -> ObsInputs:
        """Batch-1 inputs from the estimator's state and a (vx, vy, wz) command."""

        def b(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or np.size(a) == 0 else np.asarray(a, dtype=np.float64)[None]

        return cls(
            q=b(state.q),
            dq=b(state.dq),
            gravity=b(state.gravity),
            quat=b(state.quat),
            ang_vel=b(state.ang_vel),
            lin_vel=b(state.lin_vel),
            contacts=b(state.contacts),
            command=b(command),
        )


def height_scan(points: np.ndarray, base_pos: np.ndarray, yaw: np.ndarray, terrain_height: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The `height_scan` input: base height above the terrain at yaw-frame `points` (N, 2) around
    each base (B, 3) with heading `yaw` (B,); `terrain_height(xy (..., 2)) -> (...)` is the course's
    height map (lucid_ros.sim.heights.CourseHeights). Training and the sim bridge both call this,
    so the grid's orientation, order and sign are one definition. Returns (B, N)."""
    from lucid_ros.sim.heights import scan_points

    base_pos = np.asarray(base_pos, dtype=np.float64).reshape(-1, 3)
    world = scan_points(base_pos, np.asarray(yaw, dtype=np.float64).reshape(-1), points)  # (B, N, 2)
    return base_pos[:, 2:3] - np.asarray(terrain_height(world), dtype=np.float64).reshape(world.shape[:-1])


def roll_pitch_from_gravity(g: np.ndarray) -> np.ndarray:
    """Roll and pitch (ZYX) from the body-frame gravity direction: g = (sin p, -cos p sin r, -cos p cos r)."""
    g = np.asarray(g, dtype=np.float64)
    g = g / np.linalg.norm(g, axis=-1, keepdims=True)
    pitch = np.arcsin(np.clip(g[..., 0], -1.0, 1.0))
    roll = np.arctan2(-g[..., 1], -g[..., 2])
    return np.stack([roll, pitch], axis=-1)


class ObservationBuilder:
    """`build(inputs) -> (B, obs_dim) float32`, keeping a history of frames per env.

    History after a reset: the first frame of an episode is copied into every history slot rather
    than leaving zeros. A zero frame is a state the robot can never be in (gravity of length 0,
    joints at 0 rad instead of near the default pose), so a zero-padded stack shows the network an
    impossible past at exactly the moment it starts to act; repeating the first frame reads as
    "standing still for a while", which is also what training sees after its resets (it calls this
    same class). Envs start out reset.
    """

    def __init__(self, spec: PolicySpec, robot: RobotDescription, batch: int = 1):
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.spec = spec
        self.robot = robot
        self.batch = batch
        obs = spec.observation
        self.obs_dim = obs.dim
        self.frame_dim = obs.frame_dim
        self._joint_idx = robot.index_of(list(spec.joint_order))  # policy slot k reads canonical joint _joint_idx[k]
        self._default = robot.default_pose[self._joint_idx]
        self._terms: list[tuple[slice, Callable[[ObsInputs], np.ndarray], np.ndarray, np.ndarray, float | None]] = []
        needs: set[str] = set()
        for term, sl in zip(obs.terms, obs.frame_slices(), strict=True):
            fn, used = self._reader(term)
            needs |= used
            self._terms.append((sl, fn, np.asarray(term.offset), np.asarray(term.scale), term.clip))
        self.required_inputs = frozenset(needs)  # ObsInputs field names; 'gravity' may come as 'quat' instead
        self._stack = obs.stack_index()
        self._history = np.zeros((batch, obs.history, self.frame_dim), dtype=np.float32)
        self._fresh = np.ones(batch, dtype=bool)

    def reset(self, env_mask: np.ndarray | None = None) -> None:
        """Mark envs (bool mask (B,) or indices; None = all) as starting an episode: their history is
        filled with the frame of the next `build`."""
        if env_mask is None:
            self._fresh[:] = True
        else:
            self._fresh[np.asarray(env_mask)] = True

    def build(self, inputs: ObsInputs) -> np.ndarray:
        """Append the current frame to each env's history and return the stacked observations."""
        frame = np.empty((self.batch, self.frame_dim), dtype=np.float64)
        for sl, fn, offset, scale, clip in self._terms:
            v = (fn(inputs) + offset) * scale
            frame[:, sl] = v if clip is None else np.clip(v, -clip, clip)
        if self.spec.observation.clip is not None:
            np.clip(frame, -self.spec.observation.clip, self.spec.observation.clip, out=frame)
        h = self._history
        h[:, :-1] = h[:, 1:]
        h[:, -1] = frame
        if self._fresh.any():
            h[self._fresh] = frame[self._fresh, None, :]
            self._fresh[:] = False
        return h.reshape(self.batch, -1)[:, self._stack]  # fancy indexing: a new array, never a view

    # -- term readers -------------------------------------------------------------------------

    def _get(self, inputs: ObsInputs, name: str, width: int) -> np.ndarray:
        a = getattr(inputs, name)
        if a is None:
            raise ValueError(f"observation input '{name}' is required by policy '{self.spec.name}' but was not given")
        a = np.asarray(a, dtype=np.float64)
        if a.shape != (self.batch, width):
            raise ValueError(f"observation input '{name}' must have shape ({self.batch}, {width}), got {a.shape}")
        return a

    def _gravity(self, x: ObsInputs) -> np.ndarray:
        if x.gravity is None and x.quat is not None:
            return projected_gravity(self._get(x, "quat", 4))
        return self._get(x, "gravity", 3)

    def _reader(self, term) -> tuple[Callable[[ObsInputs], np.ndarray], set[str]]:
        """A function computing the term's raw value (B, size), and the inputs it reads."""
        n, idx = self.robot.n_joints, self._joint_idx
        name = term.name
        if name == "base_lin_vel":
            return (lambda x: self._get(x, "lin_vel", 3)), {"lin_vel"}
        if name == "base_ang_vel":
            return (lambda x: self._get(x, "ang_vel", 3)), {"ang_vel"}
        if name == "projected_gravity":
            return self._gravity, {"gravity"}
        if name == "roll_pitch":
            return (lambda x: quat_to_rpy(self._get(x, "quat", 4))[:, :2] if x.quat is not None else roll_pitch_from_gravity(self._gravity(x))), {
                "gravity"
            }
        if name == "velocity_command":
            if term.components is None:
                return (lambda x: self._get(x, "command", 3)), {"command"}
            pick = np.asarray(term.components)  # e.g. extreme-parkour reads the forward speed alone
            return (lambda x: self._get(x, "command", 3)[:, pick]), {"command"}
        if name == "constant":
            # A fixed input the network was trained with (extreme-parkour's env-class flags, entries
            # its deployed student overwrites or never reads): no sensor, the same every step.
            value = np.asarray(term.value, dtype=np.float64)
            return (lambda x: np.broadcast_to(value, (self.batch, value.size))), set()
        if name == "joint_pos_rel":
            # A policy trained elsewhere subtracts its own reference pose (the spec's `default`),
            # which need not be this robot description's default pose.
            ref = self._default if term.default is None else np.asarray(term.default, dtype=np.float64)
            return (lambda x: self._get(x, "q", n)[:, idx] - ref), {"q"}
        if name == "joint_pos":
            return (lambda x: self._get(x, "q", n)[:, idx]), {"q"}
        if name == "joint_vel":
            return (lambda x: self._get(x, "dq", n)[:, idx]), {"dq"}
        if name == "last_action":
            return (lambda x: self._get(x, "last_action", self.spec.n_act)), {"last_action"}
        if name == "foot_contacts":
            feet = self.robot.feet
            fidx = np.arange(len(feet)) if term.feet is None else np.array([feet.index(f) for f in term.feet])
            return (lambda x: self._get(x, "contacts", len(feet))[:, fidx]), {"contacts"}
        if name == "gait_phase":
            w = 2.0 * np.pi * term.frequency
            t0 = term.start  # the clock at the policy's first step (unitree_rl_gym's deploy: one policy period)

            def phase(x: ObsInputs) -> np.ndarray:
                if x.phase_time is None:
                    raise ValueError(f"observation input 'phase_time' is required by policy '{self.spec.name}' but was not given")
                t = np.asarray(x.phase_time, dtype=np.float64)
                if t.shape != (self.batch,):
                    raise ValueError(f"observation input 'phase_time' must have shape ({self.batch},), got {t.shape}")
                return np.stack([np.sin(w * (t + t0)), np.cos(w * (t + t0))], axis=-1)

            return phase, {"phase_time"}
        if name == "height_scan":
            return (lambda x: self._get(x, "height_scan", term.size)), {"height_scan"}
        raise ValueError(f"observation term '{name}' has no reader")  # spec.TERM_SIZES and this list disagree
