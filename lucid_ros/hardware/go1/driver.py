"""Go1 low-level driver over UDP (legacy unitree_legged_sdk protocol, written from the facts).

The robot's low-level controller listens on 192.168.123.10:8007; we bind `local_port` (8090 as
in the SDK's C++ examples). Canonical joints map to LowCmd slots with the YAML's vendor_index.
Every packet passes the SDK's PositionLimit (for a Go1) before it leaves; every received state
is checked by PowerProtect(factor) and a trip latches damping until re-activation.
"""

from __future__ import annotations

import socket
import time

import numpy as np

from lucid_ros.hardware.convention import VendorConvention
from lucid_ros.hardware.go1 import codec
from lucid_ros.hardware.go1.safety import GO1_LOWER, GO1_UPPER, position_limit, power_protect
from lucid_ros.hardware.interface import Reading
from lucid_ros.hardware.lowlevel import LowLevelDriver
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointCommand, JointSample

ROBOT_IP = "192.168.123.10"
ROBOT_PORT = 8007
LOCAL_PORT = 8090


class Go1UdpDriver(LowLevelDriver):
    backend = "go1_udp"

    def __init__(self, robot: RobotDescription, host: str = ROBOT_IP, port: int = ROBOT_PORT, local_ip: str = "0.0.0.0",
                 local_port: int = LOCAL_PORT, power_factor: int = 9, **kwargs):  # fmt: skip
        super().__init__(robot, **kwargs)
        if robot.vendor_motor_slots > codec.N_MOTORS:
            raise ValueError(f"{robot.name}: {robot.vendor_motor_slots} vendor slots > Go1 LowCmd's {codec.N_MOTORS}")
        self.target = (host, int(port))
        self.local = (local_ip, int(local_port))
        self.power_factor = int(power_factor)
        self.vidx = robot.vendor_index
        self.convention = VendorConvention.of(robot)
        self.decoder = codec.Go1Decoder("state")
        self.sock: socket.socket | None = None
        self.sn = 0
        # The SDK's PositionLimit is Go1 geometry; other robots on this protocol use their YAML ranges.
        self._lower = np.full(codec.N_MOTORS, -np.inf)
        self._upper = np.full(codec.N_MOTORS, np.inf)
        self._lower[self.vidx], self._upper[self.vidx] = self.convention.vendor_limits(robot.lower, robot.upper)
        if robot.name == "go1":
            self._lower[:12] = np.maximum(self._lower[:12], GO1_LOWER)
            self._upper[:12] = np.minimum(self._upper[:12], GO1_UPPER)
        self.last_power = 0.0

    def _where(self) -> str:
        return f"UDP {self.local[0]}:{self.local[1]} -> {self.target[0]}:{self.target[1]}"

    def _open(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(self.local)
        s.settimeout(0.01)
        self.sock = s
        self.local = s.getsockname()

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _receive(self) -> Reading | None:
        try:
            data, _addr = self.sock.recvfrom(2048)
        except TimeoutError:
            return None
        except OSError:
            if self._stop.is_set():
                return None
            raise
        st = self.decoder.decode(data)
        if st is None:
            return None
        stamp = time.time()
        v = self.vidx
        tripped, watts = power_protect(st.tau_est[v], st.dq[v], self.power_factor)
        self.last_power = watts
        if tripped and self.state == "active":
            self.latch_fault(f"PowerProtect({self.power_factor}): {watts:.0f} W > {100 * self.power_factor:.0f} W")
        joints = JointSample(stamp, *self.convention.state_from_vendor(st.q[v], st.dq[v], st.tau_est[v]))
        imu = ImuSample(stamp, st.quat, st.gyro, st.acc)
        return Reading(stamp, joints, imu, st.remote, st.tick)

    def encode(self, cmd: JointCommand) -> bytes:
        """The LowCmd for a canonical-order command (also used by the dry-run and the bench)."""
        m = codec.MotorCommands()
        v = self.vidx
        cmd = self.convention.to_vendor(cmd)
        if cmd.mode == "position":
            m.q[v] = position_limit(cmd.q, self._lower[v], self._upper[v])
            m.dq[v] = cmd.dq
            m.tau[v] = np.clip(cmd.tau, -self.robot.effort_limit, self.robot.effort_limit)
            m.kp[v] = cmd.kp
            m.kd[v] = cmd.kd
        elif cmd.mode == "damping":  # no position term: PosStopF; resist motion with kd
            m.q[v] = codec.POS_STOP
            m.dq[v] = 0.0
            m.kd[v] = cmd.kd
        # passive: the stop values MotorCommands starts with (zero torque)
        self.sn += 1
        return codec.encode_low_cmd(m, sn=self.sn)

    def _transmit(self, cmd: JointCommand, send: bool) -> None:
        pkt = self.encode(cmd)
        if send and self.sock is not None:
            self.sock.sendto(pkt, self.target)

    def _protocol_values(self) -> dict:
        return {
            "rx_ok": self.decoder.accepted,
            **{f"rx_rejected_{k}": v for k, v in self.decoder.rejected.items()},
            "power_w": self.last_power,
            "target": f"{self.target[0]}:{self.target[1]}",
        }
