"""The bring-up plan (lucid_ros.bringup) that `lucid-ros robot`, robot.launch.py and sim.launch.py read:
a vision policy's camera node always shares the policy runner's process (the vision bus is in-process)."""

import json
import re
from pathlib import Path

import pytest

from lucid_ros.bringup import COMPOSED, launch_entries, process_of, robot_plan, sim_plan

ROOT = Path(__file__).resolve().parent.parent


def node_of(plan, name):
    return next(n for n in process_of(plan, name).nodes if n.name == name)


def test_vision_policy_on_a_robot_puts_the_camera_in_the_policy_runners_process():
    plan = robot_plan("go1", "go1_udp", "go1_depth", camera_serial="123456789012")
    proc = process_of(plan, "camera")
    assert proc is process_of(plan, "policy_runner") and proc.executable == COMPOSED
    camera = next(n for n in proc.nodes if n.name == "camera")
    assert camera.params["source"] == "realsense" and camera.params["realsense.serial"] == "123456789012"
    assert camera.params["policy"] == "go1_depth"
    sup = node_of(plan, "safety_supervisor")
    assert sup.params["require_camera"] is True and sup.params["auto_sequence"] is False
    # the driver's 500 Hz loop is its own thread; its process holds only the supervisor besides (the command hand-off)
    assert process_of(plan, "robot_driver").names == ("robot_driver", "safety_supervisor")


def test_rgb_policy_too_and_a_blind_policy_has_no_camera():
    assert process_of(robot_plan("go1", "go1_udp", "go1_rgb"), "camera").names == ("camera", "policy_runner")
    plan = robot_plan("go1", "go1_udp", "go1_walk")
    assert all("camera" not in p.names for p in plan)
    assert [p.names for p in plan if p.executable == COMPOSED] == [("robot_driver", "safety_supervisor")]  # the backend's only
    assert node_of(plan, "safety_supervisor").params["require_camera"] is False


def test_vision_policy_in_sim_puts_renderer_camera_and_runner_in_one_process():
    plan = sim_plan("go1", "go1_depth")
    proc = process_of(plan, "camera")
    assert set(proc.names) == {"sim_bridge", "camera", "policy_runner", "safety_supervisor"}
    assert next(n for n in proc.nodes if n.name == "sim_bridge").params["cameras"] is True
    assert next(n for n in proc.nodes if n.name == "camera").params["source"] == "sim"


def test_launch_entries_start_installed_executables_with_each_nodes_values():
    scripts = set(re.findall(r'"([a-z0-9_\-]+) = lucid_ros', (ROOT / "setup.py").read_text()))
    plan = robot_plan("go1", "go1_udp", "go1_depth", driver_options={"host": "127.0.0.1"})
    entries = launch_entries(plan, "go1", ["/share/config/params/defaults.yaml"])
    assert {e["executable"] for e in entries} <= scripts
    composed = next(e for e in entries if e["executable"] == COMPOSED and '"camera"' in e["arguments"][-1])
    args = composed["arguments"]
    nodes = json.loads(args[args.index("--nodes") + 1])
    assert list(nodes) == ["camera", "policy_runner"] and nodes["camera"]["source"] == "realsense"
    backend = next(e for e in entries if e["executable"] == COMPOSED and '"robot_driver"' in e["arguments"][-1])
    nodes = json.loads(backend["arguments"][backend["arguments"].index("--nodes") + 1])
    assert list(nodes) == ["robot_driver", "safety_supervisor"] and nodes["robot_driver"]["host"] == "127.0.0.1"
    for entries in (launch_entries(sim_plan("go1", "go1_depth"), "go1", ["p.yaml"]), launch_entries(sim_plan("go1", "go1_walk"), "go1", ["p.yaml"])):
        assert {e["executable"] for e in entries} <= scripts


def test_launch_files_read_the_plan():
    for name, fn in (("robot.launch.py", "robot_plan"), ("sim.launch.py", "sim_plan")):
        text = (ROOT / "launch" / name).read_text()
        assert fn in text and "launch_entries" in text


ROBOTS = ("go1", "go2", "mini_cheetah", "h1", "g1")


@pytest.mark.parametrize("vision", [False, True], ids=["blind", "vision"])
@pytest.mark.parametrize("robot", ROBOTS)
def test_the_supervisor_always_runs_in_the_backends_process(robot, vision):
    """Issue 18: the backend obeys only the supervisor's in-process hand-off, so the plan must put
    them together, for every robot, backend (the sim bridge and each hardware one) and policy kind."""
    plans = {"sim": sim_plan(robot, "p", vision=vision)}
    plans |= {backend: robot_plan(robot, backend, "p", vision=vision) for backend in ("go1_udp", "unitree_sdk2", "mini_cheetah_lcm")}
    for backend, plan in plans.items():
        node = "sim_bridge" if backend == "sim" else "robot_driver"
        proc = process_of(plan, node)
        assert proc is process_of(plan, "safety_supervisor") and proc.executable == COMPOSED, (backend, [p.names for p in plan])
        assert sum(n == "safety_supervisor" for p in plan for n in p.names) == 1
        entries = launch_entries(plan, robot, ["p.yaml"])
        assert not any(e.get("executable") == "safety_supervisor" for e in entries)  # never a process of its own


def test_on_a_robot_the_operator_lease_is_enforced_and_in_sim_it_is_not():
    from lucid_ros.bringup import robot_plan, sim_plan

    def given(plan, node):
        return next(n.params for proc in plan for n in proc.nodes if n.name == node)

    robot = robot_plan("go1", "go1_udp", "go1_walk")
    assert given(robot, "policy_runner")["require_lease"] is True and given(robot, "safety_supervisor")["require_lease"] is True
    sim = sim_plan("go1", "go1_walk")
    assert not given(sim, "policy_runner").get("require_lease") and not given(sim, "safety_supervisor").get("require_lease")
