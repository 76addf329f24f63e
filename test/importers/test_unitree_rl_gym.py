"""`lucid-ros import-policy --from unitree_rl_gym`: Unitree's own pre-trained humanoid policies.

The real artifacts (deploy/pre_train/<robot>/motion.pt) are read from ../shared/third_party/
unitree_rl_gym, or from a unitree_rl_gym checkout named by UNITREE_RL_GYM; the tests that need
them skip, saying so, where neither is present. Random-weight TorchScripts made here in the same
layout cover the bad-input paths without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="import-policy needs torch (pip install -e '.[import]')")

from unitree_artifacts import artifact  # noqa: E402

from lucid_ros.errors import PolicyMismatch  # noqa: E402
from lucid_ros.importers import convert, import_policy, write_and_prove  # noqa: E402
from lucid_ros.importers.base import TOLERANCE  # noqa: E402
from lucid_ros.policy.actions import ActionMapper  # noqa: E402
from lucid_ros.policy.observations import ObservationBuilder, ObsInputs  # noqa: E402
from lucid_ros.policy.spec import load_spec  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lucid_ros.cli", *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=600)


# -- a unitree_rl_gym-style TorchScript export with random weights (legged_gym's LSTM exporter layout) --


class _LstmExport(torch.nn.Module):
    def __init__(self, n_obs: int, n_act: int, hidden: int = 64, reject_obs: int = 0):
        super().__init__()
        self.memory = torch.nn.LSTM(n_obs, hidden, 1)
        self.actor = torch.nn.Sequential(torch.nn.Linear(hidden, 32), torch.nn.ELU(), torch.nn.Linear(32, n_act))
        self.register_buffer("hidden_state", torch.zeros(1, 1, hidden))
        self.register_buffer("cell_state", torch.zeros(1, 1, hidden))
        self.reject_obs = reject_obs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reject_obs > 0:
            assert x.shape[1] == self.reject_obs, "wrong observation size"
        out, (h, c) = self.memory(x.unsqueeze(0), (self.hidden_state, self.cell_state))
        self.hidden_state.copy_(h)
        self.cell_state.copy_(c)
        return self.actor(out.squeeze(0))


def scripted(path: Path, n_obs: int = 41, n_act: int = 10, seed: int = 0, **kw) -> Path:
    torch.manual_seed(seed)
    torch.jit.script(_LstmExport(n_obs, n_act, **kw)).save(str(path))
    return path


# -- Unitree's real files --------------------------------------------------------------------------


@pytest.mark.parametrize("robot", ["h1", "g1", "h1_2"])
def test_unitrees_policies_convert_and_match_torch_over_500_steps_with_a_reset(robot, tmp_path):
    conv = convert(artifact(robot), "unitree_rl_gym", robot)
    spec_path, worst = write_and_prove(conv, tmp_path, f"{robot}_unitree", robot, "unitree_rl_gym", steps=500, log=lambda s: None)
    assert worst <= TOLERANCE
    spec = load_spec(spec_path)
    assert spec.n_act == {"h1": 10, "g1": 12, "h1_2": 12}[robot]
    assert [r.shape for r in spec.recurrent] == [(1, 1, 64), (1, 1, 64)]  # the LSTM's h and c, explicit
    assert spec.training["import"]["equivalence"]["max_abs_diff"] <= TOLERANCE
    assert len(spec.training["import"]["source_sha256"]) == 64


def test_the_equivalence_check_fails_loudly_when_the_graph_is_wrong(tmp_path):
    """The proof is not a formality: a reference that differs by 1e-3 is refused, nothing written."""
    conv = convert(scripted(tmp_path / "m.pt"), "unitree_rl_gym", "h1")
    real = conv.reference.step
    conv.reference.step = lambda obs, images: real(obs, images) + 1e-3
    with pytest.raises(PolicyMismatch, match="differs from the source"):
        write_and_prove(conv, tmp_path, "x", "h1", "unitree_rl_gym", steps=20, log=lambda s: None)


def test_the_h1_spec_builds_the_observation_unitrees_deploy_builds(tmp_path):
    """Term by term against Unitree's deploy formula (written out here): a mismatch in order,
    scale, reference pose or the gait clock's origin fails this test, not the robot."""
    robot = load_robot("h1")
    conv = convert(artifact("h1"), "unitree_rl_gym", "h1")
    spec_path, _ = write_and_prove(conv, tmp_path, "h1_unitree", "h1", "unitree_rl_gym", steps=20, log=lambda s: None)
    spec = load_spec(spec_path, robot)
    builder = ObservationBuilder(spec, robot)
    rng = np.random.default_rng(1)
    q = robot.default_pose + rng.normal(0, 0.1, robot.n_joints)
    dq = rng.normal(0, 1.0, robot.n_joints)
    qw, qx, qy, qz = np.array([0.98, 0.1, -0.15, 0.05]) / np.linalg.norm([0.98, 0.1, -0.15, 0.05])
    omega = np.array([0.3, -0.2, 0.5])
    cmd = np.array([0.5, 0.1, -0.3])
    last = rng.normal(0, 1, 10)
    obs = builder.build(
        ObsInputs(
            q=q[None],
            dq=dq[None],
            quat=np.array([[qw, qx, qy, qz]]),
            ang_vel=omega[None],
            command=cmd[None],
            last_action=last[None],
            phase_time=np.array([0.0]),
        )
    )[0]
    legs = robot.index_of(list(spec.joint_order))
    default = np.array([0, 0, -0.1, 0.3, -0.2] * 2)
    gravity = [2 * (-qz * qx + qw * qy), -2 * (qz * qy + qw * qx), 1 - 2 * (qw * qw + qz * qz)]
    phase = (0.02 % 0.8) / 0.8  # their deploy: counter * 0.002 with counter = 10 at the first policy step
    want = np.concatenate(
        [
            omega * 0.25,
            gravity,
            cmd * [2.0, 2.0, 0.25],
            q[legs] - default,
            dq[legs] * 0.05,
            last,
            [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)],
        ]
    )
    np.testing.assert_allclose(obs, want, atol=1e-6)
    q_target, kp, _kd = ActionMapper(spec, robot).targets(last)
    np.testing.assert_allclose(q_target[legs], default + 0.25 * last, atol=1e-9)
    np.testing.assert_allclose(kp[legs], [150, 150, 150, 200, 40] * 2)
    held = [i for i in range(robot.n_joints) if i not in legs]
    np.testing.assert_allclose(q_target[held], robot.default_pose[held])  # torso and arms hold the robot's pose


