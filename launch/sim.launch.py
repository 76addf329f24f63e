"""ros2 launch lucid_ros sim.launch.py robot:=go1 policy:=go1_walk course:=flat

The sim graph as separate processes, with the same nodes and parameter files `lucid-ros sim` uses
in one process (config/params/defaults.yaml, then the robot's overrides if any). The sim bridge
publishes /clock; every other node runs on sim time. Nodes and processes come from lucid_ros.bringup.sim_plan: the sim bridge and the
safety supervisor share one process (vision_policy: the supervisor hands each command over
in-process, joint_commands on DDS is only its mirror); a policy with image inputs adds the camera
and the policy runner to that process.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from lucid_ros.bringup import default_policy, launch_entries, params_files, sim_plan


def _nodes(context):
    robot = LaunchConfiguration("robot").perform(context)
    policy = LaunchConfiguration("policy").perform(context)
    policy = policy or default_policy(robot)  # the shipped walking policy, else the stand policy
    params = [str(f) for f in params_files(robot)]
    plan = sim_plan(
        robot, policy, course=LaunchConfiguration("course").perform(context), seed=int(LaunchConfiguration("seed").perform(context)),
        realtime=LaunchConfiguration("realtime").perform(context).lower() == "true",
        auto=LaunchConfiguration("auto").perform(context).lower() == "true",
        start_pose=LaunchConfiguration("start_pose").perform(context),
    )  # fmt: skip
    return [Node(package="lucid_ros", output="screen", **entry) for entry in launch_entries(plan, robot, params)]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("robot", default_value="go1"),
            DeclareLaunchArgument("policy", default_value="", description="policy name or spec path (default: the robot's shipped policy)"),
            DeclareLaunchArgument("course", default_value="flat"),
            DeclareLaunchArgument("seed", default_value="0"),
            DeclareLaunchArgument("realtime", default_value="true", description="launch runs are watched by people: pace to the wall clock"),
            DeclareLaunchArgument("auto", default_value="false", description="walk PASSIVE -> STANDING -> RUNNING by itself"),
            DeclareLaunchArgument("start_pose", default_value="default", description="default | lying (quadrupeds: as a real one starts)"),
            OpaqueFunction(function=_nodes),
        ]
    )
