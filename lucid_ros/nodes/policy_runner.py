"""policy_runner: ONNX policy at the spec's rate, observations assembled from the spec alone.

Joins `proprioception/joint_states`, `odom` and `proprioception/feet` of one tick, builds the
observation with lucid_ros.policy (the code training uses), runs the network every
(tick rate / policy rate) ticks and publishes `policy/joint_targets` for every tick (holding the
last target in between), so the supervisor always has the target for the tick it answers.
A policy that fails validation is refused: `policy/status` says why and no target is ever sent.
"""

from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState, PointCloud2
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory

from lucid_ros import paths
from lucid_ros.diagnostics import ERROR, WARN, NodeHealth, Problem, capture_to_action
from lucid_ros.errors import ConfigError
from lucid_ros.health import LatencyStats
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.authority import LeaseView, node_fqn
from lucid_ros.nodes.common import Diagnostics, GraphNode, now_s, param
from lucid_ros.policy.observations import ObsInputs
from lucid_ros.policy.operator_bus import operator_bus_for
from lucid_ros.policy.privileged import check_privileged, privileged_terms, scan_points_base
from lucid_ros.policy.runner import PolicyRuntime
from lucid_ros.policy.schedule import PolicySchedule
from lucid_ros.proprio.sync import StampSync
from lucid_ros.robots import load_robot
from lucid_ros.safety.handoff import handoff_for
from lucid_ros.safety.states import SafetyState
from lucid_ros.vision.bus import ImageTensor, bus_for
from lucid_ros.vision.preprocess import check_image_inputs, image_age

INPUT_TOPICS = {"joints": "proprioception/joint_states", "odom": "odom", "feet": "proprioception/feet"}


