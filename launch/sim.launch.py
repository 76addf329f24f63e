"""ros2 launch lucid_ros sim.launch.py robot:=go1 policy:=go1_walk course:=flat

The sim graph as separate processes, with the same nodes and parameter file `lucid-ros sim` uses
in one process (config/params/<robot>.yaml). The sim bridge publishes /clock; every other node
runs on sim time.
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
    policy = LaunchConfiguration("policy").perform(context)
    if not policy:
        policy = f"{robot}_walk" if os.path.exists(os.path.join(share, "config", "policies", f"{robot}_walk.yaml")) else f"{robot}_stand"
    params = os.path.join(share, "config", "params", f"{robot}.yaml")
    common = {"robot": robot}
    sim_time = {"use_sim_time": True}
    auto = LaunchConfiguration("auto").perform(context).lower() == "true"
    return [
        Node(package="lucid_ros", executable="sim_bridge", name="sim_bridge", output="screen",
             parameters=[params, common, {"course": LaunchConfiguration("course").perform(context),
                                          "seed": int(LaunchConfiguration("seed").perform(context)),
                                          "realtime": LaunchConfiguration("realtime").perform(context).lower() == "true"}]),
        Node(package="lucid_ros", executable="proprioception", name="proprioception", output="screen", parameters=[params, common, sim_time]),
        Node(package="lucid_ros", executable="policy_runner", name="policy_runner", output="screen",
             parameters=[params, common, sim_time, {"policy": policy}]),
        Node(package="lucid_ros", executable="safety_supervisor", name="safety_supervisor", output="screen",
             parameters=[params, common, sim_time, {"auto_sequence": auto, "auto_lower_hoist": True}]),
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="go1"),
        DeclareLaunchArgument("policy", default_value="", description="policy name or spec path (default: the robot's shipped policy)"),
        DeclareLaunchArgument("course", default_value="flat"),
        DeclareLaunchArgument("seed", default_value="0"),
        DeclareLaunchArgument("realtime", default_value="true", description="launch runs are watched by people: pace to the wall clock"),
        DeclareLaunchArgument("auto", default_value="false", description="walk PASSIVE -> STANDING -> RUNNING by itself"),
        OpaqueFunction(function=_nodes),
    ])
