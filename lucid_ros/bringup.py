"""The bring-up plan: which nodes a graph runs, in which process, with which given parameters.

One rclpy-free description that `RobotGraph` (`lucid-ros robot`), `launch/robot.launch.py` and
`launch/sim.launch.py` all read, so they cannot drift apart again (issue 21: the robot graph and
every launch file had left out the camera node, and a vision policy on a robot only logged
"waiting for the first camera images").

Why processes matter: camera frames and the policy's image tensors pass through the in-process
vision bus (lucid_ros.vision.bus), never over DDS. So whenever the policy reads images, the camera
node shares one process (and one executor) with the policy runner (executable `vision_policy`),
and in sim with the sim bridge too, whose renderer is the frames' producer. And the safety
supervisor always shares the backend's process (sim_bridge or robot_driver): it hands each command
over in-process (lucid_ros.safety.handoff) and the backend obeys nothing else, so no other process
on the robot's network can command it (issue 18; `joint_commands` on DDS is a mirror). Every other
node may run in a process of its own. The values here are what the launcher gives; the parameter
files (`params_files`: config/params/defaults.yaml, then config/params/<robot>.yaml where a robot
overrides something, then a user's file) are merged underneath by whoever starts the nodes, each
the same way (`node_values`): launch_ros, the composed executable and the in-process graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.fields import read_yaml

COMPOSED = "vision_policy"  # console_scripts entry: several nodes of the plan in one process (lucid_ros.nodes.vision_policy)
BACKENDS = ("sim_bridge", "robot_driver")  # the nodes the safety supervisor commands, always in their process


@dataclass(frozen=True)
class NodePlan:
    name: str  # node name, also its executable when it runs alone
    params: dict[str, Any]  # given values; the robot's parameter file goes underneath


@dataclass(frozen=True)
class ProcessPlan:
    executable: str  # a node's own executable, or COMPOSED for several nodes sharing one executor
    nodes: tuple[NodePlan, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)


def default_policy(robot: str) -> str:
    """The shipped walking policy for the robot, else its stand-still policy."""
    for name in (f"{robot}_walk", f"{robot}_stand"):
        if (paths.config_dir() / "policies" / f"{name}.yaml").is_file():
            return name
    raise ConfigError(paths.config_dir() / "policies", None, f"no shipped policy for robot '{robot}'; pass --policy")


def resolve_policy(name_or_path: str | Path) -> Path:
    """A shipped policy by name ('go1_walk': config/policies/go1_walk.yaml) or a spec's path."""
    return paths.resolve("policies", name_or_path)


def params_files(robot: str, extra: str | Path | None = None) -> list[Path]:
    """The parameter files of a graph, lowest first: every node's defaults, the robot's overrides
    (only where a robot has any), then the user's file (--params-file: only what it changes)."""
    d = paths.config_dir() / "params"
    out = [d / "defaults.yaml"]
    if (d / f"{robot}.yaml").is_file():
        out.append(d / f"{robot}.yaml")
    if extra:
        p = Path(extra).expanduser()
        if not p.is_file():
            raise ConfigError(p, None, "parameter file not found")
        out.append(p)
    return out


def read_params(files: list[str | Path]) -> dict[str, dict[str, Any]]:
    """ROS parameter files ({node: {ros__parameters: {...}}}) merged in order, keyed by node name."""
    out: dict[str, dict[str, Any]] = {}
    for path in map(Path, files):
        raw = read_yaml(path, "parameter file") or {}
        if not isinstance(raw, dict):
            raise ConfigError(path, None, "expected a mapping of node names")
        for node, body in raw.items():
            if not isinstance(body, dict) or not isinstance(body.get("ros__parameters", {}), dict):
                raise ConfigError(path, str(node), "expected a mapping with 'ros__parameters'")
            out.setdefault(str(node), {}).update(body.get("ros__parameters") or {})
    return out


