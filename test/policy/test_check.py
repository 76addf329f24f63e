"""check_policy and the shipped go1_stand policy."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from lucid_ros import paths
from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.policy import check as check_module
from lucid_ros.policy.check import check_policy
from lucid_ros.policy.fixtures import make_policy
from lucid_ros.policy.make_stand_policy import main as make_stand_main
from lucid_ros.policy.observations import ObsInputs
from lucid_ros.policy.runner import PolicyRuntime
from lucid_ros.robots.description import load_robot

from .conftest import LEGGED_GYM_ORDER

STAND = paths.config_dir() / "policies" / "go1_stand.yaml"


def test_go1_stand_passes_check(go1):
    report = check_policy(STAND, go1)
    text = report.text()
    assert report.ok and report.exit_code == 0, text
    for expected in (
        "robot: go1: 12 joints, policy controls 12",
        "observation: 45 = 45 per frame x history 1",
        "joint_vel            12  21:33",
        "sha256 ok",
        "input  obs: tensor(float) [1, 45]",
        "output actions: tensor(float) [1, 12]",
        "CPUExecutionProvider",
        "actions finite",
        "max |target - default| 0 rad",
        "result: OK",
    ):
        assert expected in text, expected


def test_go1_stand_targets_are_the_default_pose(go1):
    rt = PolicyRuntime(STAND, go1)
    rng = np.random.default_rng(0)
    for k in range(3):  # any finite state: the stand policy always asks for the default pose
        x = ObsInputs(
            q=(go1.default_pose + rng.normal(0, 0.1, 12))[None],
            dq=rng.normal(size=(1, 12)),
            gravity=np.array([[0.1, 0.0, -0.99]]),
            ang_vel=rng.normal(size=(1, 3)),
            command=np.array([[0.5, 0.0, 0.0]]),
        )
        q, kp, kd, raw = rt.step(x, now=0.02 * k)
        np.testing.assert_array_equal(q, go1.default_pose)
        np.testing.assert_array_equal(kp, go1.kp)
        np.testing.assert_array_equal(kd, go1.kd)
        assert rt.last_step_finite and not raw.any()


@pytest.mark.parametrize("robot", ["go1", "mini_cheetah", "h1", "g1"])
def test_make_stand_policy_reproduces_the_shipped_files(tmp_path, capsys, robot):
    assert make_stand_main(["--robot", robot, "--out-dir", str(tmp_path)]) == 0
    assert str(tmp_path / f"{robot}_stand.yaml") in capsys.readouterr().out
    for name in (f"{robot}_stand.onnx", f"{robot}_stand.yaml"):
        assert (tmp_path / name).read_bytes() == (STAND.parent / name).read_bytes(), f"{name}: rerun python -m lucid_ros.policy.make_stand_policy"


def test_mismatches_are_all_listed(tmp_path, go1):
    spec = make_policy(tmp_path, go1, obs_dim=48, sha256="0" * 64, kind="recurrent")
    report = check_policy(spec, go1)
    assert report.exit_code == 1
    text = report.text()
    assert "sha256 MISMATCH" in text and "3 problem(s)" in text
    assert any("sha256" in p for p in report.problems)
    assert any("inputs.observation" in p and "[1, 48]" in p for p in report.problems)
    assert any("['h_in']" in p for p in report.problems)


def test_joint_order_mismatch_is_a_problem(tmp_path, go1):
    spec = make_policy(tmp_path, go1, joint_order=LEGGED_GYM_ORDER[:11] + ["RR_knee_joint"])
    report = check_policy(spec, go1)
    assert report.exit_code == 1 and "joint_order[11]" in report.problems[0] and "RR_knee_joint" in report.problems[0]


def test_nan_policy_fails_the_dry_run(tmp_path, go1):
    report = check_policy(make_policy(tmp_path, go1, kind="nan"), go1)
    assert report.exit_code == 1 and "non-finite actions" in report.problems[0]


def test_partial_policy_lists_held_joints(tmp_path, go1):
    report = check_policy(make_policy(tmp_path, go1, joint_order=LEGGED_GYM_ORDER[:6], kp=30.0), go1)
    assert report.ok, report.text()
    assert "policy controls 6" in report.text()
    assert "held at default pose with robot gains: RR_hip_joint" in report.text()
    assert "gains differ from the robot's defaults on 6 joint(s)" in report.text()


def test_malformed_spec_raises_config_error(tmp_path, go1):
    spec = make_policy(tmp_path, go1, extra={"observation": {"history": 0}})
    with pytest.raises(ConfigError) as exc:
        check_policy(spec, go1)
    assert not isinstance(exc.value, PolicyMismatch) and exc.value.field == "observation.history"


def test_robot_defaults_to_the_spec_robot(tmp_path, go1, monkeypatch):
    asked = []

    def fake_load(name):
        asked.append(name)
        return load_robot(name, check_models=False)

    monkeypatch.setattr(check_module, "load_robot", fake_load)
    assert check_policy(STAND).ok and asked == ["go1"]
    data = yaml.safe_load(STAND.read_text())
    assert data["robot"] == "go1"


def test_robot_mismatch_still_checks_the_onnx(tmp_path, go1):
    spec = make_policy(tmp_path, go1, joint_order=LEGGED_GYM_ORDER[:11] + ["RR_knee_joint"], n_act=10)
    report = check_policy(spec, go1)
    assert len(report.problems) == 2 and "RR_knee_joint" in report.problems[0] and "10 actions" in report.problems[1]


def test_every_shipped_policy_passes_check_policy_and_a_teacher_is_flagged_sim_only():
    """`lucid-ros check-policy` on each spec in config/policies: no problem, a dry run that ran
    (a teacher's privileged height scan is given flat ground), and a teacher named sim-only."""
    from lucid_ros.paths import config_dir

    specs = sorted((config_dir() / "policies").glob("*.yaml"))
    assert any(p.stem == "go1_teacher" for p in specs)
    for path in specs:
        report = check_policy(path)
        assert report.ok, (path.name, report.problems)
        assert any(line.startswith("dry run (standing") for line in report.lines), path.name
        privileged = any("privileged" in w for w in report.warnings)
        assert privileged == ("height_scan" in path.read_text()), path.name
