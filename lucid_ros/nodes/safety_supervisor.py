"""safety_supervisor: the one commander of the robot.

Adapts lucid_ros.safety.Supervisor to topics. It shares a process with the backend (the bring-up
plan, lucid_ros.bringup) and hands each command to it in-process (lucid_ros.safety.handoff);
`joint_commands` on DDS is only its mirror, for rviz, recording and tests: no backend obeys it. It answers every tick: on `joint_states` at stamp t
(and, while RUNNING, once the policy target for t has arrived too) it delivers (and mirrors) the command for t.
A heartbeat timer re-checks staleness and keeps commanding (damping) if the robot goes silent,
so a backend's dead-man watchdog never fires because of us.
"""

from __future__ import annotations

import time

from sensor_msgs.msg import CameraInfo, Imu, JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from lucid_ros.diagnostics import ERROR, WARN, NodeHealth, Problem
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.authority import LeaseKeeper, node_fqn
from lucid_ros.nodes.common import Diagnostics, GraphNode, now_s, param
from lucid_ros.proprio.sync import StampSync
from lucid_ros.robots import load_robot
from lucid_ros.safety import AutoSequence, SafetyState, Supervisor
from lucid_ros.safety.handoff import handoff_for
from lucid_ros.safety.states import Event
from lucid_ros.sim.hoist import RELEASED, HoistStatus

CAMERA_TOPIC = "camera/depth/camera_info"
RECOVERY = {
    SafetyState.DAMPING: "fix the cause (its input or the policy), then call safety/reset and safety/stand",
    SafetyState.ESTOP: "release the e-stop's cause, then call safety/reset (refused while inputs are stale or joints move)",
}


