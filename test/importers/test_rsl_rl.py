"""`lucid-ros import-policy --from rsl_rl`: checkpoints as rsl_rl's OnPolicyRunner.save writes them.

rsl-rl-lib (2.3.3 ... 5.5.1) installs here but does not import without tensordict, tensorboard
and GitPython, so the trainer's classes are written out below with exactly rsl_rl's attribute
names (and so its state-dict keys: `actor.0.weight`, `memory_a.rnn.weight_ih_l0`, `std`;
`mlp.0.weight`, `rnn.rnn.*`, `obs_normalizer._mean`, `distribution.std_param`), saved in the
runner's dict layout. Equivalence is measured against these modules, not against the importer's
own mirror of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="import-policy needs torch (pip install -e '.[import]')")
from torch import nn  # noqa: E402

from lucid_ros.errors import ConfigError  # noqa: E402
from lucid_ros.importers import import_policy  # noqa: E402
from lucid_ros.importers.base import TOLERANCE, smooth_observations  # noqa: E402
from lucid_ros.policy.check import check_policy  # noqa: E402
from lucid_ros.policy.observations import ObsInputs  # noqa: E402
from lucid_ros.policy.runner import OnnxPolicy, PolicyRuntime  # noqa: E402
from lucid_ros.policy.spec import load_spec  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402

ACT = {"elu": nn.ELU, "tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(dims: list[int], activation: str = "elu") -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(ACT[activation]())
    return nn.Sequential(*layers)


class EmpiricalNormalization(nn.Module):
    """rsl_rl's observation normaliser (its buffers; eval-mode forward, eps 1e-2)."""

    def __init__(self, n: int, rng: np.random.Generator | None = None):
        super().__init__()
        mean = torch.zeros(1, n) if rng is None else torch.from_numpy(rng.normal(0, 0.5, (1, n)).astype(np.float32))
        std = torch.ones(1, n) if rng is None else torch.from_numpy(rng.uniform(0.3, 2.0, (1, n)).astype(np.float32))
        self.register_buffer("_mean", mean)
        self.register_buffer("_var", std**2)
        self.register_buffer("_std", std)
        self.register_buffer("count", torch.tensor(123456, dtype=torch.long))

    def forward(self, x):
        return (x - self._mean) / (self._std + 1e-2)


# -- rsl_rl <= 3.x: ActorCritic / ActorCriticRecurrent (`model_state_dict`) ----------------------------


