"""Shared node plumbing: the base node, parameters without silent defaults, diagnostics, time."""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.parameter import Parameter

from lucid_ros.diagnostics import Report
from lucid_ros.errors import ConfigError
from lucid_ros.nodes import qos

LEVELS = {"OK": DiagnosticStatus.OK, "WARN": DiagnosticStatus.WARN, "ERROR": DiagnosticStatus.ERROR, "STALE": DiagnosticStatus.STALE}


QOS_WATCH_PERIOD = 2.0  # s between looks at the publishers of the topics a node subscribes to


class GraphNode(Node):
    """Every lucid_ros node. rclpy gives each publisher and subscription default QoS-event handlers,
    Python waitables that every executor spin rebuilds: measured, they are 60 % of an empty spin
    (0.62 -> 0.25 ms with 4 nodes of 10 endpoints), and the control graph spins hundreds of times a
    second. Our endpoints go without them; instead, every QOS_WATCH_PERIOD s the node looks at the
    publishers of each topic it subscribes to (only where their number changed) and logs an ERROR
    naming any publisher whose QoS can never reach it - what the default handler said, plus who."""

    def __init__(self, name: str, **kwargs):
        # before Node.__init__: with use_sim_time it subscribes to /clock through create_subscription
        self._qos_subs: list[tuple[str, Any]] = []  # (resolved topic, our QoS)
        self._qos_counts: dict[str, int] = {}
        self._qos_reported: set[tuple[str, str]] = set()
        self._qos_timer = None
        super().__init__(name, **kwargs)

    def create_publisher(self, msg_type, topic, qos_profile, **kwargs):
        kwargs.setdefault("event_callbacks", PublisherEventCallbacks(use_default_callbacks=False))
        return super().create_publisher(msg_type, topic, qos_profile, **kwargs)

    def create_subscription(self, msg_type, topic, callback, qos_profile, **kwargs):
        kwargs.setdefault("event_callbacks", SubscriptionEventCallbacks(use_default_callbacks=False))
        sub = super().create_subscription(msg_type, topic, callback, qos_profile, **kwargs)
        self._qos_subs.append((sub.topic_name, sub.qos_profile))
        if self._qos_timer is None:
            self._qos_timer = self.create_timer(QOS_WATCH_PERIOD, self.check_qos)
        return sub

    def check_qos(self) -> list[str]:
        """Publishers whose QoS cannot reach our subscriptions, each logged once: ['topic: node (why)']."""
        found = []
        for topic, ours in self._qos_subs:
            n = self.count_publishers(topic)
            if self._qos_counts.get(topic) == n:
                continue
            self._qos_counts[topic] = n
            for info in self.get_publishers_info_by_topic(topic):
                why = qos.incompatible(ours, info.qos_profile)
                who = f"{info.node_namespace.rstrip('/')}/{info.node_name}"
                if why is None or (topic, who) in self._qos_reported:
                    continue
                self._qos_reported.add((topic, who))
                found.append(f"{topic}: {who} ({why})")
                self.get_logger().error(f"{topic}: publisher {who} offers a QoS that can never reach this node: {why}. "
                                        "No message from it will arrive; see lucid_ros/nodes/qos.py for the profiles")  # fmt: skip
        return found


def parameters(values: dict[str, Any]) -> list[Parameter]:
    """Parameter overrides for a node created in this process."""
    return [Parameter(k, value=v) for k, v in values.items()]


def param(node: Node, name: str, default: Any = None, required: bool = False) -> Any:
    """Declare and read a parameter. Required ones have no default: unset is a ConfigError."""
    if required:
        kind = {str: Parameter.Type.STRING, float: Parameter.Type.DOUBLE, int: Parameter.Type.INTEGER, bool: Parameter.Type.BOOL}
        node.declare_parameter(name, kind[default] if isinstance(default, type) else Parameter.Type.STRING)
        value = node.get_parameter(name).value
        if value is None or value == "":
            raise ConfigError(None, f"{node.get_name()}.{name}", "required parameter is not set")
        return value
    if not node.has_parameter(name):
        node.declare_parameter(name, default)
    return node.get_parameter(name).value


def now_s(node: Node) -> float:
    return node.get_clock().now().nanoseconds * 1e-9


class Diagnostics:
    """Publishes one DiagnosticStatus for a node on `diagnostics`."""

    def __init__(self, node: Node, name: str | None = None):
        self.node = node
        self.name = name or node.get_fully_qualified_name()
        self.pub = node.create_publisher(DiagnosticArray, "diagnostics", qos.DIAGNOSTICS)

    def publish(self, level: str, message: str, values: dict[str, Any]) -> None:
        msg = DiagnosticArray()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        status = DiagnosticStatus(level=LEVELS[level], name=self.name, message=message, hardware_id=self.node.get_name())
        status.values = [KeyValue(key=str(k), value=_fmt(v)) for k, v in values.items()]
        msg.status = [status]
        self.pub.publish(msg)

    def report(self, report: Report) -> None:
        """Publish what lucid_ros.diagnostics decided (level, operator message, values)."""
        self.publish(report.level, report.message, report.values)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def decode_command(node: Node, msg, names: list[str]):
    """A joint_commands message as a JointCommand in canonical order, or None (logged) if its
    layout is wrong. Every backend node obeys commands through this one door."""
    from lucid_ros.nodes import convert

    try:
        return convert.joint_command(msg, names)
    except convert.MessageError as exc:
        node.get_logger().error(f"joint_commands refused: {exc}", throttle_duration_sec=1.0)
        return None
