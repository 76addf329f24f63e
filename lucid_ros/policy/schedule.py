"""When the network runs, and what the robot is given between runs: the policy runner's timing rules.

The robot ticks faster than most policies run (Go1: 500 Hz physics, 50 Hz ticks, a 50 Hz policy;
a 25 Hz policy runs every other tick). Every tick still needs a target, so the supervisor always
has one for the tick it answers:

- **decimation**: the network runs on the first tick after RUNNING starts and then whenever a
  whole policy period has passed since its last run, by tick stamp, so the rate is the spec's on
  any clock, within half a robot tick: on a robot the stamps are reception times and jitter
  (go1_udp through its fake: 15.9-24.7 ms apart for 50 Hz ticks), and a policy period compared
  exactly skipped every tick that came early, so a 50 Hz policy ran at 32 Hz;
- **hold**: between runs the last target is repeated, restamped with the tick it answers;
- **command timeout**: a velocity command older than `cmd_timeout` is zero: a silent operator
  means stand still, not "keep going"; `zero_command()` drops it at once (the operator lease lost);
- **reset**: entering RUNNING starts the schedule afresh (the caller resets the network's state).

Plain Python, no clock of its own: the node passes tick stamps and its own `now`.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.types import JointCommand

PERIOD_SLACK = 1e-6  # s: tick stamps are sums of floats; a period that is 1e-9 short is still a period


class PolicySchedule:
    def __init__(self, policy_period: float, cmd_timeout: float, n_joints: int, tick_period: float = 0.0):
        """`tick_period`: the robot's tick (1 / rate_hz); a tick up to half of it early still runs the
        network (0: exact stamps, as in sim)."""
        if policy_period <= 0 or cmd_timeout <= 0 or tick_period < 0:
            raise ValueError("policy_period and cmd_timeout must be > 0, tick_period >= 0")
        self.policy_period = policy_period
        self.slack = max(PERIOD_SLACK, 0.5 * tick_period)
        self.cmd_timeout = cmd_timeout
        self.n = n_joints
        self._command = np.zeros(3)
        self._command_at: float | None = None
        self.last_run: float | None = None  # tick stamp of the network's last run
        self.held: JointCommand | None = None

    # ---- the velocity command ---------------------------------------------------------------
    def set_command(self, vx: float, vy: float, wz: float, now: float) -> None:
        self._command = np.array([vx, vy, wz], dtype=float)
        self._command_at = now

    def zero_command(self, now: float | None = None) -> None:
        """Zero from now on (until the next set_command); `now` also counts as hearing from the operator."""
        self._command = np.zeros(3)
        if now is not None:
            self._command_at = now

    def command(self, now: float) -> np.ndarray:
        if self._command_at is None or now - self._command_at > self.cmd_timeout:
            return np.zeros(3)
        return self._command.copy()

    # ---- the network's schedule -------------------------------------------------------------
    def start(self) -> None:
        """RUNNING began: the next tick runs the network (the caller resets the network's state)."""
        self.last_run = None

    def due(self, stamp: float) -> bool:
        return self.last_run is None or stamp - self.last_run >= self.policy_period - self.slack

    def ran(self, stamp: float, q: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """The network ran for tick `stamp` and asked for (q, kp, kd): that is the target held from now."""
        self.last_run = stamp
        z = np.zeros(self.n)
        self.held = JointCommand(stamp, np.asarray(q, float), z, z.copy(), np.asarray(kp, float), np.asarray(kd, float), "position")

    def target(self, stamp: float) -> JointCommand | None:
        """The target for tick `stamp`: the held one, restamped (None before the network's first run)."""
        if self.held is None:
            return None
        self.held.stamp = stamp
        return self.held
