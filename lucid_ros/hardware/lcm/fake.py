"""A simulated LCM robot (bridge + robot): publishes leg_control_data, state_estimator_data and
rc_command at 500 Hz and obeys joint targets, in its robot's LCM dialect (types.DIALECTS):
walk-these-ways' pd_plustau_targets, or Cheetah-Software's leg_control_command (per-joint
kp_joint / kd_joint; the foot-space fields are not modelled: the driver leaves them 0).

Torque limits: the motor model clamps at the YAML's effort limits (SimRobot), which for the Mini
Cheetah are the 3 N*m motor limit through the gears (18 / 18 / 28 N*m). MCS's spine clamps a
little lower, +-(17, 17, 26) (robot-models.md §4.2); at most 1-2 N*m of difference at saturation,
so no second clamp here.

Loopback only: the URL must carry ttl=0, so nothing leaves this machine. Fault injection beyond
the base's mute(): `silence(channel)` stops one output channel (the estimator process dying
while the leg controller runs on, a dead remote link).
"""

from __future__ import annotations

import time

import numpy as np

from lucid_ros.hardware.fakebase import FakeRobotBase
from lucid_ros.hardware.lcm import types as T
from lucid_ros.mathutil import quat_rotate, quat_to_rpy
from lucid_ros.types import JointCommand


class FakeLcmRobot(FakeRobotBase):
    protocol = "mini_cheetah_lcm"

    def __init__(self, robot, lcm_url: str = T.LOOPBACK_URL, **kwargs):
        if "ttl=0" not in lcm_url:
            raise ValueError(f"the fake LCM robot only serves this machine: its URL needs ttl=0 (got {lcm_url})")
        super().__init__(robot, **kwargs)
        self.url = lcm_url
        self.endpoint = lcm_url
        self.vidx = robot.vendor_index
        self.dialect = T.DIALECTS[robot.lcm_dialect]
        self.lc = None
        self.silenced: set[str] = set()

    def silence(self, channel: str, silent: bool = True) -> None:
        if channel not in ("leg_control_data", "state_estimator_data", "rc_command"):
            raise ValueError(f"not a channel the fake publishes: {channel!r}")
        (self.silenced.add if silent else self.silenced.discard)(channel)

    def _publish(self, channel: str, data: bytes) -> None:
        if channel not in self.silenced:
            self.lc.publish(channel, data)

    def _open(self) -> None:
        import lcm

        self.lc = lcm.LCM(self.url)
        self.lc.subscribe(self.dialect.command_channel, self._on_targets)

    def _close(self) -> None:
        self.lc = None

    def _on_targets(self, _ch, data) -> None:
        try:
            t = self.dialect.decode_command(data)
        except ValueError:
            self.rejected += 1
            return
        v = self.vidx
        self._accept(JointCommand(self.sim.time, *(t[r][v] for r in T.COMMAND_ROLES), "position"))

    def _poll_commands(self) -> None:
        while self.lc.handle_timeout(0) > 0:
            pass

    def _send_state(self) -> None:
        j = self.vendor_joint_sample()
        imu = self.sim.imu_sample()
        gt = self.sim.ground_truth()
        now_us = int(time.time() * 1e6)
        q, qd, tau = np.zeros(12), np.zeros(12), np.zeros(12)
        q[self.vidx], qd[self.vidx], tau[self.vidx] = j.q, j.dq, j.tau
        contact = np.zeros(4)
        feet = self.sim.foot_contacts()
        contact[: min(4, len(feet))] = feet[:4]
        est = {
            "p": gt.pos, "vWorld": gt.lin_vel_world, "vBody": gt.lin_vel_body, "rpy": quat_to_rpy(imu.quat),
            "omegaBody": imu.gyro, "omegaWorld": quat_rotate(imu.quat, imu.gyro), "quat": imu.quat,
            "contact_estimate": contact, "aBody": imu.acc, "aWorld": quat_rotate(imu.quat, imu.acc), "timestamp_us": now_us,
        }  # fmt: skip
        self._publish("state_estimator_data", T.STATE_ESTIMATOR.encode(est))
        self._publish("leg_control_data", self.dialect.encode_leg_data(q, qd, tau, now_us))
        st = self.sticks()
        self._publish("rc_command", T.RC_COMMAND.encode({"left_stick": [st["lx"], st["ly"]], "right_stick": [st["rx"], st["ry"]]}))
