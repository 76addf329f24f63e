"""ros2 launch lucid_ros robot.launch.py robot:=go1 backend:=go1_udp [policy:=go1_walk] [arm:=true]

The graph against hardware: the robot_driver node (one executable for every backend, chosen by
its `backend` parameter) replaces the sim bridge; proprioception, the policy runner and the
safety supervisor are the same nodes with the same parameter file. The driver is a dry-run
(sends nothing) unless arm:=true. The supervisor never sequences itself on a robot: an operator
calls safety/stand and safety/run (or uses the remote: L2+Y stand, L2+X run, L2+B e-stop).

Backend options (empty = the driver's default): host, port (go1_udp: 192.168.123.10:8007),
interface and domain_id (unitree_sdk2: the NIC on the robot's network, domain 0), lcm_url
(mini_cheetah_lcm).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

BACKENDS = ("go1_udp", "unitree_sdk2", "mini_cheetah_lcm")
OPTIONS = {"host": str, "port": int, "interface": str, "domain_id": int, "lcm_url": str}


def _nodes(context):
    share = get_package_share_directory("lucid_ros")
    robot = LaunchConfiguration("robot").perform(context)
    backend = LaunchConfiguration("backend").perform(context)
    if backend not in BACKENDS:
        raise RuntimeError(f"backend:={backend!r} is not one of {list(BACKENDS)}")
    policy = LaunchConfiguration("policy").perform(context)
    if not policy:  # the shipped walking policy, else the stand policy (H1, G1 ship no walking policy yet)
        policy = f"{robot}_walk" if os.path.exists(os.path.join(share, "config", "policies", f"{robot}_walk.yaml")) else f"{robot}_stand"
    arm = LaunchConfiguration("arm").perform(context).lower() in ("true", "1", "yes")
    params = os.path.join(share, "config", "params", f"{robot}.yaml")
    common = {"robot": robot}
    driver = {"backend": backend, "arm": arm}
    for name, kind in OPTIONS.items():
        value = LaunchConfiguration(name).perform(context)
        if value:
            driver[name] = kind(value)
    return [
        Node(package="lucid_ros", executable="robot_driver", name="robot_driver", output="screen", parameters=[params, common, driver]),
        Node(package="lucid_ros", executable="proprioception", name="proprioception", output="screen", parameters=[params, common]),
        Node(package="lucid_ros", executable="policy_runner", name="policy_runner", output="screen", parameters=[params, common, {"policy": policy}]),
        Node(
            package="lucid_ros",
            executable="safety_supervisor",
            name="safety_supervisor",
            output="screen",
            parameters=[params, common, {"auto_sequence": False}],
        ),
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("robot", default_value="go1"),
            DeclareLaunchArgument("backend", description="go1_udp | unitree_sdk2 | mini_cheetah_lcm"),
            DeclareLaunchArgument("policy", default_value=""),
            DeclareLaunchArgument("arm", default_value="false", description="true: send commands (default: dry-run)"),
            *[DeclareLaunchArgument(name, default_value="") for name in OPTIONS],
            OpaqueFunction(function=_nodes),
        ]
    )
