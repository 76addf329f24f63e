"""`vision_policy`: several nodes of the bring-up plan in one process, one executor.

The launch files start this executable wherever the plan (lucid_ros.bringup) puts several nodes
in one process: the safety supervisor beside its backend (sim_bridge or robot_driver), which takes
the supervisor's commands through the in-process hand-off (lucid_ros.safety.handoff), and the
camera node beside the policy runner (and in sim the sim bridge), so camera frames and image
tensors pass through the process's vision bus, never over DDS. Arguments:

    vision_policy --robot go1 [--params-file FILE ...] --nodes '{"camera": {...}, "policy_runner": {...}}'

`--nodes` maps node name -> given parameter values (JSON, in start order); the parameter files
(each --params-file in order; none given: lucid_ros.bringup.params_files for the robot) are merged
underneath per node by lucid_ros.bringup.node_values, as the in-process graphs do.
"""

from __future__ import annotations

import argparse
import json
import sys

import rclpy

from lucid_ros.nodes.run import spin_nodes


def node_classes() -> dict[str, type]:
    from lucid_ros.nodes.camera import CameraNode
    from lucid_ros.nodes.policy_runner import PolicyRunnerNode
    from lucid_ros.nodes.proprioception import ProprioceptionNode
    from lucid_ros.nodes.robot_driver import RobotDriverNode
    from lucid_ros.nodes.safety_supervisor import SafetySupervisorNode
    from lucid_ros.nodes.sim_bridge import SimBridgeNode

    return {"sim_bridge": SimBridgeNode, "robot_driver": RobotDriverNode, "proprioception": ProprioceptionNode,
            "camera": CameraNode, "policy_runner": PolicyRunnerNode, "safety_supervisor": SafetySupervisorNode}  # fmt: skip


WORKERS = ("sim_bridge", "robot_driver")  # nodes that own a thread (start()/stop())


def composed_values(argv: list[str]) -> dict[str, dict]:
    """The nodes this process runs (in start order) and each one's values, from the command line."""
    from lucid_ros.bringup import COMPOSED, NodePlan, ProcessPlan, node_values, params_files

    p = argparse.ArgumentParser(prog="vision_policy", description=__doc__.split("\n\n")[0])
    p.add_argument("--robot", required=True)
    p.add_argument("--params-file", action="append", default=[], help="merged in order (repeat); none: the robot's (bringup.params_files)")
    p.add_argument("--nodes", required=True, help="JSON: {node name: {parameter: value}}")
    a = p.parse_args(argv)
    given = json.loads(a.nodes)
    unknown = sorted(set(given) - set(node_classes()))
    if unknown:
        print(f"vision_policy: unknown node(s) {unknown}; known: {sorted(node_classes())}", file=sys.stderr)
        sys.exit(2)
    plan = [ProcessPlan(COMPOSED, tuple(NodePlan(name, values) for name, values in given.items()))]
    return node_values(plan, a.robot, a.params_file or params_files(a.robot))


def main(args=None) -> None:
    from lucid_ros.nodes.common import parameters

    values = composed_values(rclpy.utilities.remove_ros_args(sys.argv if args is None else args)[1:])
    classes = node_classes()

    def build(add) -> None:
        for name, v in values.items():
            add(classes[name](parameter_overrides=parameters(v)), name in WORKERS)

    spin_nodes("vision_policy", build, args)


if __name__ == "__main__":
    main()
