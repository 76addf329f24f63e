"""`lucid-ros` as a user runs it: exit codes and messages that name the file and the field."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lucid_ros import paths
from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
from lucid_ros.robots import load_robot

CLI = [sys.executable, "-m", "lucid_ros.cli"]


def run(*args, timeout=300):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def broken_robot(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((paths.config_dir() / "robots" / "go1.yaml").read_text())
    mutate(data)
    data["urdf"] = str(paths.urdf_dir() / data["urdf"])
    data["mjcf"] = str(paths.urdf_dir() / data["mjcf"])
    p = tmp_path / "go1_broken.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_sim_with_a_malformed_robot_yaml_exits_2_naming_file_and_field(tmp_path):
    def mutate(d):
        d["joints"][4]["kp"] = "twenty"

    p = broken_robot(tmp_path, mutate)
    r = run("sim", "--robot", p, "--duration", "1")
    assert r.returncode == 2, r.stderr
    assert str(p.name) in r.stderr and "joints[4].kp" in r.stderr


def test_sim_with_a_malformed_course_exits_2_naming_file_and_field(tmp_path):
    course = tmp_path / "bad_course.yaml"
    text = (paths.config_dir() / "courses" / "flat.yaml").read_text()
    data = yaml.safe_load(text)
    data["friction"] = "slippery"
    course.write_text(yaml.safe_dump(data))
    r = run("sim", "--course", course, "--duration", "1")
    assert r.returncode == 2, r.stderr
    assert "bad_course.yaml" in r.stderr and "friction" in r.stderr


def test_unknown_robot_exits_2():
    r = run("sim", "--robot", "robodog9000", "--duration", "1")
    assert r.returncode == 2 and "robodog9000" in r.stderr


def test_fake_robot_with_an_unknown_camera_mount_exits_2_naming_the_mounts():
    r = run("fake-robot", "--protocol", "go1_udp", "--camera-port", "18199", "--camera-mount", "chin")
    assert r.returncode == 2, r.stderr
    assert "--camera-mount" in r.stderr and "no camera 'chin'" in r.stderr and "ego_down" in r.stderr


def test_check_policy_accepts_the_shipped_policy():
    r = run("check-policy", "go1_stand")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    "case, expect",
    [("joint_count", "joint"), ("obs_shape", "obs"), ("checksum", "sha256")],
)
def test_check_policy_refuses_mismatches_naming_the_problem(tmp_path, case, expect):
    robot = load_robot("go1")
    obs_dim = 9 + 3 * 12
    if case == "joint_count":
        onnx = make_mlp_policy(tmp_path / "p.onnx", obs_dim, 10)
        spec = write_spec(tmp_path / "p.yaml", onnx, robot)
    elif case == "obs_shape":
        onnx = make_mlp_policy(tmp_path / "p.onnx", obs_dim + 3, 12)
        spec = write_spec(tmp_path / "p.yaml", onnx, robot)
    else:
        onnx = make_mlp_policy(tmp_path / "p.onnx", obs_dim, 12)
        spec = write_spec(tmp_path / "p.yaml", onnx, robot, sha256="ab" * 32)
    r = run("check-policy", spec)
    assert r.returncode == 1, r.stdout + r.stderr
    assert expect in (r.stdout + r.stderr).lower()
    # and the sim refuses it before anything moves
    r = run("sim", "--policy", spec, "--duration", "1")
    assert r.returncode == 1
    assert "RUNNING" not in r.stderr


def test_sim_runs_the_default_and_writes_its_summary(tmp_path):
    out = tmp_path / "summary.json"
    r = run("sim", "--duration", "4", "--summary", out)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "lucid-ros sim summary" in r.stdout and "RESULT: OK" in r.stdout
    s = json.loads(out.read_text())
    assert s["falls"] == 0 and s["final_state"] == "RUNNING"
    assert s["latency_ms"]["joint_states_to_joint_commands_p50"] is not None
    assert "[lucid-ros sim] t=" in r.stderr  # progress lines


def test_a_course_run_drives_like_the_tables_operator_and_crosses_by_default(tmp_path):
    """The README's `lucid-ros sim --course hurdle --seed 3`: no --policy, --cmd-vel or --duration.
    The course default (the depth student) is driven forward, steered to the course's line, until
    the outcome is decided; the summary says it crossed (issue 19: it used to stand still)."""
    out = tmp_path / "summary.json"
    r = run("sim", "--course", "hurdle", "--seed", "3", "--quiet", "--summary", out)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    s = json.loads(out.read_text())
    assert Path(s["policy"]).stem == "go1_depth" and s["steering"] == "track"
    assert s["course_outcome"]["status"] == "succeeded", s["course_outcome"]
    assert s["course_outcome"]["obstacles_crossed"] == s["course_outcome"]["obstacles_total"] == 5
    assert s["sim_time_s"] < 40  # stopped once decided, not at the table's 62 s limit
    assert "steered to the course line" in r.stdout and "course: succeeded (5/5 obstacles" in r.stdout
