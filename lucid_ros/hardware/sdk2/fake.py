"""A simulated SDK2 robot as a DDS participant: reads rt/lowcmd, publishes rt/lowstate at 500 Hz.

Commands with a wrong CRC (or, for unitree_hg, a mode_machine that is not ours) are counted and
ignored, as the robot does. Use a private domain id in tests; 0 is the robots' domain.
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
        self.dp, self._domain = dds.participant(self.domain_id, self.interface)
        qos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(4))
        self.reader = DataReader(self.dp, Topic(self.dp, "rt/lowcmd", CmdType), qos=qos)
        self.writer = DataWriter(self.dp, Topic(self.dp, "rt/lowstate", self.StateType), qos=qos)

    def _close(self) -> None:
        self.reader = self.writer = self.dp = self._domain = None

    def _poll_commands(self) -> None:
        for c in self.reader.take(N=16):
            if not hasattr(c, "crc"):
                continue
            if codec.lowcmd_crc(c, self.flavor) != c.crc:
                self.rejected += 1
                self.rejected_crc += 1
                continue
            if self.flavor == "hg" and c.mode_machine != MODE_MACHINE:
                self.rejected += 1
                self.rejected_mode_machine += 1
                continue
            ms = [c.motor_cmd[int(i)] for i in self.vidx]
            on = np.array([m.mode != codec.STOP for m in ms])
            arrays = [np.array([getattr(m, f) for m in ms], float) * on for f in ("q", "dq", "tau", "kp", "kd")]
            self._accept(JointCommand(self.sim.time, *arrays, "position"))

    def _send_state(self) -> None:
        j = self.sim.joint_sample()
        imu = self.sim.imu_sample()
        s = self.StateType()
        self.tick_count += 2
        s.tick = self.tick_count
        for k, slot in enumerate(self.vidx):
            m = s.motor_state[int(slot)]
            m.mode, m.q, m.dq, m.tau_est = 1, float(j.q[k]), float(j.dq[k]), float(j.tau[k])
        s.imu_state.quaternion = [float(x) for x in imu.quat]
        s.imu_state.gyroscope = [float(x) for x in imu.gyro]
        s.imu_state.accelerometer = [float(x) for x in imu.acc]
        s.imu_state.rpy = [float(x) for x in quat_to_rpy(imu.quat)]
        s.wireless_remote = list(self.remote_bytes())
        if self.flavor == "hg":
            s.mode_machine = MODE_MACHINE
        self.writer.write(s)
