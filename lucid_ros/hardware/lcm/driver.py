"""Mini Cheetah / walk-these-ways LCM driver: the policy side of the LCM bridge, at 500 Hz.

Subscribes leg_control_data, state_estimator_data and rc_command; publishes pd_plustau_targets
(q_des, qd_des, tau_ff, kp, kd in the bridge's joint order = the YAML's vendor_index). The
bridge (walk-these-ways lcm_position, or Cheetah-Software) applies the robot's own limits.
rc_command maps to the Unitree remote layout for the node (sticks; left_upper -> L1,
left_lower_left -> L2, right_upper -> R1, right_lower_right -> R2); its latched `mode` is not a
button, so the L2+B e-stop is not available from this remote: use safety/estop.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.hardware.go1.remote import encode_remote
from lucid_ros.hardware.interface import Reading
from lucid_ros.hardware.lcm import types as T
from lucid_ros.hardware.lowlevel import LowLevelDriver
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointCommand, JointSample

N = 12


def rc_to_remote(rc: dict) -> bytes:
    held = {b for b, k in (("L1", "left_upper_switch"), ("L2", "left_lower_left_switch"), ("R1", "right_upper_switch"),
                           ("R2", "right_lower_right_switch")) if rc.get(k)}  # fmt: skip
    ls, rs = rc["left_stick"], rc["right_stick"]
    return encode_remote(held, lx=float(ls[0]), ly=float(ls[1]), rx=float(rs[0]), ry=float(rs[1]))


class LcmDriver(LowLevelDriver):
    backend = "mini_cheetah_lcm"

    def __init__(self, robot: RobotDescription, lcm_url: str = T.ROBOT_URL, **kwargs):
        super().__init__(robot, **kwargs)
        if robot.n_joints != N or int(robot.vendor_index.max()) >= N:
            raise ValueError(f"{robot.name}: the LCM bridge carries exactly 12 joints in slots 0..11")
        try:
            import lcm  # noqa: F401
        except ImportError as exc:
            raise ConfigError(None, "robot_driver.backend", "mini_cheetah_lcm needs the lcm Python package (pip install 'lucid_ros[lcm]')") from exc
        self.url = lcm_url
        self.vidx = robot.vendor_index
        self.lc = None
        self._estimator: dict | None = None
        self._rc: bytes | None = None
        self._pending: Reading | None = None
        self.rejected = 0
        self._send_lock = threading.Lock()

    def _where(self) -> str:
        return f"LCM {self.url}"

    def _open(self) -> None:
        import lcm

        self.lc = lcm.LCM(self.url)
        self.lc.subscribe("leg_control_data", self._on_leg)
        self.lc.subscribe("state_estimator_data", self._on_estimator)
        self.lc.subscribe("rc_command", self._on_rc)

    def _close(self) -> None:
        self.lc = None

    def _decode(self, t: T.LcmType, data: bytes) -> dict | None:
        try:
            return t.decode(data)
        except ValueError:
            self.rejected += 1
            return None

    def _on_estimator(self, _ch, data) -> None:
        self._estimator = self._decode(T.STATE_ESTIMATOR, data)

    def _on_rc(self, _ch, data) -> None:
        rc = self._decode(T.RC_COMMAND, data)
        if rc is not None:
            self._rc = rc_to_remote(rc)

    def _on_leg(self, _ch, data) -> None:
        leg = self._decode(T.LEG_CONTROL_DATA, data)
        est = self._estimator
        if leg is None or est is None:
            return
        stamp = time.time()
        v = self.vidx
        joints = JointSample(stamp, leg["q"][v].astype(float), leg["qd"][v].astype(float), leg["tau_est"][v].astype(float))
        imu = ImuSample(stamp, est["quat"].astype(float), est["omegaBody"].astype(float), est["aBody"].astype(float))
        self._pending = Reading(stamp, joints, imu, self._rc, int(leg["timestamp_us"]))

    def _receive(self) -> Reading | None:
        if self.lc is None or self.lc.handle_timeout(10) <= 0:
            return None
        r, self._pending = self._pending, None
        return r

    def encode(self, cmd: JointCommand) -> bytes:
        arrays = {k: np.zeros(N) for k in ("q_des", "qd_des", "tau_ff", "kp", "kd")}
        v = self.vidx
        if cmd.mode == "position":
            arrays["q_des"][v] = np.clip(cmd.q, self.robot.lower, self.robot.upper)
            arrays["qd_des"][v] = cmd.dq
            arrays["tau_ff"][v] = np.clip(cmd.tau, -self.robot.effort_limit, self.robot.effort_limit)
            arrays["kp"][v] = cmd.kp
            arrays["kd"][v] = cmd.kd
        elif cmd.mode == "damping":
            arrays["q_des"][v] = cmd.q
            arrays["kd"][v] = cmd.kd
        return T.PD_TAU_TARGETS.encode({**arrays, "timestamp_us": int(time.time() * 1e6), "id": 0, "robot_id": 0})

    def _transmit(self, cmd: JointCommand, send: bool) -> None:
        data = self.encode(cmd)
        if send and self.lc is not None:
            self.lc.publish("pd_plustau_targets", data)

    def _protocol_values(self) -> dict:
        return {"lcm_url": self.url, "rx_rejected": self.rejected}