class Memory(nn.Module):
    def __init__(self, input_size: int, type: str = "lstm", num_layers: int = 1, hidden_size: int = 256):
        super().__init__()
        self.rnn = (nn.GRU if type == "gru" else nn.LSTM)(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        self.hidden_states = None

    def forward(self, x):
        out, self.hidden_states = self.rnn(x.unsqueeze(0), self.hidden_states)
        return out


class ActorCritic(nn.Module):
    def __init__(
        self, n_obs, n_act, actor_hidden_dims, critic_hidden_dims, activation="elu", noise_std_type="scalar", actor_obs_normalization=False, rng=None
    ):
        super().__init__()
        self.actor = mlp([n_obs, *actor_hidden_dims, n_act], activation)
        if actor_obs_normalization:  # rsl_rl 3.x
            self.actor_obs_normalizer = EmpiricalNormalization(n_obs, rng)
            self.critic_obs_normalizer = EmpiricalNormalization(n_obs, rng)
        self.critic = mlp([n_obs, *critic_hidden_dims, 1], activation)
        if noise_std_type == "scalar":
            self.std = nn.Parameter(torch.ones(n_act))
        else:
            self.log_std = nn.Parameter(torch.zeros(n_act))

    def reset(self):
        pass

    def act_inference(self, obs):
        if hasattr(self, "actor_obs_normalizer"):
            obs = self.actor_obs_normalizer(obs)
        return self.actor(obs)


class ActorCriticRecurrent(ActorCritic):
    def __init__(self, n_obs, n_act, actor_hidden_dims, critic_hidden_dims, rnn_type="lstm", rnn_hidden_dim=256, rnn_num_layers=1, **kw):
        super().__init__(rnn_hidden_dim, n_act, actor_hidden_dims, critic_hidden_dims, **kw)
        self.memory_a = Memory(n_obs, type=rnn_type, num_layers=rnn_num_layers, hidden_size=rnn_hidden_dim)
        self.memory_c = Memory(n_obs, type=rnn_type, num_layers=rnn_num_layers, hidden_size=rnn_hidden_dim)

    def reset(self):
        self.memory_a.hidden_states = None

    def act_inference(self, obs):
        return self.actor(self.memory_a(obs).squeeze(0))


def save_runner_v2(policy: nn.Module, path: Path, obs_normalizer: nn.Module | None = None) -> Path:
    """rsl_rl <= 3.x OnPolicyRunner.save (2.1-2.3 add the runner's normalisers when on)."""
    d = {
        "model_state_dict": policy.state_dict(),
        "optimizer_state_dict": torch.optim.Adam(policy.parameters()).state_dict(),
        "iter": 1500,
        "infos": None,
    }
    if obs_normalizer is not None:
        d["obs_norm_state_dict"] = obs_normalizer.state_dict()
        d["privileged_obs_norm_state_dict"] = EmpiricalNormalization(obs_normalizer._mean.shape[1]).state_dict()
    torch.save(d, str(path))
    return path


# -- rsl_rl >= 4: MLPModel / RNNModel (`actor_state_dict`), 5.x's GaussianDistribution ---------------------


class GaussianDistribution(nn.Module):
    def __init__(self, n_act: int, std_type: str = "scalar"):
        super().__init__()
        if std_type == "scalar":
            self.std_param = nn.Parameter(torch.ones(n_act))
        else:
            self.log_std_param = nn.Parameter(torch.zeros(n_act))


class MLPModel(nn.Module):
    def __init__(self, n_obs, n_out, hidden_dims, activation="elu", obs_normalization=False, stochastic=True, rng=None):
        super().__init__()
        self.obs_normalizer = EmpiricalNormalization(n_obs, rng) if obs_normalization else nn.Identity()
        self.distribution = GaussianDistribution(n_out) if stochastic else None
        self.mlp = mlp([self.latent_dim(n_obs), *hidden_dims, n_out], activation)

    def latent_dim(self, n_obs):
        return n_obs

    def reset(self):
        pass

    def forward(self, obs):
        return self.mlp(self.get_latent(obs))

    def get_latent(self, obs):
        return self.obs_normalizer(obs)


class RNN(nn.Module):
    def __init__(self, input_size, hidden_dim=256, num_layers=1, type="lstm"):
        super().__init__()
        self.rnn = (nn.GRU if type.lower() == "gru" else nn.LSTM)(input_size=input_size, hidden_size=hidden_dim, num_layers=num_layers)
        self.hidden_state = None


class RNNModel(MLPModel):
    def __init__(self, n_obs, n_out, hidden_dims, rnn_type="lstm", rnn_hidden_dim=256, rnn_num_layers=1, **kw):
        self.rnn_hidden_dim = rnn_hidden_dim
        super().__init__(n_obs, n_out, hidden_dims, **kw)
        self.rnn = RNN(n_obs, rnn_hidden_dim, rnn_num_layers, rnn_type)

    def latent_dim(self, n_obs):
        return self.rnn_hidden_dim

    def reset(self):
        self.rnn.hidden_state = None

    def get_latent(self, obs):
        out, self.rnn.hidden_state = self.rnn.rnn(super().get_latent(obs).unsqueeze(0), self.rnn.hidden_state)
        return out.squeeze(0)


def save_runner_v5(actor: nn.Module, critic: nn.Module, path: Path) -> Path:
    """rsl_rl >= 4 OnPolicyRunner.save: PPO.save() plus iter and infos."""
    opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()])
    torch.save(
        {
            "actor_state_dict": actor.state_dict(),
            "critic_state_dict": critic.state_dict(),
            "optimizer_state_dict": opt.state_dict(),
            "iter": 3000,
            "infos": {},
        },
        str(path),
    )
    return path


# -- the four checkpoints ---------------------------------------------------------------------------------


