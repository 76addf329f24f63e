"""A simulated Go1 speaking the low-level UDP protocol on 127.0.0.1:8007.

Receives LowCmd (614 B, CRC checked; bad packets are counted and ignored), obeys the motor law
the way the Go1's motor drivers do (PosStopF in q = no position term, VelStopF in dq = no
velocity term, mode 0x00 = motor off), and answers LowState (807 B, CRC) at 500 Hz to the
address the commands come from (or `peer`, so a dry-run driver that sends nothing still hears it).
"""

from __future__ import annotations

import socket

import numpy as np

from lucid_ros.hardware.fakebase import FakeRobotBase
from lucid_ros.hardware.go1 import codec
from lucid_ros.mathutil import quat_to_rpy
from lucid_ros.types import JointCommand


def motor_law_command(m: codec.MotorCommands, vidx: np.ndarray, stamp: float = 0.0) -> JointCommand:
    """What the motors of canonical joints do with one LowCmd."""
    q, dq, tau, kp, kd, mode = (a[vidx].astype(np.float64) for a in (m.q, m.dq, m.tau, m.kp, m.kd, m.mode))
    no_pos = q >= codec.POS_STOP / 2
    no_vel = dq >= codec.VEL_STOP / 2
    q, kp = np.where(no_pos, 0.0, q), np.where(no_pos, 0.0, kp)
    dq = np.where(no_vel, 0.0, dq)
    kd = np.where(no_vel, 0.0, kd)
    off = mode != codec.MODE_SERVO
    for a in (q, dq, tau, kp, kd):
        a[off] = 0.0
    return JointCommand(stamp, q, dq, tau, kp, kd, "position")


class FakeGo1(FakeRobotBase):
    protocol = "go1_udp"

    def __init__(self, robot, host: str = "127.0.0.1", port: int = 8007, peer: tuple[str, int] | None = None, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the fake robot serves loopback only (127.0.0.1)")
        super().__init__(robot, **kwargs)
        self.addr = (host, int(port))
        self.peer = peer
        self.decoder = codec.Go1Decoder("cmd")
        self.vidx = robot.vendor_index
        self.tick_count = 0
        self.sock: socket.socket | None = None

    @property
    def port(self) -> int:
        return self.addr[1]

    def _open(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(self.addr)
        s.setblocking(False)
        self.sock = s
        self.addr = s.getsockname()

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _poll_commands(self) -> None:
        while True:
            try:
                data, src = self.sock.recvfrom(2048)
            except (BlockingIOError, OSError):
                return
            c = self.decoder.decode(data)
            if c is None:
                self.rejected += 1
                continue
            if self.peer is None or self.peer != src:
                self.peer = src  # answer whoever commands us, as the robot does
            self._accept(motor_law_command(c.motors, self.vidx, self.sim.time))

    def _send_state(self) -> None:
        if self.peer is None:
            return
        j = self.vendor_joint_sample()
        imu = self.sim.imu_sample()
        n = codec.N_MOTORS
        q, dq, tau = np.zeros(n), np.zeros(n), np.zeros(n)
        q[self.vidx], dq[self.vidx], tau[self.vidx] = j.q, j.dq, j.tau
        feet = self.sim.foot_contacts()
        force = np.zeros(4)
        force[: min(4, len(feet))] = 300.0 * feet[:4]
        self.tick_count += 2  # the Go1's tick counts milliseconds
        st = codec.LowState(
            tick=self.tick_count, mode=np.full(n, codec.MODE_SERVO, np.uint8), q=q, dq=dq, tau_est=tau,
            temperature=np.full(n, 35), quat=imu.quat, gyro=imu.gyro, acc=imu.acc, rpy=quat_to_rpy(imu.quat),
            foot_force=force, foot_force_est=force, remote=self.remote_bytes(),
        )  # fmt: skip
        try:
            self.sock.sendto(codec.encode_low_state(st), self.peer)
        except OSError:
            pass
