"""The launch files start what the in-process graphs run (issue 19): for every shipped robot, backend
and policy kind, the nodes, their processes and every parameter value that `ros2 launch` gives
equal what `lucid-ros sim` (SimGraph) and `lucid-ros robot` (RobotGraph) build.

No `launch`/`launch_ros` wheels exist for pip, so the launch files run here against stand-ins of
the few launch classes they use (argument declarations, LaunchConfiguration.perform, an
OpaqueFunction, launch_ros' Node recording its keyword arguments): their own code runs, from the
launch arguments to the Node entries. Each entry is then resolved as it would be on a robot: a lone
node gets its parameter files in order and then its dict (launch_ros' rule); a composed process
parses its own command line (lucid_ros.nodes.vision_policy.composed_values, what its main runs).
"""

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from lucid_ros.bringup import COMPOSED, default_policy, read_params
from lucid_ros.hardware import BACKENDS

pytest.importorskip("rclpy")

ROOT = Path(__file__).resolve().parent.parent
ROBOTS = ("go1", "go2", "mini_cheetah", "h1", "g1")


def _stub_launch(monkeypatch) -> list[dict]:
    """Stand-ins for launch / launch_ros; returns the list every Node(...) appends its kwargs to."""
    created: list[dict] = []

    class DeclareLaunchArgument:
        def __init__(self, name, default_value=None, description=""):
            self.name, self.default = name, default_value

    class OpaqueFunction:
        def __init__(self, function):
            self.function = function

    class LaunchConfiguration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            if self.name not in context.launch_configurations:
                raise KeyError(f"launch argument {self.name!r} was not declared")
            return context.launch_configurations[self.name]

    class Action:
        def __init__(self, *a, **kw):
            self.args, self.kwargs = a, kw

    def node(**kwargs):
        created.append(kwargs)
        return kwargs

    mods = {
        "launch": types.ModuleType("launch"),
        "launch.actions": types.ModuleType("launch.actions"),
        "launch.substitutions": types.ModuleType("launch.substitutions"),
        "launch_ros": types.ModuleType("launch_ros"),
        "launch_ros.actions": types.ModuleType("launch_ros.actions"),
    }
    mods["launch"].LaunchDescription = list
    mods["launch.actions"].__dict__.update(DeclareLaunchArgument=DeclareLaunchArgument, OpaqueFunction=OpaqueFunction, LogInfo=Action,
                                           SetEnvironmentVariable=Action)  # fmt: skip
    mods["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    mods["launch_ros.actions"].Node = node
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return created


def launch(monkeypatch, file: str, **args) -> dict[str, tuple[int, dict]]:
    """Run launch/<file> with `args` (name:=value); {node name: (process index, its parameter values)}."""
    from lucid_ros.nodes.vision_policy import composed_values

    created = _stub_launch(monkeypatch)
    spec = importlib.util.spec_from_file_location(f"launch_file_{file.replace('.', '_')}", ROOT / "launch" / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    declared = {a.name: a.default for a in description if hasattr(a, "default")}
    unknown = set(args) - set(declared)
    assert not unknown, f"{file} declares no {unknown}"
    context = types.SimpleNamespace(launch_configurations={**declared, **{k: str(v) for k, v in args.items()}}, environment={})
    for action in description:
        if hasattr(action, "function"):
            action.function(context)
    out = {}
    for i, entry in enumerate(created):
        assert entry["package"] == "lucid_ros"
        if entry["executable"] == COMPOSED:
            for name, values in composed_values(entry["arguments"]).items():
                out[name] = (i, values)
        else:
            *files, given = entry["parameters"]
            out[entry["name"]] = (i, {**read_params(files).get(entry["name"], {}), **given})
    return out


def processes(nodes: dict[str, tuple[int, dict]]) -> set[frozenset]:
    groups: dict[int, set] = {}
    for name, (i, _v) in nodes.items():
        groups.setdefault(i, set()).add(name)
    return {frozenset(g) for g in groups.values()}


def _policies(robot):
    out = [default_policy(robot)]
    if (ROOT / "config" / "policies" / f"{robot}_depth.yaml").exists():
        out.append(f"{robot}_depth")  # a vision policy: the camera node joins the plan
    return out


@pytest.mark.parametrize("robot", ROBOTS)
def test_sim_launch_starts_what_lucid_ros_sim_runs(monkeypatch, robot):
    from lucid_ros.nodes.graph import sim_values

    for policy in _policies(robot):
        for course, seed, start in (("flat", 0, "default"), ("hurdle", 3, "lying")):
            launched = launch(monkeypatch, "sim.launch.py", robot=robot, policy=policy, course=course, seed=seed, start_pose=start,
                              realtime="true", auto="true")  # fmt: skip
            inproc = sim_values(robot, policy, course, seed, realtime=True, start_pose=start, auto_sequence=True)
            assert {n: v for n, (_i, v) in launched.items()} == inproc, (robot, policy)
            assert ("camera" in launched) == policy.endswith("_depth"), (robot, policy, sorted(launched))
            assert {"sim_bridge", "safety_supervisor"} <= next(p for p in processes(launched) if "sim_bridge" in p)


@pytest.mark.parametrize("robot", ROBOTS)
def test_robot_launch_starts_what_lucid_ros_robot_runs(monkeypatch, robot):
    from lucid_ros.nodes.robot_run import robot_values

    for backend in BACKENDS:
        for policy in _policies(robot):
            launched = launch(monkeypatch, "robot.launch.py", robot=robot, backend=backend, policy=policy, arm="true", host="127.0.0.1", port=8007)
            plan, inproc = robot_values(robot, backend, policy, arm=True, driver_options={"host": "127.0.0.1", "port": 8007})
            assert {n: v for n, (_i, v) in launched.items()} == inproc, (robot, backend, policy)
            assert processes(launched) == {frozenset(p.names) for p in plan}
            assert ("camera" in launched) == policy.endswith("_depth")


@pytest.mark.parametrize("robot", ROBOTS)
def test_the_launch_files_default_policy_exists_and_is_the_cli_s(monkeypatch, robot):
    launched = launch(monkeypatch, "sim.launch.py", robot=robot)
    policy = launched["policy_runner"][1]["policy"]
    assert policy == default_policy(robot) and (ROOT / "config" / "policies" / f"{policy}.yaml").is_file()
    launched = launch(monkeypatch, "robot.launch.py", robot=robot, backend=BACKENDS[0])
    assert launched["policy_runner"][1]["policy"] == policy


def test_a_users_params_file_goes_on_top_and_a_missing_one_is_an_error(tmp_path):
    from lucid_ros.errors import ConfigError
    from lucid_ros.nodes.graph import sim_values

    mine = tmp_path / "mine.yaml"
    mine.write_text("policy_runner:\n  ros__parameters:\n    cmd_vel_timeout: 0.25\n")
    values = sim_values("go1", "go1_walk", params_file=mine)
    assert values["policy_runner"]["cmd_vel_timeout"] == 0.25
    assert values["safety_supervisor"]["auto_run_after"] == 0.5  # the defaults file still underneath
    with pytest.raises(ConfigError, match="not found"):
        sim_values("go1", "go1_walk", params_file=tmp_path / "missing.yaml")