class SafetySupervisorNode(GraphNode):
    def __init__(self, **kwargs):
        super().__init__("safety_supervisor", **kwargs)
        self.robot = load_robot(param(self, "robot", str, required=True))
        require_camera = bool(param(self, "require_camera", False))
        self.auto = bool(param(self, "auto_sequence", False))
        self.sup = Supervisor(self.robot, require_camera=require_camera)
        # auto_lower_hoist: the robot hangs from the sim bridge's hoist (lucid_ros.sim.hoist); the auto
        # sequence lowers it (hoist/lower) after the stand and runs once hoist/state says it is released
        hoist = self.auto and bool(param(self, "auto_lower_hoist", False)) and self.robot.hoist is not None
        hold = float(param(self, "auto_run_after", 0.5))
        if self.auto and self.robot.hoist is not None and not hoist:
            # a humanoid on a robot (or a fake one): the operator lowers its gantry once it stands
            # and the policy takes over a robot on its feet, as in the sim's sequence
            hold += float(param(self, "auto_gantry_wait", 3.0))
        settle = float(param(self, "auto_stand_after", 0.2))  # s of sim time before the stand: every input has arrived
        self.sequence = AutoSequence(self.sup, hold=hold, hoist=hoist, settle=settle) if self.auto else None
        self.hoist_status: HoistStatus | None = None  # last hoist/state (None: not heard yet)
        self.policy_status: str | None = None  # last policy/status
        self.names = self.robot.joint_names
        self.period = 1.0 / self.robot.rate_hz
        self._join = StampSync(["state", "target"])
        self._answered = float("-inf")
        self._last_state = None
        self._last_publish = None
        self._next_report: float | None = None
        self.policy_ready = not self.auto  # auto-sequence waits for a READY policy

        self.handoff = handoff_for(self.context, self.get_namespace())
        self.handoff.attach_source(self.get_fully_qualified_name())
        self.cmd_pub = self.create_publisher(JointTrajectory, "joint_commands", qos.COMMAND)  # the mirror
        self.state_pub = self.create_publisher(String, "safety/state", qos.LATCHED)
        self.event_pub = self.create_publisher(String, "safety/event", qos.EVENTS)
        self._events_sent = 0
        self.diag = Diagnostics(self)
        self.health = self._health(require_camera)
        self.create_subscription(JointState, "joint_states", self._on_joints, qos.STATE)
        self.create_subscription(Imu, "imu/data", self._on_imu, qos.STATE)
        self.create_subscription(JointTrajectory, "policy/joint_targets", self._on_target, qos.STATE)
        self.create_subscription(Bool, "safety/estop", self._on_estop, qos.ESTOP)
        self.create_subscription(String, "policy/status", self._on_policy_status, qos.LATCHED)
        if hoist:
            self.hoist_pub = self.create_publisher(Header, "hoist/lower", qos.LATCHED)
            self.create_subscription(String, "hoist/state", self._on_hoist, qos.LATCHED)
        if require_camera:
            self.create_subscription(CameraInfo, CAMERA_TOPIC, self._on_camera, qos.SENSOR)
        # the operator lease (lucid_ros.safety.lease): kept always, enforced on robots (require_lease);
        # the vendor remote's buttons (robot_driver) are the person at the robot: exempt
        self.lease = LeaseKeeper(self, bool(param(self, "require_lease", False)), float(param(self, "lease_timeout", 0.5)),
                                 self._lease_event, exempt=[node_fqn("robot_driver", self.get_namespace())])  # fmt: skip
        for name in ("stand", "run", "damp", "reset"):
            self.create_service(Trigger, f"safety/{name}", self._service(name))
        # twice a period: a keep-alive command goes out 1.5-2 periods after the last one (30-40 ms at
        # 50 Hz), inside the motor process's 50 ms watchdog however late the policy's target is
        self.create_timer(self.period / 2, self._heartbeat)
        self._publish_state(force=True)

    # ---- inputs -------------------------------------------------------------------------
    def _on_joints(self, msg: JointState) -> None:
        try:
            sample = convert.joint_sample(msg, self.names)
        except convert.MessageError as exc:
            self.health.count("dropped_malformed")
            self.get_logger().error(str(exc), throttle_duration_sec=1.0)
            return
        self.health.seen("joint_states", sample.stamp)
        self.sup.on_joints(sample)
        if self.sup.state == SafetyState.RUNNING:
            if self._join.push("state", sample.stamp, sample) is not None:
                self._command(sample.stamp)
        else:
            self._command(sample.stamp)

    def _on_imu(self, msg: Imu) -> None:
        sample = convert.imu_sample(msg)
        self.health.seen("imu/data", sample.stamp)
        self.sup.on_imu(sample)

    def _on_target(self, msg: JointTrajectory) -> None:
        try:
            cmd = convert.joint_command(msg, self.names)
        except convert.MessageError as exc:
            self.health.count("dropped_malformed")
            self.get_logger().error(f"policy/joint_targets refused: {exc}", throttle_duration_sec=1.0)
            return
        self.health.seen("policy/joint_targets", cmd.stamp)
        self.sup.on_policy_target(cmd.stamp, cmd.q, cmd.kp, cmd.kd)
        if self.sup.state == SafetyState.RUNNING and self._join.push("target", cmd.stamp, cmd) is not None:
            self._command(cmd.stamp)

    def _on_camera(self, msg: CameraInfo) -> None:
        stamp = convert.from_time(msg.header.stamp)
        self.health.seen(CAMERA_TOPIC, stamp)
        self.sup.on_camera(stamp)

    def _on_estop(self, msg: Bool) -> None:
        if msg.data:
            self.sup.estop(self._now(), True)
            self._command(self._now(), force=True)

    def _on_policy_status(self, msg: String) -> None:
        self.policy_status = msg.data
        self.policy_ready = msg.data.startswith("READY")

    def _on_hoist(self, msg: String) -> None:
        try:
            status = HoistStatus.parse(msg.data)
        except ValueError as exc:
            self.get_logger().error(f"hoist/state ignored: {exc}")
            return
        self.hoist_status = status
        if status.released_at is not None:
            self.sequence.hoist_released_at(status.released_at)
        elif status.phase == RELEASED:  # never hung (a humanoid started lying)
            self.sequence.hoist_released_at(float("-inf"))

    def _service(self, name: str):
        def handler(_req, resp):
            if name != "damp":  # damping is everyone's right, as the e-stop is
                allowed, why = self.lease.gate(name)
                if not allowed:
                    resp.success, resp.message = False, f"safety/{name} refused: {why}"
                    self.get_logger().error(resp.message)
                    self._lease_event(resp.message)
                    return resp
            if self.sequence is not None:
                self.sequence.cancel()  # an operator took over
            ok, message = self.sup.request(name, self._now())
            resp.success, resp.message = bool(ok), message
            self._publish_state()
            return resp

        return handler

    def _lease_event(self, text: str) -> None:
        """A lease change or a refused call, on safety/event (FROM == TO: no transition)."""
        state = self.sup.state
        self.get_logger().warning(f"operator: {text}")
        self.event_pub.publish(String(data=Event(self._now(), state, state, "operator lease", text).to_text()))

    # ---- outputs ------------------------------------------------------------------------
    def _now(self) -> float:
        """Graph time: the newest of the node clock and the last tick answered."""
        return max(now_s(self), self._answered)

    def _command(self, stamp: float, force: bool = False) -> None:
        if stamp <= self._answered and not force:
            return
        if self.sequence is not None and self.policy_ready:
            request = self.sequence.step(stamp)
            if request is not None and request[0] == "lower_hoist":
                self.hoist_pub.publish(Header(stamp=convert.to_time(stamp)))
                self.get_logger().info(f"auto sequence: {request[2]} (requested at {stamp:.2f} s)")
        t0 = time.perf_counter()
        cmd = self.sup.tick(stamp)
        if not self.handoff.deliver(cmd):  # to the backend first: the mirror is only a copy
            self.health.count("undelivered_commands")
        self.cmd_pub.publish(convert.command_msg(cmd, self.names))
        self.health.took("tick", time.perf_counter() - t0)
        self.health.seen("joint_commands", stamp)
        self._answered = max(self._answered, stamp)
        # the tick answered, if the node clock lags it: /clock and joint_states of one tick arrive in
        # either order, and a lagging clock made the heartbeat answer the next tick before its joints
        self._last_publish = max(now_s(self), stamp)
        self._publish_state()

    def _heartbeat(self) -> None:
        """Every half period: re-check staleness (a silent input trips here, not at the next tick that
        may never come) and keep commanding if ticks stopped arriving."""
        now = now_s(self)
        tripping = self.sup.state in (SafetyState.STANDING, SafetyState.RUNNING) and self.sup.check(now)
        if tripping or self._last_publish is None or now - self._last_publish > 1.5 * self.period:
            self._command(max(now, self._answered), force=True)
        if self._next_report is None or now >= self._next_report or now < self._next_report - 2.0:  # 1 Hz (clock may jump back)
            self._next_report = now + 1.0
            self._report(now)

    def _health(self, require_camera: bool) -> NodeHealth:
        """What the supervisor is judged by (docs/diagnostics.md); timeouts are the robot YAML's."""
        h = NodeHealth("safety_supervisor", started=now_s(self))
        hz, lim = self.robot.rate_hz, self.robot.safety
        source = "is the robot driver (lucid-ros robot) or the sim bridge (lucid-ros sim) running?"
        h.input("joint_states", hz, lim.joint_states_timeout, source)
        h.input("imu/data", hz, lim.imu_timeout, source)
        h.input(
            "policy/joint_targets",
            hz,
            lim.policy_timeout,
            "is the policy runner running and READY (policy/status)? see its diagnostics",
            required=False,
        )
        if require_camera:
            cam = next(iter(self.robot.cameras.values()), None)
            rate = cam.depth.rate_hz if cam is not None and cam.depth is not None else None
            h.input(CAMERA_TOPIC, rate, lim.camera_timeout, "is the camera node running? see its diagnostics")
        h.output("joint_commands", hz, "no ticks to answer: see the inputs")
        h.latency("tick", 1.0 / hz, "the supervisor's tick takes longer than a control period: CPU load?")
        h.fault(
            "undelivered_commands",
            ERROR,
            "no backend (sim_bridge, robot_driver) in this process takes the commands: "
            "the bring-up plan puts the supervisor in the backend's process",
        )
        h.fault("dropped_malformed", WARN, "joint_states or policy/joint_targets with joints other than the robot YAML's were dropped")
        return h

    def _report(self, now: float) -> None:
        state = self.sup.state
        self.health.require("policy/joint_targets", state == SafetyState.RUNNING)
        extra = []
        if state in (SafetyState.DAMPING, SafetyState.ESTOP):
            extra.append(Problem(ERROR, f"{state.value}: {self.sup.last_cause}: {RECOVERY[state]}"))
        elif self.sup.faults:
            extra.append(Problem(WARN, f"{state.value}, stand/run would be refused: {'; '.join(self.sup.faults)}"))
        values = {"state": state.value, "faults": "; ".join(self.sup.faults) or "none", "last_cause": self.sup.last_cause or ""}
        values["lease_holder"] = self.lease.holder or ""  # the operator whose cmd_vel and calls are obeyed
        self.diag.report(self.health.evaluate(now, extra, ok_message=state.value, values=values))

    def destroy_node(self) -> None:
        self.handoff.detach(self.get_fully_qualified_name())
        super().destroy_node()

    def _publish_state(self, force: bool = False) -> None:
        for ev in self.sup.events[self._events_sent :]:
            self.handoff.record_state(ev.time, ev.to_state.value)  # the policy runner's tick-exact view
            self.event_pub.publish(String(data=ev.to_text()))
        self._events_sent = len(self.sup.events)
        state = self.sup.state
        if state != self._last_state or force:
            text = state.value
            self.state_pub.publish(String(data=text))
            if self._last_state is not None:
                cause = self.sup.last_cause or ""
                self.get_logger().info(f"safety state {self._last_state.value} -> {text}" + (f" ({cause})" if cause else ""))
            self._last_state = state
            self._report(self._now())  # a trip is on diagnostics at once, not at the next 1 Hz report


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(SafetySupervisorNode, args)