def make_case(case: str, folder: Path, seed: int = 0):
    """(checkpoint path, the trainer's module whose act_inference / forward is the deployed policy)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    path = folder / f"model_{case}.pt"
    if case == "v2_mlp":  # legged_gym: rsl_rl 1.0.2's ActorCritic, PPO defaults
        policy = ActorCritic(48, 12, [512, 256, 128], [512, 256, 128])
        return save_runner_v2(policy, path), policy.act_inference, policy.reset
    if case == "v2_lstm":  # ActorCriticRecurrent, two LSTM layers, 2.x runner normaliser beside it
        policy = ActorCriticRecurrent(48, 12, [128, 64], [128, 64], rnn_type="lstm", rnn_hidden_dim=64, rnn_num_layers=2, noise_std_type="log")
        norm = EmpiricalNormalization(48, rng)
        return save_runner_v2(policy, path, norm), lambda x: policy.act_inference(norm(x)), policy.reset
    if case == "v3_mlp_norm":  # rsl_rl 3.x: the normaliser inside the policy
        policy = ActorCritic(48, 12, [256, 128], [256, 128], actor_obs_normalization=True, rng=rng)
        return save_runner_v2(policy, path), policy.act_inference, policy.reset
    if case == "v5_mlp_norm":
        actor = MLPModel(48, 12, [512, 256, 128], obs_normalization=True, rng=rng)
        critic = MLPModel(48, 1, [512, 256, 128], stochastic=False)
        return save_runner_v5(actor, critic, path), actor.forward, actor.reset
    if case == "v5_gru":
        actor = RNNModel(48, 12, [128, 64], rnn_type="gru", rnn_hidden_dim=128, obs_normalization=True, rng=rng)
        critic = RNNModel(48, 1, [128, 64], rnn_type="gru", rnn_hidden_dim=128, stochastic=False)
        return save_runner_v5(actor, critic, path), actor.forward, actor.reset
    raise ValueError(case)


def run_onnx_against(spec_path: Path, act, reset, obs: np.ndarray) -> float:
    """max |ONNX (the runtime's OnnxPolicy) - the trainer's module| over obs, both reset half-way."""
    policy = OnnxPolicy(load_spec(spec_path), providers="cpu")
    policy.reset()
    reset()
    worst = 0.0
    with torch.no_grad():
        for t, o in enumerate(obs):
            if t == len(obs) // 2:
                policy.reset()
                reset()
            a = policy.act(o[None], {})
            b = act(torch.from_numpy(o[None])).numpy().reshape(-1)
            worst = max(worst, float(np.max(np.abs(a - b))))
    return worst


CASES = ["v2_mlp", "v2_lstm", "v3_mlp_norm", "v5_mlp_norm", "v5_gru"]


@pytest.mark.parametrize("case", CASES)
def test_checkpoints_of_both_generations_import_equivalent_over_500_steps_with_a_reset(case, tmp_path):
    ckpt, act, reset = make_case(case, tmp_path)
    res = import_policy(ckpt, "rsl_rl", "go1", out=tmp_path / "out", name=case, log=lambda s: None)
    assert res.max_abs_diff <= TOLERANCE  # the framework's proof: ONNX vs the importer's torch reference
    spec = load_spec(res.spec)
    assert spec.obs_dim == 48 and spec.n_act == 12
    # and against the trainer's own module, on an independent sequence
    worst = run_onnx_against(res.spec, act, reset, smooth_observations(np.random.default_rng(7), 500, 48))
    print(f"{case}: framework {res.max_abs_diff:.3g}, against the trainer's module {worst:.3g}")
    assert worst <= TOLERANCE
    assert check_policy(res.spec, "go1").ok
    text = res.spec.read_text()
    if case == "v2_lstm":
        assert "shape: [2, 1, 64]" in text and "c_in" in text
    if case == "v5_gru":
        assert "shape: [1, 1, 128]" in text and "c_in" not in text
    if case in ("v2_mlp", "v3_mlp_norm", "v5_mlp_norm"):
        assert "recurrent: []" in text


def test_the_normaliser_is_in_the_graph(tmp_path):
    """A checkpoint whose normaliser moves the output: the ONNX follows the normalised network,
    and would be far off if the normaliser were dropped."""
    ckpt, act, _ = make_case("v5_mlp_norm", tmp_path)
    res = import_policy(ckpt, "rsl_rl", "go1", out=tmp_path / "out", name="norm", log=lambda s: None)
    actor = MLPModel(48, 12, [512, 256, 128], obs_normalization=True)
    actor.load_state_dict(torch.load(str(ckpt), weights_only=True)["actor_state_dict"])
    policy = OnnxPolicy(load_spec(res.spec), providers="cpu")
    obs = smooth_observations(np.random.default_rng(3), 20, 48)
    with torch.no_grad():
        with_norm = actor(torch.from_numpy(obs)).numpy()
        without = actor.mlp(torch.from_numpy(obs)).numpy()
    onnx = np.stack([policy.act(o[None], {}) for o in obs])
    assert np.max(np.abs(onnx - with_norm)) <= TOLERANCE
    assert np.max(np.abs(with_norm - without)) > 0.1


def test_a_go1_import_runs_through_the_runtime_remapped_by_name(tmp_path):
    """legged_gym's FL, FR, RL, RR order against the robot's FR, FL, RR, RL: an FL_hip offset lands
    in the policy's slot 0 and the policy's action 0 drives FL_hip."""
    robot = load_robot("go1")
    ckpt, act, reset = make_case("v5_gru", tmp_path)
    res = import_policy(ckpt, "rsl_rl", "go1", out=tmp_path / "out", name="gru", log=lambda s: None)
    rt = PolicyRuntime(res.spec, robot)
    rt.reset()
    reset()
    fl = robot.index_of(["FL_hip_joint"])[0]
    rr_calf = robot.index_of(["RR_calf_joint"])[0]
    assert fl == 3
    for k in range(5):
        q = robot.default_pose.copy()
        q[fl] += 0.1 * (k + 1)
        dq = np.zeros(12)
        dq[rr_calf] = 2.0
        inputs = ObsInputs(q=q[None], dq=dq[None], quat=np.array([[1.0, 0, 0, 0]]), ang_vel=np.zeros((1, 3)), lin_vel=np.array([[0.5, 0, 0]]),
                           command=np.array([[0.5, 0.0, 0.0]]))  # fmt: skip
        q_target, kp, kd, raw = rt.step(inputs, 0.02 * k)
        obs = rt.last_obs
        assert obs[0] == np.float32(1.0)  # base_lin_vel x 2
        assert np.allclose(obs[9:12], [1.0, 0.0, 0.0])  # command x (2, 2, 0.25)
        assert np.isclose(obs[12], 0.1 * (k + 1)) and np.allclose(obs[13:24], 0.0, atol=1e-6)  # FL_hip is the policy's slot 0
        assert np.isclose(obs[24 + 11], 0.1) and np.allclose(obs[24:35], 0.0)  # RR_calf velocity x 0.05 is the last slot
        with torch.no_grad():
            want = act(torch.from_numpy(obs[None].astype(np.float32))).numpy().reshape(-1)  # the trainer's module, state carried
        assert np.max(np.abs(raw - want)) <= TOLERANCE
        assert np.isclose(q_target[fl], 0.1 + 0.25 * np.clip(raw[0], -100, 100), atol=1e-5)
        assert np.allclose(kp, 20.0) and np.allclose(kd, 0.5)


def test_a_config_sets_the_conventions_by_legged_gym_names(tmp_path):
    """Isaac Lab's breadth-first joint order, tanh, other scales, gains by substring, dt x decimation."""
    torch.manual_seed(1)
    policy = ActorCritic(45, 12, [64, 32], [64, 32], activation="tanh")
    ckpt = save_runner_v2(policy, tmp_path / "model_10.pt")
    joints = [f"{leg}_{part}_joint" for part in ("hip", "thigh", "calf") for leg in ("FL", "FR", "RL", "RR")]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"joint_names: {joints}\n"
        "default_joint_angles: {FL_hip_joint: 0.05, FR_hip_joint: -0.05, RL_hip_joint: 0.05, RR_hip_joint: -0.05,\n"
        "  FL_thigh_joint: 0.9, FR_thigh_joint: 0.9, RL_thigh_joint: 0.9, RR_thigh_joint: 0.9,\n"
        "  FL_calf_joint: -1.8, FR_calf_joint: -1.8, RL_calf_joint: -1.8, RR_calf_joint: -1.8}\n"
        "stiffness: {joint: 25.0, calf: 30.0}\n"
        "damping: 0.6\n"
        "action_scale: 0.5\n"
        "obs_scales: {ang_vel: 1.0, dof_vel: 0.1}\n"
        "dt: 0.0025\n"
        "decimation: 8\n"
        "observations: [base_ang_vel, projected_gravity, commands, dof_pos, dof_vel, actions]\n"
        "policy: {activation: tanh, actor_hidden_dims: [64, 32], critic_hidden_dims: [64, 32], init_noise_std: 1.0}\n"
    )
    res = import_policy(ckpt, "rsl_rl", "go1", out=tmp_path / "out", name="lab", config=cfg, log=lambda s: None)
    worst = run_onnx_against(res.spec, policy.act_inference, policy.reset, smooth_observations(np.random.default_rng(2), 200, 45))
    assert worst <= TOLERANCE
    spec = load_spec(res.spec)
    assert list(spec.joint_order) == joints and spec.rate_hz == 50.0
    text = res.spec.read_text()
    assert "kp: [25.0, 25.0, 25.0, 25.0, 25.0, 25.0, 25.0, 25.0, 30.0, 30.0, 30.0, 30.0]" in text and "kd: 0.6" in text
    assert "scale: [2.0, 2.0, 1.0]" in text  # commands_scale follows obs_scales (lin_vel, lin_vel, ang_vel), as legged_gym
    assert "activation tanh (--config policy.activation" in text


