"""A backend's side of the one-commander rule (lucid_ros.safety.handoff), shared by the sim bridge
and the robot driver.

The backend takes its commands from the hand-off its in-process safety supervisor delivers to,
never from DDS. It still subscribes to `joint_commands`, the supervisor's read-only mirror, to
notice intruders: a message that is not one of its supervisor's own commands is foreign. It is
not applied; it is counted, logged, put on the backend's diagnostics (ERROR naming the publishing
nodes) and announced once per new set of publishers on `safety/event`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from lucid_ros.nodes import qos
from lucid_ros.nodes.authority import node_fqn
from lucid_ros.nodes.common import decode_command
from lucid_ros.safety import SafetyState
from lucid_ros.safety.handoff import FOREIGN_CAUSE, ForeignCommands, Sink, command_fingerprint, handoff_for
from lucid_ros.safety.states import Event

UNNAMED = "_NODE_NAME_UNKNOWN_"  # rmw's name for an endpoint whose node is not discovered yet
NO_SOURCE = "no safety supervisor in this process: nothing commands the robot (the bring-up plan puts the supervisor in the backend's process)"


class BackendCommands:
    """Attach `sink` to the graph's hand-off and watch `joint_commands` for foreign publishers.

    `now()` is the time stamped on the safety/event (the sim's time in sim, the node clock on a robot)."""

    def __init__(self, node: Node, names: list[str], sink: Sink, now: Callable[[], float]):
        self.node, self.names, self.now = node, names, now
        self.owner = node.get_fully_qualified_name()
        self.handoff = handoff_for(node.context, node.get_namespace())
        self.handoff.attach_sink(self.owner, sink)
        self.foreign = ForeignCommands()
        self.safety_state = SafetyState.PASSIVE  # the supervisor boots PASSIVE; safety/state (latched) corrects it
        self.event_pub = node.create_publisher(String, "safety/event", qos.EVENTS)
        node.create_subscription(JointTrajectory, "joint_commands", self._on_mirror, qos.COMMAND)
        node.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)

    def close(self) -> None:
        self.handoff.detach(self.owner)

    def _on_state(self, msg: String) -> None:
        try:
            self.safety_state = SafetyState(msg.data)
        except ValueError:
            pass

    def _on_mirror(self, msg: JointTrajectory) -> None:
        cmd = decode_command(self.node, msg, self.names)  # malformed: the supervisor never sends it, so foreign
        ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec  # exact, as the supervisor's stamp_ns
        if cmd is not None and self.handoff.is_own(command_fingerprint(cmd, ns)):
            return
        now = time.monotonic()
        publishers, settled = self._publishers() if self.foreign.lookup_due(now) else (None, True)
        if not self.foreign.observe(publishers, now, settled):
            return
        who = self.foreign.named()
        self.node.get_logger().error(f"foreign joint_commands from {who}: ignored (only the in-process safety supervisor commands this robot)")
        state = self.safety_state
        event = Event(self.now(), state, state, FOREIGN_CAUSE, f"ignored, published by {who}")
        self.event_pub.publish(String(data=event.to_text()))

    def _publishers(self) -> tuple[list[str], bool]:
        """The nodes publishing joint_commands on the graph, less this graph's supervisor, and
        whether the graph has named them all yet.

        rclpy (Jazzy) hands a subscription callback no publisher GID, so a message cannot be tied to
        its sender: every other publisher the graph lists is named (usually the one intruder)."""
        source = self.handoff.source
        out, settled = [], True
        for info in self.node.get_publishers_info_by_topic("joint_commands"):
            if info.node_name == UNNAMED:
                settled = False
                continue
            name = node_fqn(info.node_name, info.node_namespace)
            if name != source:
                out.append(name)
        return out, settled

    def problem(self) -> tuple[str, str] | None:
        """(level, message) for the backend's diagnostics, or None when all is well."""
        text = self.foreign.problem(time.monotonic())
        if text is not None:
            return "ERROR", text
        if self.handoff.source is None:
            return "WARN", NO_SOURCE
        return None

    def values(self) -> dict[str, Any]:
        return {"command_source": self.handoff.source or "none", "foreign_joint_commands": self.foreign.count,
                "foreign_publishers": self.foreign.named() or "none"}  # fmt: skip
