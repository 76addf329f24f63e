"""The one place where a joint's project convention meets the vendor's motor convention.

A robot description may say, per joint, that the vendor's motor reads the same physical angle
with the other sign and another zero (config/robots/<robot>.yaml `vendor_sign`, `vendor_offset`):

    q_vendor = sign * q + offset      dq_vendor = sign * dq      tau_vendor = sign * tau

kp and kd are unchanged (a sign flip leaves a PD law's gains as they are). Every driver converts
a canonical command with `to_vendor()` before encoding and a decoded state with `state_from_vendor()`;
every fake robot does the reverse, so a driver and its fake round-trip to identity. Position limits
go through `vendor_limits()` (a sign flip swaps lower and upper). The default (sign +1, offset 0)
leaves every value as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import JointCommand


@dataclass(frozen=True)
class VendorConvention:
    sign: np.ndarray  # +1 or -1 per canonical joint
    offset: np.ndarray  # rad per canonical joint

    @classmethod
    def of(cls, robot: RobotDescription) -> VendorConvention:
        return cls(robot.vendor_sign, robot.vendor_offset)

    @property
    def identity(self) -> bool:
        return bool(np.all(self.sign == 1.0) and np.all(self.offset == 0.0))

    def q_to_vendor(self, q: np.ndarray) -> np.ndarray:
        return self.sign * np.asarray(q, float) + self.offset

    def q_from_vendor(self, qv: np.ndarray) -> np.ndarray:
        return self.sign * (np.asarray(qv, float) - self.offset)

    def vendor_limits(self, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.q_to_vendor(lower), self.q_to_vendor(upper)
        return np.minimum(a, b), np.maximum(a, b)

    def to_vendor(self, cmd: JointCommand) -> JointCommand:
        """A canonical command as the vendor's motors read it (same mode, same gains)."""
        if self.identity:
            return cmd
        s = self.sign
        return JointCommand(cmd.stamp, self.q_to_vendor(cmd.q), s * cmd.dq, s * cmd.tau, cmd.kp, cmd.kd, cmd.mode)

    def from_vendor(self, cmd: JointCommand) -> JointCommand:
        """A command decoded off the wire (vendor convention) in the project's convention (fake robots)."""
        if self.identity:
            return cmd
        s = self.sign
        return JointCommand(cmd.stamp, self.q_from_vendor(cmd.q), s * cmd.dq, s * cmd.tau, cmd.kp, cmd.kd, cmd.mode)

    def state_from_vendor(self, q, dq, tau) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.sign
        return self.q_from_vendor(q), s * np.asarray(dq, float), s * np.asarray(tau, float)

    def state_to_vendor(self, q, dq, tau) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.sign
        return self.q_to_vendor(q), s * np.asarray(dq, float), s * np.asarray(tau, float)