# -- bad input: exit 2, file and key named, nothing in --out ------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lucid_ros.cli", "import-policy", *args], capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


def _edit(path: Path, fn) -> Path:
    d = torch.load(str(path), weights_only=True)
    fn(d)
    torch.save(d, str(path))
    return path


def _bad(kind: str, tmp: Path) -> tuple[list[str], list[str]]:
    """(extra CLI args, strings the message must contain)."""
    small = lambda: save_runner_v2(ActorCritic(48, 12, [32], [32]), tmp / "model_1.pt")  # noqa: E731
    if kind == "missing_key":
        ck = _edit(small(), lambda d: d["model_state_dict"].pop("actor.2.bias"))
        return [str(ck)], ["model_1.pt", "actor.2.bias", "missing"]
    if kind == "extra_key":
        ck = _edit(small(), lambda d: d["model_state_dict"].update({"estimator.0.weight": torch.zeros(3, 3)}))
        return [str(ck)], ["model_1.pt", "estimator.0.weight"]
    if kind == "joint_count":
        ck = save_runner_v2(ActorCritic(48, 10, [32], [32]), tmp / "model_1.pt")
        return [str(ck)], ["model_1.pt", "actor.2.weight", "10 actions", "12 joints"]
    if kind == "obs_size":
        ck = save_runner_v2(ActorCritic(50, 12, [32], [32]), tmp / "model_1.pt")
        return [str(ck)], ["model_1.pt", "actor.0.weight", "50 observations", "48"]
    if kind == "pickled_code":
        ck = tmp / "model_1.pt"
        torch.save({"model_state_dict": ActorCritic(48, 12, [32], [32])}, str(ck))  # a whole module: unpickling runs code
        return [str(ck)], ["model_1.pt", "refused"]
    cfg = tmp / "cfg.yaml"
    if kind == "config_joint":
        cfg.write_text("joint_names: [FL_hip, FL_thigh_joint]\n")
        return [str(small()), "--config", str(cfg)], ["cfg.yaml", "joint_names[0]", "FL_hip"]
    if kind == "config_unknown_key":
        cfg.write_text("stifness: {joint: 20.0}\n")
        return [str(small()), "--config", str(cfg)], ["cfg.yaml", "stifness", "unknown"]
    if kind == "config_contradicts":
        cfg.write_text("policy: {actor_hidden_dims: [512, 256, 128]}\n")
        return [str(small()), "--config", str(cfg)], ["cfg.yaml", "policy.actor_hidden_dims", "[32]"]
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind", ["missing_key", "extra_key", "joint_count", "obs_size", "pickled_code", "config_joint", "config_unknown_key", "config_contradicts"]
)
def test_bad_input_exits_2_naming_the_file_and_key_and_leaves_out_empty(kind, tmp_path):
    args, needles = _bad(kind, tmp_path)
    out = tmp_path / "out"
    r = cli(*args, "--from", "rsl_rl", "--robot", "go1", "--out", str(out))
    text = r.stdout + r.stderr
    assert r.returncode == 2, text[-2000:]
    for n in needles:
        assert n in text, (n, text[-2000:])
    assert not out.exists() or not any(out.iterdir())


def test_a_robot_without_legged_gym_joint_names_needs_a_config(tmp_path):
    ckpt = save_runner_v2(ActorCritic(48, 12, [32], [32]), tmp_path / "model_1.pt")
    with pytest.raises(ConfigError, match="joint_names"):
        import_policy(ckpt, "rsl_rl", "h1", out=tmp_path / "out", log=lambda s: None)
    assert not (tmp_path / "out").exists()
