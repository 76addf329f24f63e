"""The documented bring-your-own example: a 48-d legged_gym Go1 policy runs without Python."""

import hashlib
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from lucid_ros import paths
from lucid_ros.policy.fixtures import make_mlp_policy, mlp_weights
from lucid_ros.policy.observations import ObsInputs
from lucid_ros.policy.runner import PolicyRuntime
from lucid_ros.robots import load_robot

EXAMPLE = paths.config_dir() / "policies" / "examples" / "legged_gym_go1.yaml"


def user_copy(tmp_path, kind="linear"):
    """What the example's comment tells a user to do: ONNX beside the spec, checksum filled in."""
    spec = tmp_path / "legged_gym_go1.yaml"
    shutil.copy(EXAMPLE, spec)
    onnx = make_mlp_policy(tmp_path / "legged_gym_go1.onnx", 48, 12, kind=kind, seed=3)
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
    spec.write_text(re.sub(r'sha256: "0{64}"', f'sha256: "{digest}"', spec.read_text()))
    return spec


def test_the_example_as_shipped_is_refused_until_its_checksum_is_filled_in(tmp_path):
    spec = tmp_path / "legged_gym_go1.yaml"
    shutil.copy(EXAMPLE, spec)
    make_mlp_policy(tmp_path / "legged_gym_go1.onnx", 48, 12)
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "check-policy", str(spec)], capture_output=True, text=True, env=dict(os.environ))
    assert r.returncode == 1 and "sha256" in (r.stdout + r.stderr)


def test_check_policy_accepts_the_filled_in_example(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "check-policy", str(user_copy(tmp_path))],
                       capture_output=True, text=True, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr


def test_observation_and_action_are_remapped_from_the_legged_gym_order(tmp_path):
    robot = load_robot("go1")
    rt = PolicyRuntime(user_copy(tmp_path), robot)
    q = robot.default_pose.copy()
    q[robot.index_of(["FL_hip_joint"])[0]] += 0.1  # canonical slot 3; the policy's slot 0
    dq = np.zeros(12)
    dq[robot.index_of(["RR_calf_joint"])[0]] = 2.0  # canonical slot 8; the policy's slot 11
    inputs = ObsInputs(q=q[None], dq=dq[None], quat=np.array([[1.0, 0, 0, 0]]), ang_vel=np.zeros((1, 3)), lin_vel=np.array([[0.5, 0, 0]]),
                       command=np.array([[0.5, 0.0, 0.0]]))
    q_target, kp, kd, raw = rt.step(inputs, 0.0)
    obs = rt.last_obs
    assert obs.shape == (48,)
    assert obs[0] == np.float32(1.0)  # base_lin_vel x 2.0
    assert np.allclose(obs[9:12], [1.0, 0.0, 0.0])  # command x (2, 2, 0.25)
    assert np.isclose(obs[12], 0.1) and np.allclose(obs[13:24], 0.0)  # joint_pos_rel: FL_hip first
    assert np.isclose(obs[24 + 11], 0.1) and np.allclose(obs[24:35], 0.0)  # joint_vel x 0.05: RR_calf last
    # action slot k drives the policy's joint k: FL_hip (policy 0) is canonical joint 3
    w, b = mlp_weights(48, 12, seed=3)
    expected = obs.astype(np.float64) @ w + b
    assert np.allclose(raw, expected, atol=1e-4)
    fl = robot.index_of(["FL_hip_joint"])[0]
    assert np.isclose(q_target[fl], robot.default_pose[fl] + 0.25 * np.clip(raw[0], -100, 100), atol=1e-5)
    assert np.allclose(kp, 20.0) and np.allclose(kd, 0.5)


def test_lucid_ros_sim_runs_the_example_through_the_whole_graph(tmp_path):
    spec = user_copy(tmp_path, kind="zeros")  # a network that holds the pose: the plumbing, not the gait, is under test
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "sim", "--policy", str(spec), "--duration", "5", "--quiet"],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    assert "policy legged_gym_go1.yaml" in r.stdout and "final state RUNNING" in r.stdout
