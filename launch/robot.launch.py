"""ros2 launch lucid_ros robot.launch.py robot:=go1 backend:=go1_udp policy:=go1_walk

The graph against hardware: the backend driver replaces the sim bridge; proprioception, the
policy runner and the safety supervisor are the same nodes with the same parameter file. The
supervisor never sequences itself on a robot: an operator calls safety/stand and safety/run.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

BACKENDS = {"go1_udp": "go1_udp_driver", "unitree_sdk2": "unitree_sdk2_driver", "mini_cheetah_lcm": "mini_cheetah_lcm_driver"}


def _nodes(context):
    share = get_package_share_directory("lucid_ros")
    robot = LaunchConfiguration("robot").perform(context)
    backend = LaunchConfiguration("backend").perform(context)
    if backend not in BACKENDS:
        raise RuntimeError(f"backend:={backend!r} is not one of {sorted(BACKENDS)}")
    policy = LaunchConfiguration("policy").perform(context) or f"{robot}_walk"
    params = os.path.join(share, "config", "params", f"{robot}.yaml")
    common = {"robot": robot}
    return [
        Node(package="lucid_ros", executable=BACKENDS[backend], name="robot_driver", output="screen", parameters=[params, common]),
        Node(package="lucid_ros", executable="proprioception", name="proprioception", output="screen", parameters=[params, common]),
        Node(package="lucid_ros", executable="policy_runner", name="policy_runner", output="screen", parameters=[params, common, {"policy": policy}]),
        Node(package="lucid_ros", executable="safety_supervisor", name="safety_supervisor", output="screen",
             parameters=[params, common, {"auto_sequence": False}]),
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="go1"),
        DeclareLaunchArgument("backend", description="go1_udp | unitree_sdk2 | mini_cheetah_lcm"),
        DeclareLaunchArgument("policy", default_value=""),
        OpaqueFunction(function=_nodes),
    ])
