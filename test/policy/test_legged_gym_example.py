"""The documented legged_gym example: a 48-d rsl_rl Go1 policy, as `lucid-ros import-policy` writes it.

config/policies/examples/legged_gym_go1.yaml is produced by the importer from a random-weight
legged_gym checkpoint (`python -m lucid_ros.importers.rsl_rl --write-example`); these tests
regenerate it with its ONNX and run it.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch", reason="the example is made by import-policy, which needs torch")

from lucid_ros.importers import import_policy  # noqa: E402
from lucid_ros.importers.rsl_rl import EXAMPLE, legged_gym_checkpoint, write_example  # noqa: E402
from lucid_ros.policy.observations import ObsInputs  # noqa: E402
from lucid_ros.policy.runner import PolicyRuntime  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example spec and its ONNX, regenerated."""
    return write_example(tmp_path_factory.mktemp("example"), keep_onnx=True, log=lambda s: None)


def test_the_shipped_example_is_what_the_importer_writes(example):
    shipped, made = yaml.safe_load(EXAMPLE.read_text()), yaml.safe_load(example.read_text())
    for spec in (shipped, made):
        spec.pop("sha256")  # of an ONNX written by this onnx version; not shipped
        spec["training"]["import"].pop("source_sha256")  # torch.save's bytes
        spec["training"]["import"]["equivalence"].pop("max_abs_diff")  # measured, rounding differs by machine
    assert shipped == made, "regenerate: python -m lucid_ros.importers.rsl_rl --write-example"
    header = lambda text: [line for line in text.splitlines() if line.startswith("#")]  # noqa: E731
    assert header(EXAMPLE.read_text()) == header(example.read_text())
    assert "lucid-ros import-policy" in header(EXAMPLE.read_text())[2]
    assert shipped["training"]["import"]["equivalence"]["steps"] == 500


def test_check_policy_accepts_the_example(example):
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "check-policy", str(example)], capture_output=True, text=True, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr


def _actor(ckpt_state: dict, obs: np.ndarray) -> np.ndarray:
    """legged_gym's actor (Linear, ELU, ..., Linear) on one observation, in float64."""
    x = obs.astype(np.float64)
    for k in range(4):
        x = x @ ckpt_state[f"actor.{2 * k}.weight"].double().numpy().T + ckpt_state[f"actor.{2 * k}.bias"].double().numpy()
        if k < 3:
            x = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    return x


def test_observation_and_action_are_remapped_from_the_legged_gym_order(example, tmp_path):
    robot = load_robot("go1")
    rt = PolicyRuntime(example, robot)
    q = robot.default_pose.copy()
    q[robot.index_of(["FL_hip_joint"])[0]] += 0.1  # canonical slot 3; the policy's slot 0
    dq = np.zeros(12)
    dq[robot.index_of(["RR_calf_joint"])[0]] = 2.0  # canonical slot 8; the policy's slot 11
    inputs = ObsInputs(q=q[None], dq=dq[None], quat=np.array([[1.0, 0, 0, 0]]), ang_vel=np.zeros((1, 3)), lin_vel=np.array([[0.5, 0, 0]]),
                       command=np.array([[0.5, 0.0, 0.0]]))  # fmt: skip
    q_target, kp, kd, raw = rt.step(inputs, 0.0)
    obs = rt.last_obs
    assert obs.shape == (48,)
    assert obs[0] == np.float32(1.0)  # base_lin_vel x 2.0
    assert np.allclose(obs[9:12], [1.0, 0.0, 0.0])  # command x (2, 2, 0.25)
    assert np.isclose(obs[12], 0.1) and np.allclose(obs[13:24], 0.0)  # joint_pos_rel: FL_hip first
    assert np.isclose(obs[24 + 11], 0.1) and np.allclose(obs[24:35], 0.0)  # joint_vel x 0.05: RR_calf last
    # action slot k drives the policy's joint k: FL_hip (policy 0) is canonical joint 3
    state = torch.load(str(legged_gym_checkpoint(tmp_path / "model_1500.pt")), weights_only=True)["model_state_dict"]
    assert np.allclose(raw, _actor(state, obs), atol=1e-5)
    fl = robot.index_of(["FL_hip_joint"])[0]
    assert np.isclose(q_target[fl], robot.default_pose[fl] + 0.25 * np.clip(raw[0], -100, 100), atol=1e-5)
    assert np.allclose(kp, 20.0) and np.allclose(kd, 0.5)


def test_lucid_ros_sim_runs_an_imported_legged_gym_policy_through_the_whole_graph(tmp_path):
    """A legged_gym checkpoint whose last layer is zero (targets = the default pose): the plumbing,
    not the gait, is under test."""
    ckpt = legged_gym_checkpoint(tmp_path / "model_1500.pt")
    d = torch.load(str(ckpt), weights_only=True)
    d["model_state_dict"]["actor.6.weight"].zero_()
    d["model_state_dict"]["actor.6.bias"].zero_()
    torch.save(d, str(ckpt))
    res = import_policy(ckpt, "rsl_rl", "go1", out=tmp_path, name="legged_gym_go1", log=lambda s: None)
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "sim", "--policy", str(res.spec), "--duration", "5", "--quiet"],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ))  # fmt: skip
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    assert "policy legged_gym_go1.yaml" in r.stdout and "final state RUNNING" in r.stdout
