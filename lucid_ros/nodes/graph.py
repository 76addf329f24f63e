"""In-process bringup of the whole sim graph: every node, real rclpy, one process.

`lucid-ros sim` and the sim-in-the-loop tests use this; `launch/sim.launch.py` starts the same
nodes with the same parameter files as separate processes on a ROS 2 install.

One process, one SingleThreadedExecutor thread for the nodes plus the sim bridge's own stepping
thread. Measured (bench/bench_graph.py): a multi-threaded executor gains nothing under the GIL
and reorders callbacks; separate processes add DDS serialisation on every hop.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from std_msgs.msg import String

from lucid_ros.mathutil import yaw_of
from lucid_ros.metrics import RunMetrics
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.common import GraphNode, parameters
from lucid_ros.nodes.inprocess import InProcessGraph, node_specs
from lucid_ros.safety.states import POWERED, Event, SafetyState

NODE_NAMES = ("sim_bridge", "proprioception", "policy_runner", "safety_supervisor")


def localhost_only() -> None:
    """Keep DDS discovery on loopback unless the user chose otherwise (a sim needs no network)."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


class RunMonitor(GraphNode):
    """The run's automatic operator (cmd_vel, steered or not) and its record of ground truth, safety
    states and events for the summary.

    Attached to a sim bridge in its process (`attach`, what SimGraph does), it works in the sim
    thread at every tick, before the tick's sensors go out: it records that tick's ground truth
    and the supervisor's state, computes the operator's command for that tick and hands it to the
    policy runner in-process (lucid_ros.policy.operator_bus). Over DDS the same numbers arrived at
    a tick that depended on delivery order, and a seed did not give the same run twice. cmd_vel is
    still published (rviz, recordings), and a person's cmd_vel still wins (the runner's rule)."""

    def __init__(self, nominal_height: float, cmd_vel=(0.0, 0.0, 0.0), **kwargs):
        super().__init__("run_monitor", **kwargs)
        self.metrics = RunMetrics(nominal_height)
        self.cmd = tuple(float(x) for x in cmd_vel)
        self.steer = None  # (x, y, yaw) -> wz: the success table's operator (evaluation.steer), None = fixed cmd_vel
        self.state = "UNKNOWN"
        self.sim_time = 0.0
        self.states: list[tuple[float, str]] = []
        self.events: list[str] = []
        self.cmd_pub = self.create_publisher(Twist, "cmd_vel", qos.STATE)
        self.attached = False  # True: ground truth, states and the command come from the sim thread
        self.heard_until = float("-inf")  # the newest ground truth stamp heard over DDS
        self._state_of = None
        self._operator = None
        self.create_subscription(Odometry, "sim/ground_truth/odom", self._on_gt, qos.STATE)
        self.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)
        self.create_subscription(String, "safety/event", self._on_event, qos.EVENTS)
        self.create_timer(0.1, self._publish_cmd)

    def set_cmd(self, vx: float, vy: float, wz: float) -> None:
        self.cmd = (float(vx), float(vy), float(wz))
        self._publish_cmd()

    def _publish_cmd(self) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = self.cmd
        self.cmd_pub.publish(msg)

    def attach(self, bridge, state_of, operator_bus) -> None:
        """Work in the sim bridge's thread (see the class doc); `state_of()` is the supervisor's state."""
        self.attached = True
        self._state_of = state_of
        self._operator = operator_bus
        operator_bus.attach(self.get_name())
        bridge.before_tick.append(self._on_tick)

    def _on_tick(self, t: float, gt) -> None:
        """Sim thread, before tick t's sensors go out: the supervisor has answered tick t - 1."""
        state = str(self._state_of().value)
        if not self.states or self.states[-1][1] != state:
            self.states.append((t, state))
        self.sim_time = t
        self._record(t, gt.pos, gt.quat, gt.lin_vel_body, gt.ang_vel_body, state)
        self._operator.put(t, self.cmd)

    def _on_gt(self, msg: Odometry) -> None:
        a = convert.odometry_arrays(msg)
        self.heard_until = float(a["stamp"])
        if not self.attached:
            self.sim_time = self.heard_until
            self._record(self.sim_time, a["pos"], a["quat"], a["lin_vel"], a["ang_vel"], self.state)

    def _record(self, t: float, pos, quat, lin_vel, ang_vel, state: str) -> None:
        if self.steer is not None and state == SafetyState.RUNNING:
            wz = self.steer(float(pos[0]), float(pos[1]), float(yaw_of(np.asarray(quat))))
            self.cmd = (self.cmd[0], self.cmd[1], wz)
        self.metrics.add_ground_truth(t, pos, quat, lin_vel, ang_vel, self.cmd, state == SafetyState.RUNNING, powered=state in POWERED)

    def _on_state(self, msg: String) -> None:
        self.state = msg.data
        if not self.attached:
            self.states.append((self.sim_time, msg.data))

    def _on_event(self, msg: String) -> None:
        self.events.append(msg.data)
        ev = Event.parse(msg.data)
        if ev is None:
            return  # not an event text: kept in `events` for the test that wants to see it
        cause = ev.cause + (f" ({ev.detail})" if ev.detail and ev.detail != ev.cause else "")
        self.metrics.add_event(ev.time, ev.to_state.value, cause)


