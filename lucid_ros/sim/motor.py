"""The motor law the robot's motor drivers run, and the ways training perturbs it.

Unitree motors close a PD loop on board at high rate: tau = kp (q* - q) + kd (dq* - dq) + tau_ff,
saturated at the effort limit. The sim bridge (one robot) and training (many) both call
`pd_torque` every physics step, so a policy trained here meets the same motors at runtime.
"""

from __future__ import annotations

import numpy as np


def pd_torque(
    q: np.ndarray, dq: np.ndarray, cmd_q: np.ndarray, cmd_dq: np.ndarray, cmd_tau: np.ndarray,
    kp: np.ndarray, kd: np.ndarray, effort_limit: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Joint torques of the motor PD law, clipped to +-effort_limit; leading dimensions broadcast."""
    tau = kp * (cmd_q - q) + kd * (cmd_dq - dq) + cmd_tau
    return np.clip(tau, -effort_limit, effort_limit)


class MotorModel:
    """Domain-randomisation knobs around `pd_torque`; the defaults change nothing.

    strength scales the PD output before the effort clip (a weak or hot motor: legged_gym's
    motor_strength), kp_scale/kd_scale scale the gains, and latency_steps delays the command by
    whole physics steps (bus and driver latency). Each knob is a scalar or broadcasts against
    the batch shape (e.g. (n_envs, 1) for one value per environment).
    """

    def __init__(
        self, n_joints: int, batch: tuple[int, ...] = (), strength: float | np.ndarray = 1.0,
        kp_scale: float | np.ndarray = 1.0, kd_scale: float | np.ndarray = 1.0, latency_steps: int | np.ndarray = 0,
    ) -> None:  # fmt: skip
        self.n_joints = n_joints
        self.batch = tuple(batch)
        self.strength = strength
        self.kp_scale = kp_scale
        self.kd_scale = kd_scale
        self._delay = CommandDelay(self.batch, n_joints, latency_steps)

    @property
    def latency_steps(self) -> np.ndarray:
        return self._delay.steps

    def set_latency(self, steps: int | np.ndarray) -> None:
        self._delay = CommandDelay(self.batch, self.n_joints, steps)

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Forget queued commands (of the masked environments): a reset robot has no stale command."""
        self._delay.clear(mask)

    def torque(self, q: np.ndarray, dq: np.ndarray, cmd: np.ndarray, effort_limit: np.ndarray) -> np.ndarray:
        """Torque for one physics step; cmd is (*batch, 5, n_joints) = q*, dq*, tau_ff, kp, kd.

        The command passes the latency line first, so call this exactly once per physics step.
        """
        c = self._delay.push(cmd)
        kp, kd = c[..., 3, :], c[..., 4, :]
        if not (np.isscalar(self.kp_scale) and self.kp_scale == 1.0):
            kp = kp * self.kp_scale
        if not (np.isscalar(self.kd_scale) and self.kd_scale == 1.0):
            kd = kd * self.kd_scale
        if np.isscalar(self.strength) and self.strength == 1.0:
            return pd_torque(q, dq, c[..., 0, :], c[..., 1, :], c[..., 2, :], kp, kd, effort_limit)
        tau = self.strength * (kp * (c[..., 0, :] - q) + kd * (c[..., 1, :] - dq) + c[..., 2, :])
        return np.clip(tau, -effort_limit, effort_limit)


class CommandDelay:
    """A ring buffer that returns the command pushed `steps` pushes ago (per batch element).

    Until a robot has received `steps` commands since a reset it gets the oldest one it has,
    never a zero command that would drop it.
    """

    def __init__(self, batch: tuple[int, ...], n_joints: int, steps: int | np.ndarray) -> None:
        self.steps = np.broadcast_to(np.asarray(steps, dtype=np.int64), batch).copy()
        if np.any(self.steps < 0):
            raise ValueError(f"latency steps must be >= 0, got {steps}")
        self.size = int(self.steps.max(initial=0)) + 1
        self.buf = np.zeros((self.size, *batch, 5, n_joints))
        self.count = np.zeros(batch, dtype=np.int64)  # pushes since reset, capped at size
        self.head = 0

    def clear(self, mask: np.ndarray | None = None) -> None:
        if mask is None:
            self.count[...] = 0
        else:
            self.count[np.asarray(mask)] = 0

    def push(self, cmd: np.ndarray) -> np.ndarray:
        if self.size == 1:
            return cmd
        self.head = (self.head + 1) % self.size
        self.buf[self.head] = cmd
        self.count = np.minimum(self.count + 1, self.size)
        lag = np.minimum(self.steps, self.count - 1)
        slot = (self.head - lag) % self.size
        if slot.ndim == 0:
            return self.buf[int(slot)].copy()
        idx = np.indices(slot.shape)
        return self.buf[(slot, *idx)]
