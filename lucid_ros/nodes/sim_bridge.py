"""sim_bridge: MuJoCo behind the same topics a hardware backend offers.

Publishes /clock, `joint_states`, `imu/data` and `sim/ground_truth/odom` once per tick (and, for a
teacher policy, its privileged terrain scan on the in-process bus); obeys only the safety
supervisor in its own process (the command hand-off, lucid_ros.safety.handoff), applying the motor
law every physics step (500 Hz). `joint_commands` on DDS is only the supervisor's mirror: any other
message on it is foreign, ignored, counted and reported (ERROR naming the publishing node, one
safety/event; lucid_ros.nodes.commander). The stepping thread is not an executor callback, so a
slow graph slows the world (lockstep) instead of dropping ticks.

A robot with a `hoist:` block starts hung from the sim's hoist (lucid_ros.sim.hoist). The bridge
lowers it when asked on `hoist/lower` (a Header stamped with the sim time of the request: the
auto sequence's, or an operator's) and says what it does on the latched `hoist/state`.

Repeatability (lockstep): `trajectory` hashes the sim's qpos and qvel (float64) at every tick it
publishes, in this thread (not from messages, which may be dropped), so two runs of a seed can be
compared by one string; `before_tick` hooks run here too, before a tick's sensors go out (the run
monitor's ground truth and its automatic operator's velocity command for that tick).
"""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Header, String

from lucid_ros.diagnostics import WARN, NodeHealth, Problem
from lucid_ros.errors import ConfigError
from lucid_ros.mathutil import yaw_of
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.commander import BackendCommands
from lucid_ros.nodes.common import Diagnostics, GraphNode, param
from lucid_ros.policy.observations import height_scan
from lucid_ros.robots import load_robot
from lucid_ros.sim.courses import load_course
from lucid_ros.sim.heights import CourseHeights
from lucid_ros.sim.lockstep import LOCKSTEP_TIMEOUT, Lockstep
from lucid_ros.sim.robot_sim import SimRobot
from lucid_ros.types import JointCommand
from lucid_ros.vision.bus import bus_for

LOWER_LEAD = 0.1  # s of sim time from a hoist/lower request's stamp to the start of lowering (below)
COMMAND_DEADLINE = qos.COMMAND.deadline.nanoseconds * 1e-9  # s: joint_commands older than this are stale
REALTIME_FACTOR_WARN = 0.9  # realtime mode: the sim falling below this fraction of wall time is a WARN


