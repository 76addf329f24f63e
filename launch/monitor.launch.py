"""ros2 launch lucid_ros monitor.launch.py [robot:=go1] [namespace:=] [use_sim_time:=false] [rviz:=true]

The operator's view, on a laptop next to a robot or next to `lucid-ros sim` on another machine
(same ROS_DOMAIN_ID; the sim side needs ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET, see
docs/operator.md): robot_state_publisher turns `joint_states` and the package's URDF into TF,
the monitor node adds the odom -> base transform and the markers, rviz2 opens config/lucid.rviz.
robot_state_publisher serves `robot_description`, so the monitor does not publish it again.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    share = get_package_share_directory("lucid_ros")
    robot = LaunchConfiguration("robot").perform(context)
    namespace = LaunchConfiguration("namespace").perform(context)
    sim_time = {"use_sim_time": LaunchConfiguration("use_sim_time").perform(context).lower() == "true"}
    urdf = os.path.join(share, "urdf", f"{robot}.urdf")
    if not os.path.isfile(urdf):
        raise RuntimeError(f"robot:={robot!r}: no URDF at {urdf}")
    with open(urdf) as f:
        description = f.read()
    nodes = [
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            name="robot_state_publisher",
            namespace=namespace,
            output="screen",
            parameters=[{"robot_description": description}, sim_time],
        ),
        Node(
            package="lucid_ros",
            executable="monitor",
            name="monitor",
            namespace=namespace,
            output="screen",
            parameters=[{"robot": robot, "publish_description": False}, sim_time],
        ),
    ]
    if LaunchConfiguration("rviz").perform(context).lower() == "true":
        nodes.append(
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                namespace=namespace,
                output="screen",
                arguments=["-d", os.path.join(share, "config", "lucid.rviz")],
                parameters=[sim_time],
            )
        )
    return nodes


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="go1", description="robot name: urdf/<robot>.urdf from this package"),
        DeclareLaunchArgument("namespace", default_value="", description="the robot's namespace, if its graph runs in one"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="true when watching `lucid-ros sim` (it publishes /clock)"),
        DeclareLaunchArgument("rviz", default_value="true", description="false: only the TF and marker publishers (e.g. for Foxglove)"),
        OpaqueFunction(function=_nodes),
    ])  # fmt: skip
