"""proprioception: the policy's view of the body, once per tick.

Joins `joint_states` and `imu/data` of the same stamp, runs lucid_ros.proprio.ProprioEstimator and
publishes, all with that stamp:
- `odom` (nav_msgs/Odometry): orientation from the IMU, position dead-reckoned from the estimated
  body velocity, twist in the body frame (estimated linear velocity, gyro angular velocity);
- `proprioception/joint_states`: joints in canonical order (URDF names);
- `proprioception/feet` (sensor_msgs/JointState): one entry per foot, position = contact 0..1.
"""

from __future__ import annotations

import time

import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState

from lucid_ros.diagnostics import ERROR, WARN, NodeHealth
from lucid_ros.mathutil import quat_rotate
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.common import Diagnostics, GraphNode, now_s, param
from lucid_ros.proprio.estimator import ProprioEstimator
from lucid_ros.proprio.sync import StampSync
from lucid_ros.robots import load_robot
from lucid_ros.types import JointSample

OUTPUTS = ("odom", "proprioception/joint_states", "proprioception/feet")


class ProprioceptionNode(GraphNode):
    def __init__(self, **kwargs):
        super().__init__("proprioception", **kwargs)
        self.robot = load_robot(param(self, "robot", str, required=True))
        self.estimator = ProprioEstimator(self.robot)
        self.sync = StampSync(["joints", "imu"], tolerance=float(param(self, "sync_tolerance", 0.0)))
        self.names = self.robot.joint_names
        self.pos = np.zeros(3)
        self.last_stamp: float | None = None
        self.odom_pub = self.create_publisher(Odometry, "odom", qos.STATE)
        self.joints_pub = self.create_publisher(JointState, "proprioception/joint_states", qos.STATE)
        self.feet_pub = self.create_publisher(JointState, "proprioception/feet", qos.STATE)
        self.create_subscription(JointState, "joint_states", self._on_joints, qos.STATE)
        self.create_subscription(Imu, "imu/data", self._on_imu, qos.STATE)
        self.diag = Diagnostics(self)
        self.health = self._health()
        self.create_timer(1.0, self._report)
        self.dropped = 0

    def _on_joints(self, msg: JointState) -> None:
        try:
            sample = convert.joint_sample(msg, self.names)
        except convert.MessageError as exc:
            self.dropped += 1
            self.health.count("dropped_malformed")
            self.get_logger().error(str(exc), throttle_duration_sec=1.0)
            return
        self.health.seen("joint_states", sample.stamp)
        if not all(np.isfinite(a).all() for a in (sample.q, sample.dq, sample.tau)):
            self.health.count("nonfinite_inputs")
        self._push("joints", sample.stamp, sample)

    def _on_imu(self, msg: Imu) -> None:
        sample = convert.imu_sample(msg)
        self.health.seen("imu/data", sample.stamp)
        if not all(np.isfinite(a).all() for a in (sample.quat, sample.gyro, sample.acc)):
            self.health.count("nonfinite_inputs")
        self._push("imu", sample.stamp, sample)

    def _push(self, key: str, stamp: float, value) -> None:
        joined = self.sync.push(key, stamp, value)
        if joined is not None:
            t0 = time.perf_counter()
            self._publish(joined["joints"], joined["imu"])
            self.health.took("estimate", time.perf_counter() - t0)
            for topic in OUTPUTS:
                self.health.seen(topic, stamp)

    def _publish(self, joints: JointSample, imu) -> None:
        state = self.estimator.update(joints, imu)
        t = state.stamp
        if self.last_stamp is not None and t > self.last_stamp:
            self.pos = self.pos + quat_rotate(state.quat, state.lin_vel) * (t - self.last_stamp)
        self.last_stamp = t
        self.odom_pub.publish(convert.odometry_msg(t, "odom", self.robot.base_body, self.pos, state.quat, state.lin_vel, state.ang_vel))
        self.joints_pub.publish(convert.joint_state_msg(JointSample(t, state.q, state.dq, state.tau), self.names))
        feet = JointState()
        feet.header.stamp = convert.to_time(t)
        feet.name = list(self.robot.feet)
        feet.position = [float(c) for c in state.contacts]
        self.feet_pub.publish(feet)

    def _health(self) -> NodeHealth:
        h = NodeHealth("proprioception", started=now_s(self))
        hz, lim = self.robot.rate_hz, self.robot.safety
        source = "is the robot driver (lucid-ros robot) or the sim bridge (lucid-ros sim) running?"
        h.input("joint_states", hz, lim.joint_states_timeout, source)
        h.input("imu/data", hz, lim.imu_timeout, source)
        for topic in OUTPUTS:
            h.output(topic, hz, "no joint_states and imu/data of one stamp to join: see the inputs")
        h.latency("estimate", 1.0 / hz, "the estimator takes longer than a tick: CPU load?")
        h.fault("dropped_malformed", WARN, "joint_states dropped (joint names or sizes differ from the robot YAML): "
                                           "does the driver publish this robot's joints?")
        h.fault("dropped_unmatched", WARN, "joint_states or imu/data without a partner of the same stamp: the driver must "
                                           "stamp both with the tick's time (or raise sync_tolerance)")
        h.fault("nonfinite_inputs", ERROR, "joint_states or imu/data carry NaN/inf: a sensor or driver fault (the supervisor damps)")
        return h

    def _report(self) -> None:
        self.health.set_count("dropped_unmatched", self.sync.dropped)
        self.diag.report(self.health.evaluate(now_s(self), ok_message="estimating"))


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(ProprioceptionNode, args)