def sim_values(robot: str, policy: str | Path | None, course: str = "flat", seed: int = 0, realtime: bool = False, start_pose: str = "default",
               auto_sequence: bool = True, params_file: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None
               ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """SimGraph's nodes and their values: sim.launch.py's plan and files (test/test_launch_plan.py)."""
    from lucid_ros.bringup import node_values, params_files, sim_plan

    plan = sim_plan(robot, str(policy) if policy else "", course=course, seed=seed, realtime=realtime, auto=auto_sequence, start_pose=start_pose)
    return node_values(plan, robot, params_files(robot, params_file), overrides)


class SimGraph(InProcessGraph):
    """Every node of the sim graph in this process. Use as a context manager."""

    worker = "sim_bridge"

    def __init__(
        self,
        robot: str = "go1",
        policy: str | Path | None = None,
        course: str = "flat",
        seed: int = 0,
        realtime: bool = False,
        start_pose: str = "default",
        auto_sequence: bool = True,
        cmd_vel=(0.0, 0.0, 0.0),
        params_file: str | Path | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        executor: str = "single",
        recorders: tuple[dict[str, Any], ...] = (),  # RecorderNode parameters, one dict per recorder (docs/recording.md)
    ):
        """The nodes and their values are lucid_ros.bringup.sim_plan's, as sim.launch.py starts them
        (one process here); `overrides` {node: {parameter: value}} go on top."""
        localhost_only()
        values = sim_values(robot, policy, course, seed, realtime, start_pose, auto_sequence, params_file, overrides)
        specs = node_specs(values, NODE_NAMES)
        from lucid_ros.robots import load_robot

        self.robot = load_robot(robot)

        def monitor(context):
            mon = RunMonitor(self.robot.nominal_base_height, cmd_vel, context=context, parameter_overrides=parameters({"use_sim_time": True}))
            sup = self.nodes.get("safety_supervisor")
            if "sim_bridge" in self.nodes and sup is not None:
                from lucid_ros.policy.operator_bus import operator_bus_for

                mon.attach(self.nodes["sim_bridge"], lambda: sup.sup.state, operator_bus_for(context))
            return mon

        def add_recorders(graph) -> None:
            from lucid_ros.nodes.recorder import RecorderNode

            for i, rec in enumerate(recorders):  # matched to every publisher before the sim starts: nothing missed
                name = "recorder" if rec.get("mode", "full") == "full" else "black_box"
                name = f"{name}_{i}" if name in graph.nodes else name
                graph.nodes[name] = RecorderNode(node_name=name, context=graph.context, parameter_overrides=parameters({"use_sim_time": True, **rec}))
                graph.nodes[name].wait_matched()

        self._bring_up(specs, monitor, add_recorders if recorders else None, executor)

    def _before_worker(self, wall_timeout: float = 20.0) -> None:
        """Hold the sim clock at 0 until the graph is wired: every publisher matched by every
        subscriber in this graph, and the latched policy/status (and hoist/state) at the supervisor.

        Without this the sim ran ahead in lockstep while DDS discovery and the policy's READY were
        still on their way (the supervisor answers PASSIVE ticks without them), so the sim time of
        the auto stand, and whether an unpowered humanoid had toppled by then, depended on the
        machine's speed."""
        nodes = [*self.nodes.values(), self.monitor]
        wanted = {}
        for node in nodes:
            for sub in node.subscriptions:
                wanted[sub.topic_name] = wanted.get(sub.topic_name, 0) + 1
        pubs = [p for node in nodes for p in node.publishers if p.topic_name in wanted]
        sup = self.nodes.get("safety_supervisor")

        def wired() -> bool:
            if any(p.get_subscription_count() < wanted[p.topic_name] for p in pubs):
                return False
            if sup is None or sup.sequence is None:
                return True
            return sup.policy_status is not None and (not sup.sequence.hoist or sup.hoist_status is not None)

        if not self.wait_until(wired, wall_timeout):
            missing = [f"{p.topic_name} ({p.get_subscription_count()}/{wanted[p.topic_name]})" for p in pubs
                       if p.get_subscription_count() < wanted[p.topic_name]]  # fmt: skip
            missing = missing or ["a latched status (policy/status or hoist/state) at the supervisor"]
            self.sim.get_logger().warning(f"starting the sim before the graph is wired ({wall_timeout:.0f} s): {', '.join(missing)}")

    # -- driving -----------------------------------------------------------------------------
    @property
    def sim(self):
        return self.nodes["sim_bridge"]

    @property
    def sim_time(self) -> float:
        return self.sim.sim.time

    def run_until(self, sim_time: float, wall_timeout: float | None = None, progress=None, stop_when=None, check_every: float = 0.5) -> None:
        """Run the sim to `sim_time` (or until `stop_when()` is true) and hold it there.

        Lockstep: the sim integrates exactly up to `sim_time` and waits (Lockstep.hold_at), so the
        run's ticks, its trajectory hash and the monitor's record are the same on any machine;
        `stop_when` is asked with the sim held at every multiple of `check_every` s of sim time (a
        function of sim time, not of when a wall-clock poll looked). The hold stays until the next run_until
        or a wait on the graph (wait_until and what uses it). Realtime: polls the clock."""
        watch = self._watchdog(sim_time, wall_timeout, progress)
        if self.sim.realtime:
            while self.sim_time < sim_time and not (stop_when is not None and stop_when()):
                watch()
                time.sleep(0.01)
            return
        lockstep = self.sim.lockstep
        while True:
            grid = (math.floor(self.sim_time / check_every + 1e-6) + 1) * check_every
            target = sim_time if stop_when is None else min(sim_time, grid)
            lockstep.hold_at(target)
            while not lockstep.wait_held(target, 0.05):
                watch()
            self._catch_up()
            if target >= sim_time - 1e-9 or (stop_when is not None and stop_when()):
                return

    def _watchdog(self, sim_time: float, wall_timeout: float | None, progress):
        """run_until's check while it waits: the wall-time limit, a dead executor, progress at 1 Hz."""
        t0, last = time.monotonic(), [0.0]
        limit = wall_timeout if wall_timeout is not None else max(60.0, 20.0 * (sim_time - self.sim_time))

        def watch() -> None:
            if time.monotonic() - t0 > limit:
                raise TimeoutError(f"sim reached {self.sim_time:.2f}s of {sim_time:.2f}s in {limit:.0f}s wall time")
            if not self._spin_thread.is_alive():
                raise RuntimeError("the executor thread died; see the log above")
            if progress is not None and time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                progress(self)

        return watch

    def _catch_up(self, wall_timeout: float = 5.0) -> None:
        """With the sim held: let the executor deliver what the held ticks published (safety/event
        to the monitor), so a summary made now is complete."""
        last = self.sim_time  # the held tick itself has been published and answered
        self.wait_until(lambda: self.monitor.heard_until >= last - 1e-6, wall_timeout, release=False)

    def wait_until(self, predicate, wall_timeout: float = 30.0, release: bool = True) -> bool:
        """InProcessGraph.wait_until, after letting a held sim run on (waiting on a held sim waits forever)."""
        if release and getattr(self, "_started", False) and "sim_bridge" in self.nodes:
            self.sim.lockstep.release()
        return InProcessGraph.wait_until(predicate, wall_timeout)

    @property
    def trajectory(self) -> dict:
        """The repeatability fields of a summary: the hash of every tick's qpos and qvel up to the
        hold (lockstep), or null with the reason (realtime: the wall clock decides)."""
        if self.sim.realtime:
            return {"trajectory_sha256": None, "ticks_hashed": self.sim.ticks_hashed,
                    "trajectory_sha256_reason": "realtime run: paced by the wall clock, not repeatable"}  # fmt: skip
        return {"trajectory_sha256": self.sim.trajectory_sha256(), "ticks_hashed": self.sim.ticks_hashed,
                "lockstep_timeouts": self.sim.lockstep.timeouts}  # fmt: skip

    def run_for(self, seconds: float, **kwargs) -> None:
        self.run_until(self.sim_time + seconds, **kwargs)

    def wait_for_event(self, state: str, wall_timeout: float = 30.0) -> dict | None:
        """The first safety event into `state` (from safety/event), waiting for it to arrive."""
        found = self.wait_until(lambda: any(e["state"] == state for e in self.monitor.metrics.events), wall_timeout)
        return next(e for e in self.monitor.metrics.events if e["state"] == state) if found else None