def node_values(plan: list[ProcessPlan], robot: str, files: list[str | Path], overrides: dict[str, dict[str, Any]] | None = None
                ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Each node's parameter values as it gets them: the files' (merged in order), the robot, the plan's
    given values, then `overrides` (the in-process graphs' callers). launch_ros (a file list then a dict)
    and the composed executable merge in this same order."""
    params = read_params(files)
    out = {}
    for proc in plan:
        for n in proc.nodes:
            out[n.name] = {**params.get(n.name, {}), "robot": robot, **n.params, **(overrides or {}).get(n.name, {})}
    return out


def policy_reads_images(policy: str | Path | None) -> bool:
    """Does the spec declare image inputs? (Read loosely: the runner reports a malformed spec.)"""
    if not policy:
        return False
    try:
        raw = read_yaml(paths.resolve("policies", policy), "policy spec") or {}
        return bool((raw.get("inputs") or {}).get("images"))
    except (AttributeError, ConfigError):
        return False


def camera_params(policy: str, source: str, serial: str = "", camera: str = "auto") -> dict[str, Any]:
    """The camera node's given values: which mount ('auto': the one the policy's spec names), which
    source; on a robot the RealSense by serial (empty = the only one connected; several connected is
    refused, naming their serials)."""
    out: dict[str, Any] = {"policy": policy, "camera": camera, "source": source}
    if source == "realsense" and serial:
        out["realsense.serial"] = str(serial)
    return out


def robot_plan(robot: str, backend: str, policy: str, *, arm: bool = False, auto: bool = False, driver_options: dict[str, Any] | None = None,
               camera_serial: str = "", camera_source: str = "realsense", vision: bool | None = None) -> list[ProcessPlan]:  # fmt: skip
    """The graph against hardware: the driver and the safety supervisor in one process (the command
    hand-off). A vision policy adds the camera node (the RealSense source by serial) in the policy
    runner's process, and turns on the supervisor's camera watch."""
    vision = policy_reads_images(policy) if vision is None else vision
    common = {"robot": robot}
    driver = NodePlan("robot_driver", {**common, "backend": backend, "arm": bool(arm), **(driver_options or {})})
    proprio = NodePlan("proprioception", dict(common))
    # on a robot, cmd_vel and stand/run/reset come from the operator lease's holder only (docs/security.md)
    runner = NodePlan("policy_runner", {**common, "policy": str(policy), "require_lease": True})
    supervisor = NodePlan("safety_supervisor", {**common, "auto_sequence": bool(auto), "require_camera": bool(vision), "require_lease": True})
    plan = [ProcessPlan(COMPOSED, (driver, supervisor)), ProcessPlan("proprioception", (proprio,))]
    if vision:
        camera = NodePlan("camera", {**common, **camera_params(str(policy), camera_source, camera_serial)})
        plan.append(ProcessPlan(COMPOSED, (camera, runner)))
    else:
        plan.append(ProcessPlan("policy_runner", (runner,)))
    return plan


def sim_plan(robot: str, policy: str, *, course: str = "flat", seed: int = 0, realtime: bool = True, auto: bool = False,
             start_pose: str = "default", vision: bool | None = None) -> list[ProcessPlan]:  # fmt: skip
    """The sim graph as `ros2 launch` starts it: the sim bridge and the safety supervisor in one
    process (the command hand-off). A vision policy adds the camera node and the policy runner to
    that process: the frames never leave the renderer's process."""
    vision = policy_reads_images(policy) if vision is None else vision
    common = {"robot": robot}
    sim_time = {**common, "use_sim_time": True}
    bridge = NodePlan("sim_bridge", {**common, "course": course, "seed": int(seed), "realtime": bool(realtime), "cameras": bool(vision),
                                     "start_pose": start_pose})  # fmt: skip
    proprio = NodePlan("proprioception", dict(sim_time))
    # privileged inputs (a teacher's terrain heights) exist in sim only: the sim runner may take them
    runner = NodePlan("policy_runner", {**sim_time, "policy": str(policy), "allow_privileged": True})
    supervisor = NodePlan("safety_supervisor", {**sim_time, "auto_sequence": bool(auto), "auto_lower_hoist": True, "require_camera": bool(vision)})
    if vision:
        camera = NodePlan("camera", {**sim_time, **camera_params(str(policy), "sim")})
        return [ProcessPlan(COMPOSED, (bridge, camera, runner, supervisor)), ProcessPlan("proprioception", (proprio,))]
    return [ProcessPlan(COMPOSED, (bridge, supervisor)), ProcessPlan("proprioception", (proprio,)), ProcessPlan("policy_runner", (runner,))]


def process_of(plan: list[ProcessPlan], node: str) -> ProcessPlan:
    """The process that runs `node` (KeyError naming it when the plan has no such node)."""
    for proc in plan:
        if node in proc.names:
            return proc
    raise KeyError(f"no node '{node}' in the plan ({[p.names for p in plan]})")


def launch_entries(plan: list[ProcessPlan], robot: str, files: list[str | Path]) -> list[dict[str, Any]]:
    """Keyword arguments of one launch_ros `Node` per process (launch files add package and output).

    A lone node runs its own executable with the parameter files under its given values; several
    nodes run as COMPOSED, which merges the same files per node itself (a `parameters=` dict in
    launch_ros would apply to every node of the process alike). Both as `node_values` does."""
    import json

    if isinstance(files, (str, Path)):
        raise TypeError("launch_entries takes a list of parameter files (params_files), lowest first")
    files = [str(f) for f in files]
    out = []
    for proc in plan:
        if len(proc.nodes) == 1:
            n = proc.nodes[0]
            out.append({"executable": n.name, "name": n.name, "parameters": [*files, n.params]})
        else:
            nodes = json.dumps({n.name: n.params for n in proc.nodes})
            out.append({"executable": COMPOSED, "arguments": ["--robot", robot, *[a for f in files for a in ("--params-file", f)], "--nodes", nodes]})
    return out
