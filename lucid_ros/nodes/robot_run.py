"""RobotGraph: the graph against hardware (or a fake robot) in one process, without ros2 launch
(`lucid-ros robot` and the hardware tests; the application is lucid_ros/app/robot.py).

RobotGraph runs robot_driver + proprioception + policy_runner + safety_supervisor (+ camera for a
vision policy, lucid_ros.bringup) in one process, on the wall clock: the driver and the supervisor
(one process under ros2 launch) in an executor thread of their own, the rest in another. The supervisor never
sequences itself on a robot unless `auto=True` (`--auto`, for tests and rehearsals against a
fake robot); an operator calls safety/stand and safety/run (or uses the remote: L2+Y, L2+X).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from geometry_msgs.msg import Twist
from std_msgs.msg import String

from lucid_ros.nodes import qos
from lucid_ros.nodes.authority import OperatorLease
from lucid_ros.nodes.common import GraphNode
from lucid_ros.nodes.inprocess import InProcessGraph, node_specs

NODE_NAMES = ("robot_driver", "proprioception", "policy_runner", "safety_supervisor")


class StateMonitor(GraphNode):
    """Records safety/state transitions (with wall times) and safety/event lines; calls services.
    With `cmd_vel` it also publishes that velocity command at 10 Hz (rehearsals against a fake robot).
    As `operator` it holds the operator lease (lucid_ros.safety.lease) so its commands and calls are
    obeyed: tests and `--auto` rehearsals, where this process is the only operator."""

    def __init__(self, cmd_vel: tuple[float, float, float] | None = None, operator: bool = True, **kwargs):
        super().__init__("robot_monitor", **kwargs)
        self.lease = OperatorLease(self) if operator else None
        self.state = "UNKNOWN"
        self.states: list[tuple[float, str]] = []
        self.events: list[str] = []
        self.cmd_vel = cmd_vel
        self.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)
        self.create_subscription(String, "safety/event", lambda m: self.events.append(m.data), qos.EVENTS)
        if cmd_vel is not None:
            self.cmd_pub = self.create_publisher(Twist, "cmd_vel", qos.STATE)
            self.create_timer(0.1, self._publish_cmd)

    def _publish_cmd(self) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in self.cmd_vel)
        self.cmd_pub.publish(msg)

    def _on_state(self, msg: String) -> None:
        self.state = msg.data
        self.states.append((time.monotonic(), msg.data))


def robot_values(robot: str, backend: str, policy: str | Path | None, arm: bool = False, auto: bool = False,
                 driver_options: dict[str, Any] | None = None, camera_serial: str = "", params_file: str | Path | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None):  # fmt: skip
    """RobotGraph's plan and each node's values: robot.launch.py's plan and files (test/test_launch_plan.py)."""
    from lucid_ros.bringup import node_values, params_files, robot_plan

    plan = robot_plan(robot, backend, str(policy) if policy else "", arm=arm, auto=auto, driver_options=driver_options, camera_serial=camera_serial)
    return plan, node_values(plan, robot, params_files(robot, params_file), overrides)


class RobotGraph(InProcessGraph):
    worker = "robot_driver"

    def __init__(self, robot: str = "go1", backend: str = "go1_udp", policy: str | Path | None = None, arm: bool = False,
                 auto: bool = False, driver_options: dict[str, Any] | None = None, params_file: str | Path | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None, cmd_vel: tuple[float, float, float] | None = None,
                 camera_serial: str = "", operator: bool = True):  # fmt: skip
        """Every node of the bring-up plan (lucid_ros.bringup.robot_plan) in this process: a vision
        policy adds the camera node (RealSense by `camera_serial`, empty = the only one connected)
        and the supervisor's camera watch. `operator`: this process's monitor takes the operator
        lease (its cmd_vel and service calls are obeyed); False leaves it to lucid-ros teleop."""
        from lucid_ros.bringup import process_of

        plan, values = robot_values(robot, backend, policy, arm, auto, driver_options, camera_serial, params_file, overrides)
        specs = node_specs(values, NODE_NAMES)
        # the plan's process of the driver and the supervisor spins in a thread of its own, as it is a
        # process of its own under ros2 launch: the 50 ms motor watchdog sees their tick, not the queue
        # behind the policy's callbacks (one shared executor: command gaps up to 54 ms on an idle machine)
        monitor = lambda context: StateMonitor(cmd_vel, operator=operator, context=context)  # noqa: E731
        self._bring_up(specs, monitor, own_threads=(process_of(plan, "robot_driver").names,))

    @property
    def driver(self):
        return self.nodes["robot_driver"].driver

    def wait_for(self, pred, timeout: float = 10.0) -> bool:
        return self.wait_until(pred, timeout)

    def wait_active(self, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda: self.driver.state == "active" or bool(self.driver.refusal), timeout) and self.driver.state == "active"
