"""Shared node plumbing: parameters without silent defaults, diagnostics, time."""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.parameter import Parameter

from lucid_ros.diagnostics import Report
from lucid_ros.errors import ConfigError
from lucid_ros.nodes import qos

LEVELS = {"OK": DiagnosticStatus.OK, "WARN": DiagnosticStatus.WARN, "ERROR": DiagnosticStatus.ERROR, "STALE": DiagnosticStatus.STALE}


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