class PolicyRunnerNode(GraphNode):
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
            check_privileged(runtime.spec, bool(param(self, "allow_privileged", False)))  # the sim bringup allows it
            pres = check_image_inputs(runtime.spec, self.robot, {i.name: i.shape for i in runtime.policy.session.get_inputs()})
            self.image_rates = {img.input: pre.rate_hz for img, pre in zip(runtime.spec.images, pres, strict=True)}
            self.runtime = runtime
        except ConfigError as exc:
            self.refusal = str(exc)
            self.get_logger().error(f"policy refused, the robot will not be handed to it: {exc}")
            self.status_pub.publish(String(data=f"REFUSED: {exc}"))
        self.health = NodeHealth("policy_runner", started=now_s(self))
        self.create_timer(1.0, self._report)
        if self.runtime is None:
            return
        spec = self.runtime.spec
        self.get_logger().info(f"policy '{spec.name}' ({spec.n_act} actions, {spec.rate_hz:g} Hz): {self.runtime.provider_report}")
        self.status_pub.publish(String(data=f"READY {spec.name} sha256={spec.sha256[:12]} {self.runtime.provider_report}"))
        # decimation (to within half a robot tick: a robot's stamps jitter), hold, cmd timeout
        self.schedule = PolicySchedule(1.0 / spec.rate_hz, self.cmd_timeout, self.robot.n_joints, tick_period=1.0 / self.robot.rate_hz)
        self.scan_terms = privileged_terms(spec)  # a teacher: its terrain scan comes from the sim bridge
        self.vision = bus_for(self.context) if spec.images or self.scan_terms else None  # in-process tensors
        for term in self.scan_terms:
            self.vision.request_scan(term.name, term.scan_points())
        self.scan_pub = self.create_publisher(PointCloud2, "policy/height_scan", qos.STATE) if self.scan_terms else None
        self._scan_shown = -1.0
        self.camera_latency_pub = self.create_publisher(Float64, "policy/camera_latency", qos.SENSOR) if spec.images else None
        self._tensor_seq: dict[str, int] = {}
        self.fresh_inputs = any(img.fresh for img in spec.images)
        self.age_inputs = any(img.age for img in spec.images)
        self._declare_health(self.health)
        self.sync = StampSync(["joints", "odom", "feet"])
        self.running = False
        self.handoff = handoff_for(self.context, self.get_namespace())  # the safety state by tick, when the supervisor is in this process
        self.create_subscription(JointState, "proprioception/joint_states", lambda m: self._push("joints", m), qos.STATE)
        self.create_subscription(Odometry, "odom", lambda m: self._push("odom", m), qos.STATE)
        self.create_subscription(JointState, "proprioception/feet", lambda m: self._push("feet", m), qos.STATE)
        self._cmd_sub = self.create_subscription(Twist, "cmd_vel", self._on_cmd, qos.STATE)
        self.operator = operator_bus_for(self.context)  # a sim run's automatic operator, per tick (policy.operator_bus)
        self.human_operator = False  # another node publishes cmd_vel: obey DDS, not the automatic operator
        self.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)
        # require_lease (robots): cmd_vel is obeyed only while its publishers are the lease holder
        # (lucid_ros.safety.lease); the vendor remote's relay in robot_driver is exempt (the person at the robot)
        self.lease: LeaseView | None = None
        self.lease_refusal = ""
        if bool(param(self, "require_lease", False)):
            driver = node_fqn("robot_driver", self.get_namespace())
            self.lease = LeaseView(self, exempt=[driver], on_holder=self._on_holder)

    def _declare_health(self, h: NodeHealth) -> None:
        """What the runner is judged by (docs/diagnostics.md)."""
        hz, lim, spec = self.robot.rate_hz, self.robot.safety, self.runtime.spec
        upstream = "is the proprioception node running? (it needs joint_states and imu/data)"
        h.input("proprioception/joint_states", hz, lim.joint_states_timeout, upstream)
        h.input("odom", hz, lim.imu_timeout, upstream)
        h.input("proprioception/feet", hz, lim.joint_states_timeout, upstream)
        h.input("cmd_vel", None, self.cmd_timeout, "no teleop: the policy is commanded to stand still", required=False)
        for name, rate in self.image_rates.items():
            h.input(f"images/{name}", rate, lim.camera_timeout, "is the camera node running in this process? see its diagnostics")
        h.output("policy/joint_targets", hz, "no joined proprioception inputs, or no camera images yet: see the inputs")
        h.latency("inference", 1.0 / spec.rate_hz, "the network is too slow for the policy rate: check the provider and CPU load")
        h.latency("step", 1.0 / hz, "observation + network + mapping take longer than a tick: CPU load?")
        h.latency(
            "joint_states_to_target", 1.0 / hz, "targets leave later than a tick after the joints were measured: check upstream latency and CPU load"
        )
        if spec.images:
            h.latency(
                "capture_to_action",
                lim.camera_timeout,
                "the policy acts on old images: check the camera node's capture_to_tensor latency and the camera's frame rate",
            )
        h.fault(
            "nonfinite_outputs",
            ERROR,
            "the observation or the network's action was NaN/inf (the supervisor damps): "
            "check the inputs, the spec's scales and clips, and the ONNX export",
        )
        h.fault(
            "cmd_vel_refused",
            ERROR,
            "cmd_vel from a node without the operator lease was ignored (velocity zero): "
            "one operator at a time; lucid-ros teleop takes the lease (docs/security.md)",
        )
        h.fault("dropped_malformed", WARN, "proprioception/joint_states did not match the robot's joints: same robot YAML everywhere?")
        h.fault("dropped_unmatched", WARN, "inputs without partners of the same stamp: is the proprioception node stamping by tick?")

    def _on_cmd(self, msg: Twist) -> None:
        now = now_s(self)
        self.health.seen("cmd_vel", now)
        if self.lease is not None:
            ok, why = self.lease.admit_topic("cmd_vel")
            if not ok:
                self.schedule.zero_command(now)  # untrusted: stand still rather than obey a second operator
                self.lease_refusal = why
                self.health.count("cmd_vel_refused")
                self.get_logger().error(f"cmd_vel ignored, velocity zero: {why}", throttle_duration_sec=1.0)
                return
            self.lease_refusal = ""
        self.schedule.set_command(msg.linear.x, msg.linear.y, msg.angular.z, now)

    @property
    def command(self) -> np.ndarray:
        """The velocity command the network gets now."""
        return self.schedule.command(now_s(self))

    def _command_for(self, stamp: float) -> np.ndarray:
        """The velocity command for tick `stamp`: the automatic operator's for that very tick while it
        is the only operator (sim time alone decides), else cmd_vel's with its timeout."""
        if self.operator.operator is not None and not self.human_operator and self.lease is None:  # a lease: its holder's cmd_vel only
            cmd = self.operator.command_at(stamp)
            if cmd is not None:
                return cmd
        return self.schedule.command(now_s(self))

    def _look_for_human(self) -> None:
        """cmd_vel publishers other than the automatic operator: a person (teleop) takes over."""
        auto = self.operator.operator
        if auto is None:
            return
        others = [i.node_name for i in self.get_publishers_info_by_topic(self._cmd_sub.topic_name) if i.node_name != auto]
        if bool(others) != self.human_operator:
            self.human_operator = bool(others)
            who = f"cmd_vel from {', '.join(sorted(set(others)))}" if others else f"the automatic operator {auto}"
            self.get_logger().info(f"velocity command: {who}")

    def _on_holder(self, holder: str | None) -> None:
        if holder is None:
            self.schedule.zero_command()  # the holder went silent or released: zero at once, not after cmd_vel_timeout
        self.get_logger().info(f"operator lease: {holder or 'free (cmd_vel ignored until an operator takes it)'}")

    def _on_state(self, msg: String) -> None:
        if self.handoff.source is None:  # no supervisor in this process: safety/state decides
            self._set_running(msg.data == SafetyState.RUNNING)

    def _set_running(self, running: bool) -> None:
        if running and not self.running:
            self.runtime.reset()  # recurrent state, history, last action, gait clock
            self.schedule.start()
        self.running = running

    def _push(self, key: str, msg) -> None:
        stamp = convert.from_time(msg.header.stamp)
        self.health.seen(INPUT_TOPICS[key], stamp)
        joined = self.sync.push(key, stamp, msg)
        if joined is not None:
            self._step(joined)

    def _step(self, joined: dict) -> None:
        t0 = time.perf_counter()
        try:
            js = convert.joint_sample(joined["joints"], self.names)
        except convert.MessageError as exc:
            self.health.count("dropped_malformed")
            self.get_logger().error(f"proprioception/joint_states dropped: {exc}", throttle_duration_sec=1.0)
            return
        odom = convert.odometry_arrays(joined["odom"])
        stamp = js.stamp
        state = self.handoff.state_before(stamp)  # the supervisor in this process, by tick (CommandHandoff.state_before)
        if state is not None:
            self._set_running(state == SafetyState.RUNNING)
        due = self.schedule.due(stamp)
        if due:
            feet = np.asarray(joined["feet"].position, dtype=float)
            inputs = ObsInputs(
                q=js.q[None],
                dq=js.dq[None],
                quat=odom["quat"][None],
                ang_vel=odom["ang_vel"][None],
                lin_vel=odom["lin_vel"][None],
                contacts=feet[None] if feet.size else None,
                command=self._command_for(stamp)[None],
            )
            if self.scan_terms and not self._add_scan(inputs, stamp, odom["quat"]):
                return
            fresh: dict[str, bool] = {}
            tensors = self._tensors(fresh) if self.runtime.spec.images else None
            if self.runtime.spec.images and tensors is None:  # no camera tensor yet: no target (a blind policy gets no robot)
                self.get_logger().warn("waiting for the first camera images", throttle_duration_sec=2.0)
                return
            images = {t.name: t.data for t in tensors} if tensors is not None else None
            gated = {"fresh": fresh} if self.fresh_inputs else {}  # flags only for a network that declares them
            if self.age_inputs:  # how old each input's newest frame is at this tick (lucid_ros.vision.preprocess.image_age)
                gated["ages"] = {t.name: float(image_age(stamp, t.stamp)) for t in tensors}
            q, kp, kd, _raw = self.runtime.step(inputs, stamp, images, **gated)
            self.inference.add(self.runtime.inference_ms * 1e-3)
            self.health.took("inference", self.runtime.inference_ms * 1e-3)
            self.steps += 1
            if not self.runtime.last_step_finite:
                self.nonfinite_steps += 1
                self.health.count("nonfinite_outputs")
                self.get_logger().error("policy output is not finite; the safety supervisor will damp", throttle_duration_sec=1.0)
            self.schedule.ran(stamp, q, kp, kd)
        self.target_pub.publish(convert.command_msg(self.schedule.target(stamp), self.names))
        published = max(now_s(self), stamp)  # an answer to tick `stamp` cannot leave before it (clock message order)
        self.health.seen("policy/joint_targets", stamp)
        self.health.took("joint_states_to_target", published - stamp)
        if due:
            self.health.took("step", time.perf_counter() - t0)
            if tensors is not None:
                latency = capture_to_action(published, [t.stamp for t in tensors])
                self.health.took("capture_to_action", latency)
                self.camera_latency_pub.publish(Float64(data=latency))

    def _add_scan(self, inputs: ObsInputs, stamp: float, quat: np.ndarray) -> bool:
        """The sim bridge's scan for this tick into the inputs (False: not there yet, no target).
        Operators get it on policy/height_scan at 5 Hz."""
        term = self.scan_terms[0]
        scan = self.vision.tensor(term.name)
        if scan is None or abs(scan.stamp - stamp) > 1e-6:
            self.get_logger().warn("waiting for the privileged height scan (only the sim bridge provides it)", throttle_duration_sec=2.0)
            return False
        inputs.height_scan = scan.data
        if stamp - self._scan_shown >= 0.2:
            self._scan_shown = stamp
            self.scan_pub.publish(convert.cloud_msg(scan_points_base(term.scan_points(), scan.data[0], quat), self.robot.base_body, stamp))
        return True

    def _tensors(self, fresh: dict[str, bool]) -> list[ImageTensor] | None:
        """The newest tensor of every image input (None until each has one). `fresh[input]` says
        whether it is new since the previous policy step (the camera node took a frame): a
        network that runs its image branch at the image rate steps it only then."""
        out = [self.vision.tensor(img.input) for img in self.runtime.spec.images]
        if any(t is None for t in out):
            return None
        for t in out:
            fresh[t.name] = self._tensor_seq.get(t.name) != t.seq
            if fresh[t.name]:
                self._tensor_seq[t.name] = t.seq
                self.health.seen(f"images/{t.name}", t.stamp)
        return out

    def _report(self) -> None:
        now = now_s(self)
        if self.runtime is None:
            refused = Problem(ERROR, f"policy refused: {self.refusal}: fix the policy or its spec (lucid-ros check-policy); the robot stays PASSIVE")
            self.diag.report(self.health.evaluate(now, [refused], values={"status": "REFUSED"}))
            return
        self.health.set_count("dropped_unmatched", self.sync.dropped)
        self._look_for_human()
        values = {
            "status": "READY",
            "policy": self.runtime.spec.name,
            "provider": self.runtime.provider_report,
            "steps": self.steps,
            "running": self.running,
        }
        if self.lease is not None:
            values["lease_holder"] = self.lease.holder or ""
            values["cmd_vel_refusal"] = self.lease_refusal
        self.diag.report(self.health.evaluate(now, ok_message="running" if self.running else "ready", values=values))


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(PolicyRunnerNode, args)