@pytest.mark.parametrize("robot", ["h1", "g1"])
def test_unitrees_policies_walk_through_the_whole_graph(robot, tmp_path):
    """The must-show: imported with the CLI, run with `lucid-ros sim` (every node, lockstep, the
    hoist sequence first), it walks at >= 0.8 x 0.5 m/s over 20 s of RUNNING without a fall.
    Outside the graph, in this project's own H1 model, Unitree's H1 policy walks 9.1 m in 20 s:
    a shortfall here is the stack's. No --cmd-vel: a policy that reads cmd_vel gets 0.5 m/s."""
    r = cli("import-policy", str(artifact(robot)), "--from", "unitree_rl_gym", "--robot", robot, "--name", f"{robot}_unitree", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    summary = tmp_path / "s.json"
    r = cli("sim", "--robot", robot, "--policy", str(tmp_path / f"{robot}_unitree.yaml"), "--duration", "27", "--quiet", "--summary", str(summary))
    s = json.loads(summary.read_text()) if summary.is_file() else {}
    assert r.returncode == 0, r.stdout + r.stderr
    assert s["cmd_vel"] == [0.5, 0.0, 0.0]
    assert s["falls"] == 0 and s["final_state"] == "RUNNING"
    assert s["velocity_tracking"]["mean_vx"] >= 0.8 * 0.5, s["velocity_tracking"]


# -- bad input: exit 2, the file and the key named, nothing left in --out --------------------------


def _refused(r: subprocess.CompletedProcess, out: Path, *needles: str) -> None:
    text = r.stdout + r.stderr
    assert r.returncode == 2, text
    for n in needles:
        assert n in text, text
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_unknown_format_is_refused(tmp_path):
    _refused(
        cli("import-policy", str(scripted(tmp_path / "m.pt")), "--from", "legged_gymm", "--robot", "h1", "--out", str(tmp_path / "o")),
        tmp_path / "o",
        "legged_gymm",
        "unitree_rl_gym",
    )


def test_a_file_that_is_not_torchscript_is_refused(tmp_path):
    bad = tmp_path / "motion.pt"
    bad.write_bytes(b"\x00not a zip" * 10)
    _refused(
        cli("import-policy", str(bad), "--from", "unitree_rl_gym", "--robot", "h1", "--out", str(tmp_path / "o")),
        tmp_path / "o",
        "motion.pt",
        "TorchScript",
    )


def test_a_torchscript_without_the_lstm_state_is_refused_by_key(tmp_path):
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(41, 10))).save(str(tmp_path / "mlp.pt"))
    _refused(
        cli("import-policy", str(tmp_path / "mlp.pt"), "--from", "unitree_rl_gym", "--robot", "h1", "--out", str(tmp_path / "o")),
        tmp_path / "o",
        "mlp.pt",
        "hidden_state",
    )


