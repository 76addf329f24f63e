"""Raw network output (policy joint_order) -> joint targets and gains (robot canonical order).

Joints the policy does not list hold the robot's default pose with the robot's default gains, so
a 12-joint leg policy on a 29-joint humanoid keeps its arms and waist stiff at their default
instead of leaving them limp or commanding them to 0 rad.
Nothing here clips targets to joint limits or rate-limits them: that is safety/limits.py, applied
after this and shared with training, so a policy's raw intent stays visible on policy/joint_targets.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.policy.spec import PolicySpec
from lucid_ros.robots.description import RobotDescription


class ActionMapper:
    def __init__(self, spec: PolicySpec, robot: RobotDescription):
        self.spec = spec
        self.robot = robot
        self.n_act = spec.n_act
        self.index = robot.index_of(list(spec.joint_order))  # action k drives canonical joint index[k]
        self.scale = np.asarray(spec.action.scale, dtype=np.float64)
        default = robot.default_pose[self.index]
        self.offset = default.copy() if spec.action.offset is None else np.asarray(spec.action.offset, dtype=np.float64)
        self.clip = spec.action.clip
        self.kp = robot.kp.copy()
        self.kp[self.index] = spec.kp
        self.kd = robot.kd.copy()
        self.kd[self.index] = spec.kd
        self.kp.setflags(write=False)
        self.kd.setflags(write=False)
        self.controlled = np.zeros(robot.n_joints, dtype=bool)
        self.controlled[self.index] = True

    def clip_raw(self, raw: np.ndarray) -> np.ndarray:
        """The raw action clipped to ±action.clip: what the targets use and what is fed back as
        last_action. NaN stays NaN (the safety supervisor refuses it; hiding it here would not)."""
        raw = self._check(raw)
        return raw.copy() if self.clip is None else np.clip(raw, -self.clip, self.clip)

    def targets(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q_target (..., n_robot), kp (n_robot,), kd (n_robot,)) for raw actions of shape (..., n_act)."""
        a = self.clip_raw(raw)
        q = np.broadcast_to(self.robot.default_pose, a.shape[:-1] + (self.robot.n_joints,)).copy()
        q[..., self.index] = self.offset + self.scale * a
        return q, self.kp, self.kd

    def _check(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim < 1 or raw.shape[-1] != self.n_act:
            raise ValueError(f"policy '{self.spec.name}' expects actions with last dimension {self.n_act}, got shape {raw.shape}")
        return raw
