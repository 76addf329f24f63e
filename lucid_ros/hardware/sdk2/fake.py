"""A simulated SDK2 robot as a DDS participant: reads rt/lowcmd, publishes rt/lowstate at 500 Hz.

Commands with a wrong CRC (or, for unitree_hg, a mode_machine that is not ours) are counted and
ignored, as the robot does; the state it sends carries LowState_.crc as a robot's does. Use a private domain id in tests; 0 is the robots' domain.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.hardware.fakebase import FakeRobotBase
from lucid_ros.hardware.sdk2 import codec
from lucid_ros.hardware.sdk2.driver import default_flavor
from lucid_ros.mathutil import quat_to_rpy
from lucid_ros.types import JointCommand

MODE_MACHINE = 5  # what our fake hg robot reports; commands must echo it


class FakeSdk2Robot(FakeRobotBase):
    protocol = "unitree_sdk2"

    def __init__(self, robot, domain_id: int = 0, interface: str | None = "lo", flavor: str | None = None, **kwargs):
        super().__init__(robot, **kwargs)
        self.domain_id = int(domain_id)
        self.interface = interface
        self.flavor = flavor or default_flavor(robot)
        self.vidx = robot.vendor_index
        self.rejected_crc = 0
        self.rejected_undecodable = 0
        self._slots = np.asarray(self.vidx, int)
        self.rejected_mode_machine = 0
        self.tick_count = 0
        self.endpoint = f"domain {self.domain_id} rt/lowcmd, rt/lowstate ({self.flavor})"

    def _open(self) -> None:
        from cyclonedds.core import Policy, Qos
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        from lucid_ros.hardware.sdk2 import dds, idl

        CmdType, self.StateType = idl.TYPES[self.flavor]
        # Raw bytes both ways (dds.Layout): cyclonedds' Python (de)serializer cost 300-600 us per tick
        # here for the 35-motor unitree_hg types, more than the H1's physics step.
        self.cmd_layout, self.state_layout = dds.Layout(CmdType), dds.Layout(self.StateType)
        self.dp, self._domain = dds.participant(self.domain_id, self.interface)
        qos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(4))
        self.reader = DataReader(self.dp, Topic(self.dp, "rt/lowcmd", CmdType), qos=qos)
        self.writer = DataWriter(self.dp, Topic(self.dp, "rt/lowstate", self.StateType), qos=qos)

    def _close(self) -> None:
        self.reader = self.writer = self.dp = self._domain = None

    def _poll_commands(self) -> None:
        from lucid_ros.hardware.sdk2 import dds

        L = self.cmd_layout
        for data in dds.take_raw(self.reader, 16):
            buf = L.decodable(data)
            if buf is None:
                self.rejected += 1
                self.rejected_undecodable += 1
                continue
            if L.crc(buf) != int(L.get(buf, "crc")[0]):
                self.rejected += 1
                self.rejected_crc += 1
                continue
            if self.flavor == "hg" and int(L.get(buf, "mode_machine")[0]) != MODE_MACHINE:
                self.rejected += 1
                self.rejected_mode_machine += 1
                continue
            on = L.get(buf, "motor_cmd.mode")[self._slots] != codec.STOP
            arrays = [L.get(buf, f"motor_cmd.{f}")[self._slots].astype(float) * on for f in ("q", "dq", "tau", "kp", "kd")]
            self._accept(JointCommand(self.sim.time, *arrays, "position"))

    def _send_state(self) -> None:
        from lucid_ros.hardware.sdk2 import dds

        L = self.state_layout
        j = self.vendor_joint_sample()
        imu = self.sim.mount_imu_sample()  # where the robot carries it (H1: torso); the driver turns it into the base's
        buf = L.new()
        self.tick_count += 2
        L.put(buf, "tick", [self.tick_count])
        at = self._slots
        L.put(buf, "motor_state.mode", np.ones(len(at)), at=at)
        L.put(buf, "motor_state.q", j.q, at=at)
        L.put(buf, "motor_state.dq", j.dq, at=at)
        L.put(buf, "motor_state.tau_est", j.tau, at=at)
        L.put(buf, "imu_state.quaternion", imu.quat)
        L.put(buf, "imu_state.gyroscope", imu.gyro)
        L.put(buf, "imu_state.accelerometer", imu.acc)
        L.put(buf, "imu_state.rpy", quat_to_rpy(imu.quat))
        L.put(buf, "wireless_remote", np.frombuffer(self.remote_bytes(), np.uint8))
        if self.flavor == "hg":
            L.put(buf, "mode_machine", [MODE_MACHINE])
        dds.write_raw(self.writer, L.seal(buf))  # with the CRC a robot puts in LowState_.crc
