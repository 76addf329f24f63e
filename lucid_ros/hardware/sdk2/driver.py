"""SDK2 low-level driver: rt/lowcmd out, rt/lowstate in, over DDS (cyclonedds, no vendor SDK).

flavor 'go' (unitree_go LowCmd_ with 20 motors: Go2, B2, H1) or 'hg' (unitree_hg, 35 motors:
G1, H1-2; mode_machine is copied from LowState_ into every command, else the robot ignores it).
Every command carries the CRC the robot checks. Release the vendor's sport mode first
(docs/hardware.md): with it running, activation refuses (joints move while we send nothing).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.hardware.convention import VendorConvention
from lucid_ros.hardware.interface import Reading
from lucid_ros.hardware.lowlevel import LowLevelDriver
from lucid_ros.hardware.sdk2 import codec
from lucid_ros.proprio.imu_mount import mount_to_base
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointCommand, JointSample

if TYPE_CHECKING:
    from lucid_ros.hardware.sdk2 import dds

WEAK_H1 = ("ankle", "shoulder", "elbow")
STATE_DEPTH = 32


def motor_modes(robot: RobotDescription, flavor: str) -> np.ndarray:
    """Enable mode per canonical joint (hardware-and-models.md §2)."""
    if flavor == "hg":
        return np.full(robot.n_joints, codec.HG_ENABLE)
    if robot.name.startswith("h1"):
        return np.array([codec.H1_WEAK if any(w in j for w in WEAK_H1) else codec.H1_STRONG for j in robot.joint_names])
    return np.full(robot.n_joints, codec.GO2_FOC)


def default_flavor(robot: RobotDescription) -> str:
    return "go" if robot.vendor_motor_slots <= codec.GO_MOTORS else "hg"


class RawStateCheck(codec.LowStateCheck):
    """codec.LowStateCheck's refusals and counters (undecodable, head, crc, nonfinite, quaternion), on
    the raw CDR bytes: no cyclonedds sample is built. Returns the decoded arrays a Reading needs."""

    def __init__(self, flavor: str, slots: Sequence[int], layout: dds.Layout):
        super().__init__(flavor, slots)
        self.L = layout
        self._slots = np.asarray(self.slots, int)

    def check(self, data: bytes) -> tuple | None:
        """(q, dq, tau_est, quat, gyro, acc, remote bytes, tick, mode_machine) of a valid sample, else None (counted)."""
        L = self.L
        buf = L.decodable(data)
        if buf is None:
            self._reject("undecodable", f"{len(data)} B, header {bytes(data[:4]).hex()}")
            return None
        if self.flavor == "go" and tuple(L.get(buf, "head")) != codec.HEAD:
            self._reject("head")
            return None
        if L.crc(buf) != int(L.get(buf, "crc")[0]):
            self._reject("crc")
            return None
        q, dq, tau = (L.get(buf, f"motor_state.{f}")[self._slots].astype(float) for f in ("q", "dq", "tau_est"))
        quat, gyro, acc = (L.get(buf, f"imu_state.{f}").astype(float) for f in ("quaternion", "gyroscope", "accelerometer"))
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(dq)) and np.all(np.isfinite(tau))
                and np.all(np.isfinite(quat)) and np.all(np.isfinite(gyro)) and np.all(np.isfinite(acc))):  # fmt: skip
            self._reject("nonfinite")
            return None
        if not 0.5 < float(np.linalg.norm(quat)) < 1.5:
            self._reject("quaternion")
            return None
        self.accepted += 1
        mode_machine = int(L.get(buf, "mode_machine")[0]) if self.flavor == "hg" else 0
        remote = L.get(buf, "wireless_remote").tobytes()
        return q, dq, tau, quat, gyro, acc, remote, int(L.get(buf, "tick")[0]), mode_machine


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
        self.convention = VendorConvention.of(robot)
        self._mount_joint = int(robot.index_of([robot.imu_mount.joint])[0]) if robot.imu_mount is not None else -1
        self.vlower, self.vupper = self.convention.vendor_limits(robot.lower, robot.upper)
        self.modes = motor_modes(robot, self.flavor)
        self.mode_machine = 0
        self.samples_received = 0
        self.state_check: RawStateCheck | None = None  # set when the link opens
        self.cmd_layout = None
        self.reader = self.writer = self._waitset = None

    def _where(self) -> str:
        """Where state was expected, and what was refused there: a robot whose every sample fails
        the CRC check is then named as such in the activation refusal, not just 'no valid state'."""
        refused = self.state_check.summary() if self.state_check is not None else ""
        return f"DDS domain {self.domain_id} interface {self.interface or '(default)'} rt/lowstate" + (f"; {refused}" if refused else "")

    def _open(self) -> None:
        from cyclonedds.core import InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState, WaitSet
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        from lucid_ros.hardware.sdk2 import dds, idl

        StateType = idl.TYPES[self.flavor][1]
        self.cmd_layout, self.state_layout = dds.Layout(self.CmdType), dds.Layout(StateType)
        self.state_check = RawStateCheck(self.flavor, self.vidx, self.state_layout)
        self._slots = np.asarray(self.vidx, int)
        self.dp, self._domain = dds.participant(self.domain_id, self.interface)
        qos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(1))
        self.writer = DataWriter(self.dp, Topic(self.dp, "rt/lowcmd", self.CmdType), qos=qos)
        # The reader keeps a burst (STATE_DEPTH): every sample is checked and a bad one counted, even
        # when several arrive between two wake-ups; the newest valid one becomes state.
        rqos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(STATE_DEPTH))
        # No listener: its ctypes callback ran on a DDS thread for every sample and fought the graph for
        # the GIL. The receive thread waits in C (GIL released) and takes the raw bytes itself.
        self.reader = DataReader(self.dp, Topic(self.dp, "rt/lowstate", StateType), qos=rqos)
        self._waitset = WaitSet(self.dp)
        self._waitset.attach(ReadCondition(self.reader, SampleState.Any | ViewState.Any | InstanceState.Any))

    def _close(self) -> None:
        for attr in ("_waitset", "reader", "writer", "dp"):
            obj = getattr(self, attr, None)
            if obj is not None:
                setattr(self, attr, None)
        self._domain = None

    def _receive(self) -> Reading | None:
        from cyclonedds.util import duration

        from lucid_ros.hardware.sdk2 import dds

        ws, reader = self._waitset, self.reader
        if ws is None or reader is None:
            time.sleep(0.01)
            return None
        ws.wait(duration(milliseconds=10))
        newest = None
        for data in dds.take_raw(reader, STATE_DEPTH):
            got = self.state_check.check(data)
            if got is not None:
                newest = got
        if newest is None:
            return None
        stamp = time.time()
        self.samples_received += 1
        q, dq, tau, quat, gyro, acc, remote, tick, mode_machine = newest
        if self.flavor == "hg":
            self.mode_machine = mode_machine
        q, dq, tau = self.convention.state_from_vendor(q, dq, tau)
        mount = self.robot.imu_mount
        if mount is not None:  # the robot's IMU rides on a joint (H1: torso): publish the base's
            quat, gyro, acc = mount_to_base(quat, gyro, acc, mount.axis, q[self._mount_joint], dq[self._mount_joint])
        imu = ImuSample(stamp, quat, gyro, acc)
        return Reading(stamp, JointSample(stamp, q, dq, tau), imu, remote, tick)

    def encode(self, cmd: JointCommand) -> bytes:
        """The LowCmd_ bytes (XCDR1, CRC filled in) for a canonical-order command (project convention)."""
        L, n = self.cmd_layout, self.n
        cmd = self.convention.to_vendor(cmd)
        buf = L.new()
        if self.flavor == "hg":
            L.put(buf, "mode_machine", [self.mode_machine])
        z = np.zeros(n)
        if cmd.mode == "position":
            q = np.clip(cmd.q, self.vlower, self.vupper)
            tau = np.clip(cmd.tau, -self.robot.effort_limit, self.robot.effort_limit)
            fields = {"q": q, "dq": cmd.dq, "tau": tau, "kp": cmd.kp, "kd": cmd.kd}
        elif cmd.mode == "damping":
            fields = {"q": z, "dq": z, "tau": z, "kp": z, "kd": cmd.kd}
        else:  # passive: enabled, zero gains, zero torque
            fields = {"q": z, "dq": z, "tau": z, "kp": z, "kd": z}
        L.put(buf, "motor_cmd.mode", self.modes, at=self._slots)
        for name, values in fields.items():
            L.put(buf, f"motor_cmd.{name}", values, at=self._slots)
        return L.seal(buf)

    def build(self, cmd: JointCommand):
        """The LowCmd_ as a cyclonedds sample (tests and tools; the send loop writes encode()'s bytes)."""
        if getattr(self, "cmd_layout", None) is None:
            from lucid_ros.hardware.sdk2 import dds

            self.cmd_layout, self._slots = dds.Layout(self.CmdType), np.asarray(self.vidx, int)
        return self.CmdType.deserialize(self.encode(cmd))

    def _transmit(self, cmd: JointCommand, send: bool) -> None:
        from lucid_ros.hardware.sdk2 import dds

        data = self.encode(cmd)
        if send and self.writer is not None:
            dds.write_raw(self.writer, data)

    def _protocol_values(self) -> dict:
        check = getattr(self, "state_check", None)
        return {"dds_domain": self.domain_id, "interface": self.interface or "(default)", "flavor": self.flavor,
                "mode_machine": self.mode_machine, "samples": self.samples_received, **(check.values() if check else {})}  # fmt: skip
