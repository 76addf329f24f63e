"""ros2 launch lucid_ros robot.launch.py robot:=go1 backend:=go1_udp [policy:=go1_walk] [arm:=true]

The graph against hardware: the robot_driver node (one executable for every backend, chosen by
its `backend` parameter) replaces the sim bridge; proprioception, the policy runner and the
safety supervisor are the same nodes with the same parameter file. The driver is a dry-run
(sends nothing) unless arm:=true. The supervisor never sequences itself on a robot: an operator
calls safety/stand and safety/run (or uses the remote: L2+Y stand, L2+X run, L2+B e-stop).

Backend options (empty = the driver's default): host, port (go1_udp: 192.168.123.10:8007),
interface and domain_id (unitree_sdk2: the NIC on the robot's network, domain 0), lcm_url
(mini_cheetah_lcm).

Nodes and processes come from lucid_ros.bringup.robot_plan (as `lucid-ros robot`): the driver and
the safety supervisor share one process (executable vision_policy), the supervisor handing each
command to the driver in-process (joint_commands on DDS is only its mirror); a policy with image
inputs adds the camera node (RealSense source, camera_serial:=...) in the policy runner's process
(vision_policy again: frames never cross DDS) and the supervisor's camera watch.

Who can reach the graph (docs/security.md): DDS discovery stays on this host
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, as `lucid-ros robot`) unless expose:=true;
enclave:=/lucid_ros/robot runs every node in that SROS2 enclave (with ROS_SECURITY_KEYSTORE,
ROS_SECURITY_ENABLE=true and ROS_SECURITY_STRATEGY=Enforce exported).
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from lucid_ros.bringup import default_policy, launch_entries, params_files, robot_plan
from lucid_ros.discovery import robot_discovery
from lucid_ros.hardware import BACKENDS

OPTIONS = {"host": str, "port": int, "interface": str, "domain_id": int, "lcm_url": str}


def _nodes(context):
    robot = LaunchConfiguration("robot").perform(context)
    backend = LaunchConfiguration("backend").perform(context)
    if backend not in BACKENDS:
        raise RuntimeError(f"backend:={backend!r} is not one of {list(BACKENDS)}")
    policy = LaunchConfiguration("policy").perform(context)
    policy = policy or default_policy(robot)  # the shipped walking policy, else the stand policy
    arm = LaunchConfiguration("arm").perform(context).lower() in ("true", "1", "yes")
    params = [str(f) for f in params_files(robot)]
    driver = {}
    for name, kind in OPTIONS.items():
        value = LaunchConfiguration(name).perform(context)
        if value:
            driver[name] = kind(value)
    serial = LaunchConfiguration("camera_serial").perform(context)
    plan = robot_plan(robot, backend, policy, arm=arm, auto=False, driver_options=driver, camera_serial=serial)
    expose = LaunchConfiguration("expose").perform(context).lower() in ("true", "1", "yes")
    env, line = robot_discovery(expose, {**os.environ, **context.environment})
    enclave = LaunchConfiguration("enclave").perform(context)
    security = {"ros_arguments": ["--enclave", enclave]} if enclave else {}
    actions = [LogInfo(msg=line), *[SetEnvironmentVariable(k, v) for k, v in env.items()]]
    return actions + [Node(package="lucid_ros", output="screen", **entry, **security) for entry in launch_entries(plan, robot, params)]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("robot", default_value="go1"),
            DeclareLaunchArgument("backend", description=" | ".join(BACKENDS)),
            DeclareLaunchArgument("policy", default_value=""),
            DeclareLaunchArgument("arm", default_value="false", description="true: send commands (default: dry-run)"),
            *[DeclareLaunchArgument(name, default_value="") for name in OPTIONS],
            DeclareLaunchArgument("camera_serial", default_value="", description="vision policies: the RealSense's serial (empty: the only one)"),
            DeclareLaunchArgument("expose", default_value="false", description="true: let the subnet discover the graph (default: this host only)"),
            DeclareLaunchArgument("enclave", default_value="", description="SROS2 enclave for every node, e.g. /lucid_ros/robot (docs/security.md)"),
            OpaqueFunction(function=_nodes),
        ]
    )
