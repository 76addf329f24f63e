"""policy_runner: ONNX policy at the spec's rate, observations assembled from the spec alone.

Joins `proprioception/joint_states`, `odom` and `proprioception/feet` of one tick, builds the
observation with lucid_ros.policy (the code training uses), runs the network every
(tick rate / policy rate) ticks and publishes `policy/joint_targets` for every tick (holding the
last target in between), so the supervisor always has the target for the tick it answers.
A policy that fails validation is refused: `policy/status` says why and no target is ever sent.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.health import LatencyStats
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.common import Diagnostics, now_s, param
from lucid_ros.policy.observations import ObsInputs
from lucid_ros.policy.runner import PolicyRuntime
from lucid_ros.proprio.sync import StampSync
from lucid_ros.robots import load_robot
from lucid_ros.types import JointCommand
from lucid_ros.vision.bus import bus_for
from lucid_ros.vision.preprocess import check_image_inputs


class PolicyRunnerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("policy_runner", **kwargs)
        self.robot = load_robot(param(self, "robot", str, required=True))
        self.names = self.robot.joint_names
        self.cmd_timeout = float(param(self, "cmd_vel_timeout", 0.5))
        self.status_pub = self.create_publisher(String, "policy/status", qos.LATCHED)
        self.target_pub = self.create_publisher(JointTrajectory, "policy/joint_targets", qos.STATE)
        self.diag = Diagnostics(self)
        self.inference = LatencyStats()
        self.runtime: PolicyRuntime | None = None
        self.refusal = ""
        self.steps = 0
        self.nonfinite_steps = 0
        policy = param(self, "policy", "")
        try:
            if not policy:
                raise ConfigError(None, "policy_runner.policy", "no policy given")
            runtime = PolicyRuntime(paths.resolve("policies", policy), self.robot)
            check_image_inputs(runtime.spec, self.robot, {i.name: i.shape for i in runtime.policy.session.get_inputs()})
            self.runtime = runtime
        except ConfigError as exc:
            self.refusal = str(exc)
            self.get_logger().error(f"policy refused, the robot will not be handed to it: {exc}")
            self.status_pub.publish(String(data=f"REFUSED: {exc}"))
        self.create_timer(1.0, self._report)
        if self.runtime is None:
            return
        spec = self.runtime.spec
        self.get_logger().info(f"policy '{spec.name}' ({spec.n_act} actions, {spec.rate_hz:g} Hz): {self.runtime.provider_report}")
        self.status_pub.publish(String(data=f"READY {spec.name} sha256={spec.sha256[:12]} {self.runtime.provider_report}"))
        self.policy_period = 1.0 / spec.rate_hz
        self.vision = bus_for(self.context) if spec.images else None  # tensors from the camera node, in process
        self.sync = StampSync(["joints", "odom", "feet"])
        self.command = np.zeros(3)
        self.command_stamp: float | None = None
        self.running = False
        self.last_policy_stamp: float | None = None
        self.held: JointCommand | None = None
        self.create_subscription(JointState, "proprioception/joint_states", lambda m: self._push("joints", m), qos.STATE)
        self.create_subscription(Odometry, "odom", lambda m: self._push("odom", m), qos.STATE)
        self.create_subscription(JointState, "proprioception/feet", lambda m: self._push("feet", m), qos.STATE)
        self.create_subscription(Twist, "cmd_vel", self._on_cmd, qos.STATE)
        self.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)

    def _on_cmd(self, msg: Twist) -> None:
        self.command = np.array([msg.linear.x, msg.linear.y, msg.angular.z], dtype=float)
        self.command_stamp = now_s(self)

    def _on_state(self, msg: String) -> None:
        running = msg.data == "RUNNING"
        if running and not self.running:
            self.runtime.reset()  # recurrent state, history, last action, gait clock
            self.last_policy_stamp = None
        self.running = running

    def _push(self, key: str, msg) -> None:
        joined = self.sync.push(key, convert.from_time(msg.header.stamp), msg)
        if joined is not None:
            self._step(joined)

    def _current_command(self, now: float) -> np.ndarray:
        if self.command_stamp is None or now - self.command_stamp > self.cmd_timeout:
            return np.zeros(3)  # a silent teleop means stand still, not "keep going"
        return self.command

    def _step(self, joined: dict) -> None:
        js = convert.joint_sample(joined["joints"], self.names)
        odom = convert.odometry_arrays(joined["odom"])
        stamp = js.stamp
        due = self.last_policy_stamp is None or stamp - self.last_policy_stamp >= self.policy_period - 1e-6
        if due:
            feet = np.asarray(joined["feet"].position, dtype=float)
            inputs = ObsInputs(
                q=js.q[None], dq=js.dq[None], quat=odom["quat"][None], ang_vel=odom["ang_vel"][None], lin_vel=odom["lin_vel"][None],
                contacts=feet[None] if feet.size else None, command=self._current_command(now_s(self))[None],
            )
            images = self.vision.images(self.runtime.spec.images) if self.vision is not None else None
            if self.vision is not None and images is None:  # no camera tensor yet: no target (a blind policy gets no robot)
                self.get_logger().warn("waiting for the first camera images", throttle_duration_sec=2.0)
                return
            q, kp, kd, _raw = self.runtime.step(inputs, stamp, images)
            self.inference.add(self.runtime.inference_ms * 1e-3)
            self.steps += 1
            if not self.runtime.last_step_finite:
                self.nonfinite_steps += 1
                self.get_logger().error("policy output is not finite; the safety supervisor will damp", throttle_duration_sec=1.0)
            self.last_policy_stamp = stamp
            n = self.robot.n_joints
            self.held = JointCommand(stamp, q, np.zeros(n), np.zeros(n), kp, kd, "position")
        self.held.stamp = stamp
        self.target_pub.publish(convert.command_msg(self.held, self.names))

    def _report(self) -> None:
        if self.runtime is None:
            self.diag.publish("ERROR", f"policy refused: {self.refusal}", {"status": "REFUSED"})
            return
        values = {"policy": self.runtime.spec.name, "provider": self.runtime.provider_report, "steps": self.steps,
                  "nonfinite_steps": self.nonfinite_steps, **{f"inference_{k}": v for k, v in self.inference.percentiles_ms().items()}}
        self.diag.publish("ERROR" if self.nonfinite_steps else "OK", "running" if self.running else "ready", values)


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(PolicyRunnerNode, args)
