"""Plain data passed between core modules and adapted to messages by the ROS shell.

Every joint array is in the robot's canonical joint order (config/robots/<robot>.yaml).
Quaternions are (w, x, y, z), world-from-body. Body-frame vectors are in the base frame.
Times are seconds (float) on the graph's clock: sim time in simulation, wall time on a robot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODES = ("position", "damping", "passive")


@dataclass
class JointCommand:
    """What a backend applies: tau = kp (q - q_meas) + kd (dq - dq_meas) + tau, clipped to effort limits.

    mode 'damping' means kp = 0 and kd = the robot's damping gain; 'passive' means zero torque.
    """

    stamp: float
    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    mode: str = "position"

    @classmethod
    def passive(cls, n: int, stamp: float = 0.0) -> JointCommand:
        z = np.zeros(n)
        return cls(stamp, z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), "passive")

    @classmethod
    def damping(cls, q_meas: np.ndarray, kd: float | np.ndarray, stamp: float = 0.0) -> JointCommand:
        n = len(q_meas)
        return cls(stamp, np.asarray(q_meas, float).copy(), np.zeros(n), np.zeros(n), np.zeros(n), np.broadcast_to(kd, (n,)).astype(float), "damping")

    def is_finite(self) -> bool:
        return all(np.all(np.isfinite(a)) for a in (self.q, self.dq, self.tau, self.kp, self.kd))


@dataclass
class JointSample:
    stamp: float
    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray


@dataclass
class ImuSample:
    stamp: float
    quat: np.ndarray  # (w, x, y, z) world-from-body
    gyro: np.ndarray  # body frame, rad/s
    acc: np.ndarray  # body frame, m/s^2 (specific force)


@dataclass
class ProprioState:
    """The policy's view of the body at one instant."""

    stamp: float
    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    quat: np.ndarray
    gravity: np.ndarray  # unit gravity direction in the body frame (projected gravity)
    ang_vel: np.ndarray  # body frame
    lin_vel: np.ndarray  # body frame, estimated
    contacts: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per foot, 0..1