class SimBridgeNode(GraphNode):
    def __init__(self, **kwargs):
        super().__init__("sim_bridge", **kwargs)
        self.robot = load_robot(param(self, "robot", str, required=True))
        self.course = load_course(param(self, "course", "flat"))
        seed = int(param(self, "seed", 0))
        hoist = self.robot.hoist if bool(param(self, "hoist", True)) else None
        self.sim = SimRobot(self.robot, self.course, seed=seed, hoist=hoist)
        self.sim.reset(param(self, "start_pose", "default"))
        self.tick_dt = 1.0 / self.robot.rate_hz
        self.substeps = max(1, round(self.tick_dt / self.robot.physics_dt))
        self.realtime = bool(param(self, "realtime", False))
        self.lockstep = Lockstep(self.tick_dt, realtime=self.realtime, timeout=float(param(self, "lockstep_timeout", LOCKSTEP_TIMEOUT)))
        self.names = self.robot.joint_names
        self.muted: set[str] = set()  # fault injection for tests: topics the sim stops publishing
        self.on_tick = []  # callables(t, sim) run in the sim thread after each tick (pushes, metrics)
        self.before_tick = []  # callables(t, ground_truth) run in the sim thread before tick t's sensors go out
        self.trajectory = hashlib.sha256()  # qpos and qvel of every published tick (see the module doc)
        self.ticks_hashed = 0
        self._cmd = JointCommand.passive(self.robot.n_joints)
        self._cmd_lock = threading.Lock()
        self._stop = threading.Event()
        self.rejected_commands = 0
        self.scans = bus_for(self.context)  # privileged height scans for a teacher policy (sim only)
        self._heights: CourseHeights | None = None
        self.camera_latency = float(param(self, "camera_latency", 0.0))  # s from capture to delivery (robustness runs)
        # s from the graph's joint command to the motors, in whole physics steps (robustness runs: the
        # bus and driver delay a real robot adds; lockstep otherwise applies a command at the next step)
        self.action_latency = float(param(self, "action_latency", 0.0))
        if not 0.0 <= self.action_latency < 10.0:
            raise ConfigError(None, "sim_bridge.action_latency", f"expected 0 <= seconds < 10, got {self.action_latency}")
        self.sim.motor.set_latency(round(self.action_latency / self.robot.physics_dt))
        if bool(param(self, "cameras", False)):  # render camera mounts in this thread for the camera node
            from lucid_ros.nodes.camera import attach_sim_cameras

            self.camera_sources = attach_sim_cameras(self)  # 'camera' in self.muted stops the frames

        self.clock_pub = self.create_publisher(Clock, "/clock", qos.STATE)
        self.js_pub = self.create_publisher(JointState, "joint_states", qos.STATE)
        self.imu_pub = self.create_publisher(Imu, "imu/data", qos.STATE)
        self.gt_pub = self.create_publisher(Odometry, "sim/ground_truth/odom", qos.STATE)
        self.commands = BackendCommands(self, self.names, self._on_command, lambda: self.sim.time)
        self._answer = float("-inf")  # the newest answered stamp, released to the lockstep by the guard below
        self._answer_gc = self.create_guard_condition(self._release_answer)
        self._lower_at: float | None = None  # a hoist/lower request's stamp, for the sim thread
        self._hoist_said: str | None = None
        if self.sim.hoist is not None:
            self.hoist_pub = self.create_publisher(String, "hoist/state", qos.LATCHED)
            self.create_subscription(Header, "hoist/lower", self._on_lower, qos.LATCHED)
            self._say_hoist()
        self.diag = Diagnostics(self)
        self.health = self._health()
        self._answers_seen = 0
        self._rtf_mark = (time.monotonic(), self.sim.time)
        self.create_timer(1.0, self._report)  # wall timer: this node owns the sim clock
        self._thread = threading.Thread(target=self._loop, name="sim_bridge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def destroy_node(self) -> None:
        self.commands.close()
        super().destroy_node()

    def _on_command(self, cmd: JointCommand) -> None:
        """The hand-off's sink: the in-process supervisor's command for a tick, in its thread."""
        if not cmd.is_finite():
            # The supervisor never sends this. Damp rather than obey.
            self.rejected_commands += 1
            self.health.count("rejected_commands")
            self.get_logger().error("joint_commands refused: non-finite values; damping", throttle_duration_sec=1.0)
            cmd = JointCommand.damping(self.sim.joint_sample().q, self.robot.safety.damping_kd, cmd.stamp)
        with self._cmd_lock:
            self._cmd = cmd
            self._answer = max(self._answer, cmd.stamp)
        self.health.seen("joint_commands", cmd.stamp)
        self._answer_gc.trigger()

    def _release_answer(self) -> None:
        """The executor's next turn after the supervisor answered: let the sim integrate that tick.

        Not in the supervisor's callback itself: the sim would publish the next tick while the rest
        of this turn's callbacks (the policy runner's) still wait, and before RUNNING (when the
        supervisor answers on joint_states alone) it ran two ticks ahead of the runner. One turn
        later is where the answer used to land when it came back over DDS."""
        with self._cmd_lock:
            stamp = self._answer
        self.lockstep.answered(stamp)

    def _on_lower(self, msg: Header) -> None:
        self._lower_at = convert.from_time(msg.stamp)

    def _hoist_tick(self, t: float) -> None:
        """Sim thread, before tick t: start a requested lowering, announce phase changes.

        Lowering starts LOWER_LEAD after the request's stamp, not when the message arrives: in
        lockstep the request (published with tick t's command) is delivered before the sim gets
        that far whatever order DDS hands the two topics over in, so the start and the release time
        are functions of sim time alone, and the release time is announced before it comes."""
        if self._lower_at is not None:
            t0, self._lower_at = self._lower_at + LOWER_LEAD, None
            if t0 == LOWER_LEAD:  # an operator's unstamped request (ros2 topic pub hoist/lower std_msgs/msg/Header): from now
                t0 = t
            elif t0 < t:
                self.get_logger().warning(f"hoist/lower arrived {t - t0 + LOWER_LEAD:.3f} s of sim time after its stamp; lowering from now")
                t0 = t
            self.sim.lower_hoist(t0)
        self._say_hoist()

    def _say_hoist(self) -> None:
        text = self.sim.hoist.status(self.sim.time).to_text()
        if text != self._hoist_said:
            self._hoist_said = text
            self.hoist_pub.publish(String(data=text))
            self.get_logger().info(f"hoist: {text} (sim time {self.sim.time:.2f} s)")

    def trajectory_sha256(self) -> str:
        """The hash so far (call while the sim is held, or the tick count moves under you)."""
        return self.trajectory.copy().hexdigest()

    def _publish(self, t: float) -> None:
        stamp = convert.to_time(t)
        self.clock_pub.publish(Clock(clock=stamp))
        gt = self.sim.ground_truth()
        for fn in list(self.before_tick):
            fn(t, gt)
        self._answer_scans(t, gt)  # before the sensors: in lockstep the runner's tick finds its scan in place
        if "joint_states" not in self.muted:
            self.js_pub.publish(convert.joint_state_msg(self.sim.joint_sample(), self.names))
            self.health.seen("joint_states", t)
        if "imu/data" not in self.muted:
            self.imu_pub.publish(convert.imu_msg(self.sim.imu_sample(), self.robot.imu_frame))
            self.health.seen("imu/data", t)
        self.gt_pub.publish(convert.odometry_msg(t, "world", self.robot.base_body, gt.pos, gt.quat, gt.lin_vel_body, gt.ang_vel_body))

    def _answer_scans(self, t: float, gt) -> None:
        """Privileged terrain scans a teacher policy asked for (lucid_ros.policy.privileged)."""
        requests = self.scans.scan_requests()
        if not requests:
            return
        if self._heights is None:
            self._heights = CourseHeights(self.sim.course)
        yaw = yaw_of(gt.quat)
        for name, offsets in requests.items():
            self.scans.put_tensor(name, height_scan(offsets, gt.pos[None], np.atleast_1d(yaw), self._heights), t)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t = self.sim.time
            self.trajectory.update(np.ascontiguousarray(self.sim.data.qpos, dtype=np.float64).tobytes())
            self.trajectory.update(np.ascontiguousarray(self.sim.data.qvel, dtype=np.float64).tobytes())
            self.ticks_hashed += 1
            if self.sim.hoist is not None:
                self._hoist_tick(t)
            self.lockstep.published(t)
            self._publish(t)
            if "joint_states" in self.muted:
                time.sleep(self.tick_dt)  # nothing will answer this tick: give the graph's timers a tick of wall time
            else:
                self.lockstep.wait(t)
            # run_until(T) holds here: tick T published and answered (everyone has seen sim time T),
            # nothing integrated past it; an operator's request made while held acts from tick T
            self.lockstep.pause_point(t, self._stop.is_set)
            if self._stop.is_set():
                break
            with self._cmd_lock:
                cmd = self._cmd
            t0 = time.perf_counter()
            self.sim.apply(cmd)
            self.sim.step(self.substeps)
            self.health.took("step", time.perf_counter() - t0)
            answers = self.lockstep.latencies
            for x in answers[self._answers_seen : len(answers)]:
                self.health.took("answer", x)
            self._answers_seen = len(answers)
            for fn in list(self.on_tick):
                fn(t, self.sim)

    def _health(self) -> NodeHealth:
        """What the bridge is judged by (docs/diagnostics.md). Rates and ages are in sim time; in
        lockstep a slow graph slows the world, so only realtime runs judge timing."""
        h = NodeHealth("sim_bridge", started=self.sim.time)
        hz = self.robot.rate_hz
        h.input(
            "joint_commands",
            hz,
            COMMAND_DEADLINE,
            "is the safety supervisor running in the sim bridge's process? it alone commands the sim, through the in-process hand-off",
        )
        for topic in ("joint_states", "imu/data"):
            h.output(topic, hz, f"is {topic} muted (fault injection) or the sim thread stalled?")
        budget = self.tick_dt if self.realtime else None
        h.latency("step", budget, "physics cannot keep up with the tick in real time: a lighter course/model or a faster machine")
        h.latency("answer", budget, "the graph answers late: check the policy runner's and supervisor's latencies and CPU load")
        h.fault("rejected_commands", WARN, "non-finite commands from the supervisor refused (the sim damped)")
        h.fault("lockstep_timeouts", WARN, "a tick went unanswered for lockstep_timeout: is the safety supervisor alive?")
        if self.realtime:
            h.fault("deadline_misses", WARN, "commands arrived after their tick ended: the graph is too slow for real time")
        return h

    def _report(self) -> None:
        h = self.health
        now_wall, now_sim = time.monotonic(), self.sim.time
        wall0, sim0 = self._rtf_mark
        rtf = (now_sim - sim0) / (now_wall - wall0) if now_wall > wall0 else float("nan")
        self._rtf_mark = (now_wall, now_sim)
        h.set_count("lockstep_timeouts", self.lockstep.timeouts)
        if self.realtime:
            h.set_count("deadline_misses", self.lockstep.misses)
        extra = []
        problem = self.commands.problem()
        if problem is not None:
            extra.append(Problem(problem[0], problem[1]))
        if self.muted:
            extra.append(Problem(WARN, f"fault injection: muted {', '.join(sorted(self.muted))}"))
        if self.realtime and rtf < REALTIME_FACTOR_WARN:
            extra.append(Problem(WARN, f"sim runs at {rtf:.2f}x real time (realtime mode): the machine cannot keep up"))
        values = {
            "sim_time": now_sim,
            "mode": "realtime" if self.realtime else "lockstep",
            "real_time_factor": rtf,
            "ticks": self.lockstep.ticks,
            "deadline_misses": self.lockstep.misses,
            "muted": ",".join(sorted(self.muted)) or "none",
            **self.commands.values(),
        }
        mode = "realtime" if self.realtime else "lockstep"
        self.diag.report(h.evaluate(now_sim, extra, f"sim t={now_sim:.2f}s, {mode}, {rtf:.2f}x real time", values))


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_with_thread

    spin_with_thread(SimBridgeNode, args)
