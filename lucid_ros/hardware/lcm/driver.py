"""Mini Cheetah / walk-these-ways LCM driver: the policy side of the LCM bridge, at 500 Hz.

Subscribes leg_control_data, state_estimator_data and rc_command; publishes joint targets in the
robot's LCM dialect (its YAML's vendor.lcm_dialect, types.DIALECTS): walk-these-ways'
pd_tau_targets_lcmt on pd_plustau_targets (q_des, qd_des, tau_ff, kp, kd), or Cheetah-Software's
leg_control_command_lcmt on leg_control_command (q_des, qd_des, tau_ff, kp_joint, kd_joint; the
foot-space f_ff, p_des, v_des and cartesian gains left 0, so LegController adds no cartesian
term). Joint order = the YAML's vendor_index. The bridge applies the robot's own limits.
rc_command maps to the Unitree remote layout for the node (sticks; left_upper -> L1,
left_lower_left -> L2, right_upper -> R1, right_lower_right -> R2); its latched `mode` is not a
button, so the L2+B e-stop is not available from this remote: use safety/estop.

Whatever arrives on a channel is checked before it may become state (issue #5): a datagram of
the wrong length or fingerprint (another type, truncated, garbage), non-finite readings in the
joints we use or in the estimator, a quaternion that is no rotation; each is dropped and counted
per channel and reason (`rejected_by`, diagnostics `rx_rejected_<reason>`). A bad estimator
message never replaces the last good one, and a joint reading is only paired with an estimator
younger than `silence_timeout`: if state_estimator_data stops, read() goes None and the robot
counts as silent, rather than walking on a frozen IMU. rc_command older than `rc_timeout` is
dropped from the reading, so a dead remote link cannot keep its last stick position.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.hardware.convention import VendorConvention
from lucid_ros.hardware.go1.remote import encode_remote
from lucid_ros.hardware.interface import Reading
from lucid_ros.hardware.lcm import types as T
from lucid_ros.hardware.lowlevel import LowLevelDriver
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointCommand, JointSample

log = logging.getLogger("lucid_ros.hardware")

N = 12
REJECT_REASONS = ("length", "fingerprint", "nonfinite", "quaternion")
CHANNELS_IN = ("leg_control_data", "state_estimator_data", "rc_command")


def rc_to_remote(rc: dict) -> bytes:
    held = {b for b, k in (("L1", "left_upper_switch"), ("L2", "left_lower_left_switch"), ("R1", "right_upper_switch"),
                           ("R2", "right_lower_right_switch")) if rc.get(k)}  # fmt: skip
    ls, rs = rc["left_stick"], rc["right_stick"]
    return encode_remote(held, lx=float(ls[0]), ly=float(ls[1]), rx=float(rs[0]), ry=float(rs[1]))


class LcmDriver(LowLevelDriver):
    backend = "mini_cheetah_lcm"

    def __init__(self, robot: RobotDescription, lcm_url: str = T.ROBOT_URL, rc_timeout: float = 0.1, **kwargs):
        super().__init__(robot, **kwargs)
        if robot.n_joints != N or int(robot.vendor_index.max()) >= N:
            raise ValueError(f"{robot.name}: the LCM bridge carries exactly 12 joints in slots 0..11")
        try:
            import lcm  # noqa: F401
        except ImportError as exc:
            raise ConfigError(None, "robot_driver.backend", "mini_cheetah_lcm needs the lcm Python package (pip install 'lucid_ros[lcm]')") from exc
        self.url = lcm_url
        self.dialect = T.DIALECTS[robot.lcm_dialect]
        self.vidx = robot.vendor_index
        self.convention = VendorConvention.of(robot)
        self.vlower, self.vupper = self.convention.vendor_limits(robot.lower, robot.upper)
        self.rc_timeout = rc_timeout
        self.lc = None
        self._estimator: tuple[float, dict] | None = None  # (monotonic reception time, message)
        self._rc: tuple[float, bytes] | None = None
        self._pending: Reading | None = None
        self.rejected_by = {ch: dict.fromkeys(REJECT_REASONS, 0) for ch in CHANNELS_IN}
        self.accepted = 0  # leg_control_data readings handed on
        self.stale_estimator = 0  # joint readings dropped: no estimator younger than silence_timeout
        self._logged: set[tuple[str, str]] = set()
        self._send_lock = threading.Lock()

    @property
    def rejected(self) -> int:
        """Datagrams refused on every channel, all reasons."""
        return sum(sum(r.values()) for r in self.rejected_by.values())

    def _where(self) -> str:
        bad = {k: sum(r[k] for r in self.rejected_by.values()) for k in REJECT_REASONS}
        extra = ", ".join(f"{v} {k}" for k, v in bad.items() if v)
        if self.stale_estimator:
            extra += f"{', ' if extra else ''}{self.stale_estimator} joint readings without a fresh state_estimator_data"
        return f"LCM {self.url}" + (f"; rejected {extra}" if extra else "")

    def _open(self) -> None:
        import lcm

        self.lc = lcm.LCM(self.url)
        self.lc.subscribe("leg_control_data", self._on_leg)
        self.lc.subscribe("state_estimator_data", self._on_estimator)
        self.lc.subscribe("rc_command", self._on_rc)

    def _close(self) -> None:
        self.lc = None

    def _reject(self, channel: str, reason: str, detail: str) -> None:
        self.rejected_by[channel][reason] += 1
        if (channel, reason) not in self._logged:  # once per kind: a flood must not flood the log
            self._logged.add((channel, reason))
            log.error("%s: %s datagram rejected (%s: %s); counting further ones in diagnostics", self.backend, channel, reason, detail)

    def _decode(self, channel: str, t: T.LcmType, data: bytes, finite: tuple[str, ...], slots=None) -> dict | None:
        try:
            msg = t.decode(data)
        except T.DecodeError as exc:
            self._reject(channel, exc.reason, str(exc))
            return None
        for f in finite:
            v = msg[f] if slots is None else msg[f][slots]
            if not np.all(np.isfinite(v)):
                self._reject(channel, "nonfinite", f"{f} = {np.asarray(v).tolist()}")
                return None
        return msg

    def _on_estimator(self, _ch, data) -> None:
        est = self._decode("state_estimator_data", T.STATE_ESTIMATOR, data, ("quat", "omegaBody", "aBody"))
        if est is None:
            return  # the last good estimate stays (and ages)
        if not 0.5 < float(np.linalg.norm(est["quat"])) < 1.5:
            self._reject("state_estimator_data", "quaternion", f"quat = {est['quat'].tolist()}")
            return
        self._estimator = (time.monotonic(), est)

    def _on_rc(self, _ch, data) -> None:
        rc = self._decode("rc_command", T.RC_COMMAND, data, ("left_stick", "right_stick"))
        if rc is not None:
            self._rc = (time.monotonic(), rc_to_remote(rc))

    def _on_leg(self, _ch, data) -> None:
        leg = self._decode("leg_control_data", self.dialect.leg_data, data, ("q", "qd", "tau_est"), self.vidx)
        if leg is None:
            return
        now = time.monotonic()
        if self._estimator is None or now - self._estimator[0] > self.silence_timeout:
            self.stale_estimator += 1
            return
        est = self._estimator[1]
        remote = self._rc[1] if self._rc is not None and now - self._rc[0] <= self.rc_timeout else None
        stamp = time.time()
        v = self.vidx
        joints = JointSample(stamp, *self.convention.state_from_vendor(leg["q"][v], leg["qd"][v], leg["tau_est"][v]))
        imu = ImuSample(stamp, est["quat"].astype(float), est["omegaBody"].astype(float), est["aBody"].astype(float))
        # Cheetah-Software's leg_control_data carries no stamp: the robot's stamp is then the
        # reception time (the graph's stamp, in microseconds), so ticks still rise with the data.
        tick = int(leg["timestamp_us"]) if self.dialect.stamped else int(stamp * 1e6)
        self.accepted += 1
        self._pending = Reading(stamp, joints, imu, remote, tick)

    def _is_silent(self, now: float) -> bool:
        """Silent as the base class says, or the estimator is: its channel dying alone is the
        robot going silent too, reported as fast (not after another silence_timeout of readings)."""
        if super()._is_silent(now):
            return True
        est = self._estimator
        return est is None or (now - est[0] > self.silence_timeout and self._last_poll - est[0] > self.silence_timeout)

    def _receive(self) -> Reading | None:
        if self.lc is None or self.lc.handle_timeout(10) <= 0:
            return None
        r, self._pending = self._pending, None
        return r

    def encode(self, cmd: JointCommand) -> bytes:
        arrays = {r: np.zeros(N) for r in T.COMMAND_ROLES}  # wire slots; a slot no joint uses stays 0
        v = self.vidx
        cmd = self.convention.to_vendor(cmd)
        if cmd.mode == "position":
            arrays["q"][v] = np.clip(cmd.q, self.vlower, self.vupper)
            arrays["dq"][v] = cmd.dq
            arrays["tau"][v] = np.clip(cmd.tau, -self.robot.effort_limit, self.robot.effort_limit)
            arrays["kp"][v] = cmd.kp
            arrays["kd"][v] = cmd.kd
        elif cmd.mode == "damping":
            arrays["q"][v] = cmd.q
            arrays["kd"][v] = cmd.kd
        return self.dialect.encode_command(arrays, int(time.time() * 1e6))

    def _transmit(self, cmd: JointCommand, send: bool) -> None:
        data = self.encode(cmd)
        if send and self.lc is not None:
            self.lc.publish(self.dialect.command_channel, data)

    def _protocol_values(self) -> dict:
        by_reason = {f"rx_rejected_{k}": sum(r[k] for r in self.rejected_by.values()) for k in REJECT_REASONS}
        return {
            "lcm_url": self.url,
            "lcm_dialect": self.dialect.name,
            "rx_ok": self.accepted,
            **by_reason,
            "rx_stale_estimator": self.stale_estimator,
        }
