"""`lucid-ros import-policy --from extreme_parkour|lucidsim`: the deployed visual-parkour students.

Checkpoints are made here with random weights, in the public code's layout (extreme-parkour
d2ffe27b: `Actor`, `StateHistoryEncoder`, `Estimator`, `DepthOnlyFCBackbone58x87`,
`RecurrentDepthBackbone`; LucidSim 1c73f539: the same modules, a 45 x 80 backbone, the actor-critic
state under `model_state_dict` with `actor.` keys) and saved as those runners save them. The
modules below are written from the public code's structure (Sequential indices, layer sizes), so
their state-dict keys are the keys a real checkpoint has; `deploy` steps them the way
extreme-parkour's play.py / LucidSim's ParkourActor.forward step them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="import-policy needs torch (pip install -e '.[import]')")
nn = torch.nn

from lucid_ros.importers import convert, import_policy  # noqa: E402
from lucid_ros.importers.base import TOLERANCE  # noqa: E402
from lucid_ros.policy.spec import load_spec  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402

N_PROP = 53


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lucid_ros.cli", *args], capture_output=True, text=True, env=dict(os.environ), timeout=600)


def seq(*dims: int, last=None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims, dims[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ELU())
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class HistoryEncoder(nn.Module):  # StateHistoryEncoder(ELU, 53, tsteps=10, 20)
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(N_PROP, 30), nn.ELU())
        self.conv_layers = nn.Sequential(nn.Conv1d(30, 20, 4, 2), nn.ELU(), nn.Conv1d(20, 10, 2, 1), nn.ELU(), nn.Flatten())
        self.linear_output = nn.Sequential(nn.Linear(30, 20), nn.ELU())

    def forward(self, hist):  # (B, 10, 53)
        p = self.encoder(hist.reshape(-1, N_PROP)).reshape(hist.shape[0], 10, -1).permute(0, 2, 1)
        return self.linear_output(self.conv_layers(p))


class Actor(nn.Module):
    def __init__(self, n_act: int = 12):
        super().__init__()
        self.priv_encoder = nn.Sequential(nn.Linear(29, 64), nn.ELU(), nn.Linear(64, 20), nn.ELU())
        self.history_encoder = HistoryEncoder()
        self.scan_encoder = nn.Sequential(nn.Linear(132, 128), nn.ELU(), nn.Linear(128, 64), nn.ELU(), nn.Linear(64, 32), nn.Tanh())
        self.actor_backbone = seq(N_PROP + 32 + 9 + 20, 512, 256, 128, n_act)

    def forward(self, obs, latent):  # hist_encoding=True, scandots_latent=latent
        hist = self.history_encoder(obs[:, -10 * N_PROP :].view(-1, 10, N_PROP))
        return self.actor_backbone(torch.cat([obs[:, :N_PROP], latent, obs[:, N_PROP + 132 : N_PROP + 141], hist], 1))


class Estimator(nn.Module):
    def __init__(self):
        super().__init__()
        self.estimator = seq(N_PROP, 128, 64, 9)


class Backbone(nn.Module):  # DepthOnlyFCBackbone58x87 / LucidSim's DepthOnlyFCBackbone
    def __init__(self, hw: tuple[int, int], channels: int = 1):
        super().__init__()
        flat = 64 * ((hw[0] - 4) // 2 - 2) * ((hw[1] - 4) // 2 - 2)
        self.image_compression = nn.Sequential(
            nn.Conv2d(channels, 32, 5), nn.MaxPool2d(2, 2), nn.ELU(), nn.Conv2d(32, 64, 3), nn.ELU(), nn.Flatten(),
            nn.Linear(flat, 128), nn.ELU(), nn.Linear(128, 32),
        )  # fmt: skip
        self.output_activation = nn.ELU()

    def forward(self, images):
        x = images.unsqueeze(1) if images.ndim == 3 else images
        return self.output_activation(self.image_compression(x))


class RecurrentDepthBackbone(nn.Module):
    def __init__(self, hw: tuple[int, int], channels: int = 1, n_out: int = 34):
        super().__init__()
        self.base_backbone = Backbone(hw, channels)
        self.combination_mlp = nn.Sequential(nn.Linear(32 + N_PROP, 128), nn.ELU(), nn.Linear(128, 32))
        self.rnn = nn.GRU(input_size=32, hidden_size=512, batch_first=True)
        self.output_mlp = nn.Sequential(nn.Linear(512, n_out), nn.Tanh())
        self.hidden_states = None

    def forward(self, image, proprio):
        x = self.combination_mlp(torch.cat((self.base_backbone(image), proprio), -1))
        x, self.hidden_states = self.rnn(x[:, None, :], self.hidden_states)
        return self.output_mlp(x.squeeze(1))


class ActorCritic(nn.Module):  # what model_state_dict holds: actor.*, critic.*, std
    def __init__(self, n_act: int = 12):
        super().__init__()
        self.actor = Actor(n_act)
        self.critic = seq(N_PROP + 132 + 9 + 29 + 530, 512, 256, 128, 1)
        self.std = nn.Parameter(torch.ones(n_act))


HW = {"extreme_parkour": (58, 87), "lucidsim": (45, 80)}


def make_checkpoint(path: Path, fmt: str, channels: int = 1, n_act: int = 12, n_out: int = 34, seed: int = 0, edit=None) -> dict:
    """A random-weight student saved as its trainer saves it; returns the modules."""
    torch.manual_seed(seed)
    ac, est, enc = ActorCritic(n_act), Estimator(), RecurrentDepthBackbone(HW[fmt], channels, n_out)
    depth_actor = Actor(n_act)  # trained separately from the teacher's actor (DAgger)
    ckpt = {"model_state_dict": ac.state_dict(), "estimator_state_dict": est.state_dict(), "depth_encoder_state_dict": enc.state_dict(),
            "optimizer_state_dict": {}, "iter": 100, "infos": None}  # fmt: skip
    if fmt == "extreme_parkour":
        ckpt["depth_actor_state_dict"] = depth_actor.state_dict()
    if edit is not None:
        edit(ckpt)
    torch.save(ckpt, path)
    return {"actor": depth_actor if fmt == "extreme_parkour" else ac.actor, "estimator": est, "encoder": enc}


def deploy(modules: dict, fmt: str, frames: np.ndarray, images: list[np.ndarray], distill: bool) -> np.ndarray:
    """The source's deploy loop over proprio frames (T, 53): the depth encoder on every 5th step,
    its latent (and yaw) held; the history of previous frames, yaw zeroed, filled with the first."""
    actor, est, enc = modules["actor"], modules["estimator"], modules["encoder"]
    enc.hidden_states = None
    out, history, latent, yaw = [], None, torch.zeros(1, 32), torch.zeros(1, 2)
    with torch.no_grad():
        for t, f in enumerate(frames):
            obs = torch.zeros(1, N_PROP + 132 + 9 + 29 + 10 * N_PROP)
            obs[0, :N_PROP] = torch.from_numpy(f)
            masked = obs[:, :N_PROP].clone()
            masked[:, 6:8] = 0
            history = masked.repeat(10, 1) if history is None else history
            obs[0, -10 * N_PROP :] = history.reshape(-1)
            if t % 5 == 0:
                image = torch.from_numpy(images[t])
                lat_yaw = enc(image[:, 0] if image.shape[1] == 1 else image, masked)
                latent, yaw = lat_yaw[:, :32], lat_yaw[:, 32:]
                if distill and fmt == "lucidsim":
                    obs[:, 6:8] = 1.5 * yaw
            if distill and fmt == "extreme_parkour":
                obs[:, 6:8] = 1.5 * yaw  # play.py: every step, the held yaw
            obs[:, N_PROP + 132 : N_PROP + 141] = est.estimator(obs[:, :N_PROP])
            out.append(actor(obs, latent).numpy()[0])
            history = torch.cat([history[1:], masked], 0)
    return np.array(out)


CASES = [("extreme_parkour", 1), ("lucidsim", 1), ("lucidsim", 3)]


@pytest.mark.parametrize(("fmt", "channels"), CASES, ids=["extreme_parkour-depth", "lucidsim-depth", "lucidsim-rgb"])
def test_reference_steps_the_source_modules_as_their_deploy_does(fmt, channels, tmp_path):
    """The importer's torch reference (its own functional code) against the public modules
    stepped like play.py / ParkourActor.forward, over 23 steps (5 frames)."""
    ckpt = tmp_path / "model_100.pt"
    modules = make_checkpoint(ckpt, fmt, channels)
    cfg = tmp_path / "run.yaml"
    cfg.write_text("direction_distillation: true\n")
    conv = convert(ckpt, fmt, "go1", cfg)
    rng = np.random.default_rng(3)
    obs = conv.observation_sampler(rng, 46)[:23]  # before the sampler's half-way reset
    frames = obs[:, -N_PROP:]
    H, W = HW[fmt]
    images = [rng.uniform(-0.5, 0.5, (1, channels, H, W)).astype(np.float32) for _ in range(23)]
    want = deploy(modules, fmt, frames, images, distill=True)
    conv.reference.reset()
    name = conv.spec["inputs"]["images"][0]["input"]
    got = np.array([conv.reference.step(obs[t][None], {name: images[t]}) for t in range(23)])
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(("fmt", "channels"), CASES, ids=["extreme_parkour-depth", "lucidsim-depth", "lucidsim-rgb"])
def test_students_import_equivalent_over_500_steps_with_a_reset(fmt, channels, tmp_path):
    """Imported, proved equivalent through the runtime's OnnxPolicy (a new frame every 5th step,
    random images every step so a leak of a non-fresh frame shows), checked against go1."""
    ckpt = tmp_path / "model_100.pt"
    make_checkpoint(ckpt, fmt, channels)
    res = import_policy(ckpt, fmt, "go1", out=tmp_path / "out", name=f"go1_{fmt}", log=lambda s: None)
    print(f"{fmt} channels {channels}: max |ONNX - torch| = {res.max_abs_diff:.3g} over {res.steps} steps")
    assert res.max_abs_diff <= TOLERANCE
    spec = load_spec(res.spec, load_robot("go1"))
    img = spec.images[0]
    assert (img.stream, img.fresh) == (("depth", "depth_fresh") if channels == 1 else ("color", "image_fresh"))
    assert spec.observation.history == 11 and spec.observation.frame_dim == N_PROP
    pre = img.preprocess
    assert pre["resize"] == list(HW[fmt]) if channels == 1 else pre["input_size"] == [45, 80]
    if fmt == "extreme_parkour":
        assert pre["crop"] == [0, 2, 4, 4] and pre["depth"]["clip"] == [0.0, 2.0] and pre["interpolation"] == "bicubic"
    [rec] = [r for r in spec.recurrent if r.input == "vision_in"]
    assert rec.shape == (1, 34)


# -- bad input: exit 2 naming the file and the key, nothing in --out ------------------------------------


def refused(ckpt: Path, fmt: str, *needles: str, extra: tuple[str, ...] = ()) -> None:
    """The CLI exits 2 naming every needle, and --out holds nothing afterwards."""
    out = ckpt.parent / "out"
    r = cli("import-policy", str(ckpt), "--from", fmt, "--robot", "go1", "--out", str(out), *extra)
    assert r.returncode == 2 and all(n in r.stdout + r.stderr for n in needles), r.stdout + r.stderr
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def _drop(top: str, key: str | None = None):
    def edit(ckpt):
        if key is None:
            del ckpt[top]
        else:
            del ckpt[top][key]

    return edit


def _reshape(top: str, key: str, shape):
    def edit(ckpt):
        ckpt[top][key] = torch.zeros(shape)

    return edit


BAD = [
    ("extreme_parkour", {"edit": _drop("depth_actor_state_dict")}, "depth_actor_state_dict"),
    ("lucidsim", {"edit": _drop("depth_encoder_state_dict", "rnn.weight_hh_l0")}, "depth_encoder_state_dict.rnn.weight_hh_l0"),
    ("extreme_parkour", {"edit": _reshape("estimator_state_dict", "estimator.0.weight", (128, 50))}, "estimator_state_dict.estimator.0.weight"),
    ("lucidsim", {"n_out": 33}, "depth_encoder_state_dict.output_mlp.0.weight"),
    ("extreme_parkour", {"channels": 3}, "depth_encoder_state_dict.base_backbone.image_compression.0.weight"),
    ("lucidsim", {"n_act": 10}, "model_state_dict.actor.actor_backbone"),
]


@pytest.mark.parametrize(("fmt", "kwargs", "key"), BAD, ids=["no-depth-actor", "missing-gru-key", "wrong-shape", "yaw-head", "rgb-ep", "joints"])
def test_bad_checkpoints_are_refused_naming_file_and_key(fmt, kwargs, key, tmp_path):
    ckpt = tmp_path / "model_7.pt"
    make_checkpoint(ckpt, fmt, **kwargs)
    refused(ckpt, fmt, str(ckpt), key)


def test_a_config_key_the_importer_does_not_know_is_refused(tmp_path):
    ckpt = tmp_path / "model_7.pt"
    make_checkpoint(ckpt, "lucidsim")
    cfg = tmp_path / "run.yaml"
    cfg.write_text("direction_distilation: true\n")
    refused(ckpt, "lucidsim", str(cfg), "direction_distilation", extra=("--config", str(cfg)))


def test_the_equivalence_check_sees_a_network_that_takes_every_frame(tmp_path):
    """Told that every step is fresh (no schedule), the ONNX takes the random image of every step
    while the source reads every 5th: the proof must fail, so the schedule is really exercised."""
    from lucid_ros.errors import PolicyMismatch
    from lucid_ros.importers import write_and_prove

    ckpt = tmp_path / "model_100.pt"
    make_checkpoint(ckpt, "extreme_parkour")
    conv = convert(ckpt, "extreme_parkour", "go1")
    conv.image_period = None
    with pytest.raises(PolicyMismatch, match="differs from the source"):
        write_and_prove(conv, tmp_path, "leaky", "go1", "extreme_parkour", steps=20, log=lambda s: None)


def test_an_imported_student_runs_through_the_graph_with_the_camera_in_the_loop(tmp_path):
    """`lucid-ros sim`'s in-process graph (every node, the camera node rendering and preprocessing
    the ego depth stream) on the hurdle course: frames reach the runner at 10 Hz, the network steps
    at 50 Hz and is told a frame is new on one step in five. No success claim: the weights are
    random (a fall is fine)."""
    from lucid_ros.nodes.graph import SimGraph

    ckpt = tmp_path / "model_100.pt"
    make_checkpoint(ckpt, "extreme_parkour")
    res = import_policy(ckpt, "extreme_parkour", "go1", out=tmp_path / "out", name="go1_ep", steps=20, log=lambda s: None)
    flags: list[bool] = []
    with SimGraph(robot="go1", policy=res.spec, course="hurdle", cmd_vel=(0.5, 0.0, 0.0)) as g:
        runner = g.nodes["policy_runner"]
        assert runner.runtime is not None, runner.refusal
        act = runner.runtime.policy.act

        def spy(obs, images=None, fresh=None, ages=None):
            flags.append(bool((fresh or {}).get("depth", True)))
            return act(obs, images, fresh, ages)

        runner.runtime.policy.act = spy
        assert g.wait_for_state("RUNNING", wall_timeout=120), g.monitor.metrics.events
        g.run_for(3.0)
        tensors, steps = g.nodes["camera"].tensors, runner.steps
    assert tensors >= 30, tensors  # >= 3 s of a 10 Hz input
    assert steps >= 150 and len(flags) >= 150, (steps, len(flags))
    share = sum(flags) / len(flags)
    print(f"graph: {tensors} camera tensors, {steps} policy steps, {sum(flags)} of {len(flags)} told fresh; state {g.state}")
    assert 0.15 <= share <= 0.25, f"{sum(flags)} fresh of {len(flags)} steps"


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "model_7.pt"
    ckpt.write_bytes(b"\x00not a zip" * 10)
    refused(ckpt, "extreme_parkour", str(ckpt), "weights_only=True")
