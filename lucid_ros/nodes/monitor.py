"""monitor: the operator laptop's view of a robot (or of `lucid-ros sim` on another machine).

Subscribes to what the graph publishes anyway (cmd_vel, odom, safety/state, and
policy/height_scan once a policy publishes it) and publishes, for rviz:
- `monitor/markers` (visualization_msgs/MarkerArray): commanded and measured velocity arrows,
  the safety state as coloured text, the policy's terrain samples (lucid_ros.operator.markers);
- `robot_description` (std_msgs/String, transient-local): the robot's URDF from this package,
  so rviz's RobotModel works with no other setup (`publish_description:=false` when a
  robot_state_publisher already serves it);
- the odom -> base transform on `/tf`, when tf2_msgs is importable (it is on every ROS 2 install,
  but there is no wheel of it: said once in the log).
It holds no reference to any other node: everything arrives over DDS.
"""

from __future__ import annotations

import time

from geometry_msgs.msg import Point, Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import ColorRGBA, String
from visualization_msgs.msg import Marker, MarkerArray

from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.common import GraphNode, param
from lucid_ros.operator import cloud
from lucid_ros.operator.markers import MarkerData, OperatorView
from lucid_ros.robots import load_robot

KINDS = {"arrow": Marker.ARROW, "text": Marker.TEXT_VIEW_FACING, "spheres": Marker.SPHERE_LIST}


def marker_msg(m: MarkerData, frame: str) -> Marker:
    """Stamp zero: rviz draws it with the newest transform (sim time and wall time both work)."""
    out = Marker(ns=m.ns, id=m.id)
    out.header.frame_id = frame
    if m.kind == "delete":
        out.action = Marker.DELETE
        return out
    out.type, out.action = KINDS[m.kind], Marker.ADD
    out.pose.orientation.w = 1.0
    out.scale.x, out.scale.y, out.scale.z = (float(v) for v in m.scale)
    out.color = ColorRGBA(r=float(m.color[0]), g=float(m.color[1]), b=float(m.color[2]), a=float(m.color[3]))
    out.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in m.points]
    if m.colors is not None:
        out.colors = [ColorRGBA(r=float(c[0]), g=float(c[1]), b=float(c[2]), a=float(c[3])) for c in m.colors]
    if m.kind == "text":
        out.pose.position = Point(x=m.position[0], y=m.position[1], z=m.position[2])
        out.text = m.text
    out.lifetime.sec = 1  # a dead monitor's markers vanish instead of lying
    return out


def odom_transform(msg: Odometry) -> dict:
    """The odom -> base transform an Odometry message implies (frames from its header), as data."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    return {"stamp": msg.header.stamp, "parent": msg.header.frame_id, "child": msg.child_frame_id,
            "translation": (p.x, p.y, p.z), "rotation_xyzw": (q.x, q.y, q.z, q.w)}  # fmt: skip


class MonitorNode(GraphNode):
    def __init__(self, **kwargs):
        super().__init__("monitor", **kwargs)
        self.robot = load_robot(param(self, "robot", "go1"))
        self.frame = str(param(self, "odom_frame", "odom"))
        rate = float(param(self, "rate", 10.0))
        self.view = OperatorView(cmd_timeout=float(param(self, "cmd_vel_timeout", 0.5)), m_per_mps=float(param(self, "arrow_m_per_mps", 1.0)))
        self.marker_pub = self.create_publisher(MarkerArray, "monitor/markers", qos.STATE)
        if bool(param(self, "publish_description", True)):
            self.description_pub = self.create_publisher(String, "robot_description", qos.LATCHED)
            self.description_pub.publish(String(data=self.robot.urdf_path.read_text()))
        self.tf_pub = self._tf_publisher() if bool(param(self, "publish_tf", True)) else None
        self.create_subscription(Twist, "cmd_vel", self._on_cmd, qos.STATE)
        self.create_subscription(Odometry, "odom", self._on_odom, qos.STATE)
        self.create_subscription(String, "safety/state", lambda m: self.view.on_state(m.data), qos.LATCHED)
        self.create_subscription(PointCloud2, "policy/height_scan", self._on_heights, qos.STATE)
        self.create_timer(1.0 / rate, self._publish)
        self.get_logger().info(f"monitor for '{self.robot.name}': markers in '{self.frame}' at {rate:g} Hz, URDF {self.robot.urdf_path.name}")

    def _tf_publisher(self):
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError:
            self.get_logger().warning("tf2_msgs is not installed (no PyPI wheel): no odom -> base transform on /tf; "
                                      "rviz's RobotModel needs it (every ROS 2 install has tf2_msgs)")  # fmt: skip
            return None
        return self.create_publisher(TFMessage, "/tf", qos.STATE)

    def _on_cmd(self, msg: Twist) -> None:
        self.view.on_cmd(time.monotonic(), msg.linear.x, msg.linear.y, msg.angular.z)

    def _on_odom(self, msg: Odometry) -> None:
        a = convert.odometry_arrays(msg)
        self.view.on_odom(time.monotonic(), a["pos"], a["quat"], a["lin_vel"], a["ang_vel"])
        if self.tf_pub is not None:
            from geometry_msgs.msg import TransformStamped
            from tf2_msgs.msg import TFMessage

            t = odom_transform(msg)
            ts = TransformStamped()
            ts.header.stamp, ts.header.frame_id, ts.child_frame_id = t["stamp"], t["parent"], t["child"]
            ts.transform.translation.x, ts.transform.translation.y, ts.transform.translation.z = t["translation"]
            r = ts.transform.rotation
            r.x, r.y, r.z, r.w = t["rotation_xyzw"]
            self.tf_pub.publish(TFMessage(transforms=[ts]))

    def _on_heights(self, msg: PointCloud2) -> None:
        try:
            fields = [(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
            pts = cloud.xyz(fields, bytes(msg.data), msg.width, msg.height, msg.point_step, msg.row_step, msg.is_bigendian)
        except cloud.CloudError as exc:
            self.get_logger().error(f"policy/height_scan refused: {exc}", throttle_duration_sec=5.0)
            return
        self.view.on_heights(time.monotonic(), pts)

    def _publish(self) -> None:
        markers = self.view.markers(time.monotonic())
        self.marker_pub.publish(MarkerArray(markers=[marker_msg(m, self.frame) for m in markers]))


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(MonitorNode, args)


if __name__ == "__main__":
    main()
