"""SDK2 low-level driver: rt/lowcmd out, rt/lowstate in, over DDS (cyclonedds, no vendor SDK).

flavor 'go' (unitree_go LowCmd_ with 20 motors: Go2, B2, H1) or 'hg' (unitree_hg, 35 motors:
G1, H1-2; mode_machine is copied from LowState_ into every command, else the robot ignores it).
Every command carries the CRC the robot checks. Release the vendor's sport mode first
(docs/hardware.md): with it running, activation refuses (joints move while we send nothing).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.hardware.interface import Reading
from lucid_ros.hardware.lowlevel import LowLevelDriver
from lucid_ros.hardware.sdk2 import codec
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointCommand, JointSample

WEAK_H1 = ("ankle", "shoulder", "elbow")


def motor_modes(robot: RobotDescription, flavor: str) -> np.ndarray:
    """Enable mode per canonical joint (hardware-and-models.md §2)."""
    if flavor == "hg":
        return np.full(robot.n_joints, codec.HG_ENABLE)
    if robot.name.startswith("h1"):
        return np.array([codec.H1_WEAK if any(w in j for w in WEAK_H1) else codec.H1_STRONG for j in robot.joint_names])
    return np.full(robot.n_joints, codec.GO2_FOC)


def default_flavor(robot: RobotDescription) -> str:
    return "go" if robot.vendor_motor_slots <= codec.GO_MOTORS else "hg"


class Sdk2Driver(LowLevelDriver):
    backend = "unitree_sdk2"

    def __init__(self, robot: RobotDescription, domain_id: int = 0, interface: str | None = None, flavor: str | None = None, **kwargs):
        super().__init__(robot, **kwargs)
        self.flavor = flavor or default_flavor(robot)
        if self.flavor not in ("go", "hg"):
            raise ValueError(f"flavor must be 'go' or 'hg', got {self.flavor!r}")
        slots = codec.GO_MOTORS if self.flavor == "go" else codec.HG_MOTORS
        if robot.vendor_motor_slots > slots:
            raise ValueError(f"{robot.name}: {robot.vendor_motor_slots} vendor slots > {slots} in unitree_{self.flavor} LowCmd_")
        try:
            from lucid_ros.hardware.sdk2 import idl
        except ImportError as exc:
            raise ConfigError(
                None,
                "robot_driver.backend",
                "unitree_sdk2 needs the cyclonedds Python package 0.10.2 "
                "(docker/build_cyclonedds.sh builds it against libddsc 0.10.2; docs/hardware.md)",
            ) from exc
        self.CmdType = idl.TYPES[self.flavor][0]
        self.domain_id = int(domain_id)
        self.interface = interface
        self.vidx = robot.vendor_index
        self.modes = motor_modes(robot, self.flavor)
        self.mode_machine = 0
        self._queue: list = []
        self._cv = threading.Condition()
        self.samples_received = 0

    def _where(self) -> str:
        return f"DDS domain {self.domain_id} interface {self.interface or '(default)'} rt/lowstate"

    def _open(self) -> None:
        from cyclonedds.core import Listener, Policy, Qos
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        from lucid_ros.hardware.sdk2 import dds, idl

        StateType = idl.TYPES[self.flavor][1]
        self.dp, self._domain = dds.participant(self.domain_id, self.interface)
        qos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(1))
        self.writer = DataWriter(self.dp, Topic(self.dp, "rt/lowcmd", self.CmdType), qos=qos)

        driver = self

        class _OnState(Listener):
            def on_data_available(self, reader):
                if reader is None or driver._stop.is_set():
                    return  # a callback racing close()
                for s in reader.take(N=10):
                    with driver._cv:
                        driver._queue.append(s)
                        driver._cv.notify()

        self.reader = DataReader(self.dp, Topic(self.dp, "rt/lowstate", StateType), qos=qos, listener=_OnState())

    def _close(self) -> None:
        for attr in ("reader", "writer", "dp"):
            obj = getattr(self, attr, None)
            if obj is not None:
                setattr(self, attr, None)
        self._domain = None

    def _receive(self) -> Reading | None:
        with self._cv:
            if not self._queue:
                self._cv.wait(0.01)
            if not self._queue:
                return None
            s = self._queue.pop(0)
            del self._queue[:-8]  # never fall behind by more than a few samples
        stamp = time.time()
        self.samples_received += 1
        if self.flavor == "hg":
            self.mode_machine = int(s.mode_machine)
        ms = [s.motor_state[i] for i in self.vidx]
        q = np.array([m.q for m in ms])
        dq = np.array([m.dq for m in ms])
        tau = np.array([m.tau_est for m in ms])
        imu = s.imu_state
        joints = JointSample(stamp, q, dq, tau)
        return Reading(stamp, joints, ImuSample(stamp, np.array(imu.quaternion, float), np.array(imu.gyroscope, float), np.array(imu.accelerometer, float)),
                       bytes(s.wireless_remote), int(s.tick))  # fmt: skip

    def build(self, cmd: JointCommand):
        """The LowCmd_ (with CRC) for a canonical-order command."""
        c = self.CmdType()
        if self.flavor == "hg":
            c.mode_machine = self.mode_machine
        for k, slot in enumerate(self.vidx):
            m = c.motor_cmd[int(slot)]
            m.mode = int(self.modes[k])
            if cmd.mode == "position":
                lo, hi = self.robot.lower[k], self.robot.upper[k]
                m.q = float(np.clip(cmd.q[k], lo, hi))
                m.dq, m.tau = float(cmd.dq[k]), float(np.clip(cmd.tau[k], -self.robot.effort_limit[k], self.robot.effort_limit[k]))
                m.kp, m.kd = float(cmd.kp[k]), float(cmd.kd[k])
            elif cmd.mode == "damping":
                m.kd = float(cmd.kd[k])
            # passive: enabled, zero gains, zero torque
        c.crc = codec.lowcmd_crc(c, self.flavor)
        return c

    def _transmit(self, cmd: JointCommand, send: bool) -> None:
        c = self.build(cmd)
        if send and self.writer is not None:
            self.writer.write(c)

    def _protocol_values(self) -> dict:
        return {"dds_domain": self.domain_id, "interface": self.interface or "(default)", "flavor": self.flavor,
                "mode_machine": self.mode_machine, "samples": self.samples_received}  # fmt: skip