def test_a_policy_for_another_joint_count_is_refused(tmp_path):
    g1_like = scripted(tmp_path / "g1.pt", n_obs=47, n_act=12)
    _refused(
        cli("import-policy", str(g1_like), "--from", "unitree_rl_gym", "--robot", "h1", "--out", str(tmp_path / "o")),
        tmp_path / "o",
        "g1.pt",
        "12 actions",
        "10 joints",
    )


def test_a_torchscript_that_rejects_the_stated_observation_size_is_refused(tmp_path):
    m = scripted(tmp_path / "m.pt", reject_obs=45)
    _refused(
        cli("import-policy", str(m), "--from", "unitree_rl_gym", "--robot", "h1", "--out", str(tmp_path / "o")),
        tmp_path / "o",
        "m.pt",
        "forward",
        "[1, 41]",
    )


@pytest.mark.parametrize(
    "text, field", [("num_obs: 47\nnum_actions: 10\n", "num_obs"), ("kps: [150, 150, 150]\n", "kps"), ("action_scale: -1\n", "action_scale")]
)
def test_a_config_that_contradicts_the_checkpoint_is_refused_by_field(tmp_path, text, field):
    cfg = tmp_path / "h1.yaml"
    cfg.write_text(text)
    m = str(scripted(tmp_path / "m.pt"))
    r = cli("import-policy", m, "--from", "unitree_rl_gym", "--robot", "h1", "--config", str(cfg), "--out", str(tmp_path / "o"))
    _refused(r, tmp_path / "o", "h1.yaml", field)


def test_a_robot_without_unitree_conventions_is_refused(tmp_path):
    _refused(
        cli("import-policy", str(scripted(tmp_path / "m.pt")), "--from", "unitree_rl_gym", "--robot", "go1", "--out", str(tmp_path / "o")),
        tmp_path / "o",
        "go1",
    )


def test_an_existing_policy_is_not_overwritten_without_force(tmp_path):
    m = scripted(tmp_path / "m.pt")
    out = tmp_path / "o"
    assert cli("import-policy", str(m), "--from", "unitree_rl_gym", "--robot", "h1", "--name", "p", "--out", str(out)).returncode == 0
    before = (out / "p.yaml").read_bytes()
    r = cli("import-policy", str(scripted(tmp_path / "m2.pt", seed=5)), "--from", "unitree_rl_gym", "--robot", "h1", "--name", "p", "--out", str(out))
    assert r.returncode == 2 and "--force" in r.stderr
    assert (out / "p.yaml").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["p.onnx", "p.yaml"]


def test_a_users_own_export_with_a_deploy_config_imports(tmp_path):
    """A unitree_rl_gym user's own run: their deploy_mujoco YAML sets scales, gains and pose."""
    cfg = tmp_path / "h1.yaml"
    cfg.write_text(
        "policy_path: x\nsimulation_dt: 0.002\ncontrol_decimation: 10\nkps: [100, 100, 100, 150, 30, 100, 100, 100, 150, 30]\n"
        "kds: [2, 2, 2, 4, 2, 2, 2, 2, 4, 2]\ndefault_angles: [0, 0, -0.2, 0.4, -0.2, 0, 0, -0.2, 0.4, -0.2]\nang_vel_scale: 0.25\n"
        "dof_pos_scale: 1.0\ndof_vel_scale: 0.05\naction_scale: 0.5\ncmd_scale: [2.0, 2.0, 0.25]\nnum_actions: 10\nnum_obs: 41\ncmd_init: [0.5, 0, 0]\n"
    )
    res = import_policy(scripted(tmp_path / "m.pt"), "unitree_rl_gym", "h1", out=tmp_path / "o", config=cfg, log=lambda s: None)
    spec = load_spec(res.spec, load_robot("h1"))
    assert res.max_abs_diff <= TOLERANCE
    assert spec.kp[0] == 100 and spec.action.scale[0] == 0.5 and spec.action.offset[2] == -0.2
    assert spec.observation.terms[3].default[3] == 0.4
    assert spec.training["import"]["config_sha256"]
