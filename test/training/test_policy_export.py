"""Export round trip: torch actor -> ONNX (normaliser inside) -> spec -> OnnxPolicy gives the same action."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is the [train] extra; the export tools need it")

from lucid_ros.policy.runner import OnnxPolicy  # noqa: E402
from lucid_ros.policy.spec import load_spec  # noqa: E402
from lucid_ros.robots.description import load_robot  # noqa: E402
from lucid_ros.training.config import ObsConfig, PPOConfig, spec_dict  # noqa: E402
from lucid_ros.training.export import actor_to_onnx, write_spec  # noqa: E402
from lucid_ros.training.ppo import ActorCritic  # noqa: E402
from lucid_ros.training.train_walk import trot_generator  # noqa: E402


@pytest.mark.parametrize("with_trot", [False, True])
def test_exported_onnx_matches_torch_actor(tmp_path, with_trot):
    robot = load_robot("go1")
    obs_cfg = ObsConfig()
    torch.manual_seed(0)
    model = ActorCritic(47 * obs_cfg.history, 21, 12, PPOConfig())
    with torch.no_grad():  # a trained-looking network: non-trivial last layer and normaliser statistics
        model.actor[-1].weight.normal_(0, 0.3)
        model.obs_norm.update(torch.randn(4096, 47 * obs_cfg.history) * 3.0 + 1.0)
    onnx_path = actor_to_onnx(model, tmp_path / "walk.onnx")
    spec_path = write_spec(spec_dict(robot, obs_cfg, name="walk"), onnx_path, tmp_path / "walk.yaml")
    spec = load_spec(spec_path, robot)
    if with_trot:  # the trot prior reads clock and command from the observation; it must be in the graph too
        model.tg = trot_generator(spec, robot, obs_cfg)
        onnx_path = actor_to_onnx(model, tmp_path / "walk.onnx")
        spec = load_spec(write_spec(spec_dict(robot, obs_cfg, name="walk"), onnx_path, tmp_path / "walk.yaml"), robot)
    policy = OnnxPolicy(spec, providers="cpu")
    rng = np.random.default_rng(1)
    cmd = spec.observation.term_indices("velocity_command")[-1]
    for k in range(6):
        obs = rng.normal(0, 2.0, (1, spec.obs_dim)).astype(np.float32)
        if k == 0:
            obs[0, cmd] = 0.0  # zero command: the trot is silent
        if with_trot:
            tg = model.tg(torch.from_numpy(obs)).numpy()
            assert (np.abs(tg).max() > 0.1) == (k > 0)
        want = model.mean_action(torch.from_numpy(obs)).detach().numpy()[0]
        got = policy.act(obs)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    # same weights, same bytes: the sha256 in a spec identifies the network
    again = actor_to_onnx(model, tmp_path / "again.onnx")
    assert again.read_bytes() == onnx_path.read_bytes()


def test_trot_generator_flexes_each_robot_the_way_its_joints_bend(tmp_path):
    """tg_thigh / tg_calf are in Go1's signs (thigh +, calf -); the Mini Cheetah's hip and knee turn
    about -y (stand -0.8, +1.6), so the same physical swing has the opposite signs there."""
    obs_cfg = ObsConfig()
    amplitude = {}
    for name in ("go1", "mini_cheetah"):
        robot = load_robot(name)
        model = ActorCritic(47 * obs_cfg.history, 21, 12, PPOConfig())
        onnx_path = actor_to_onnx(model, tmp_path / f"{name}.onnx")
        spec = load_spec(write_spec(spec_dict(robot, obs_cfg, name=name), onnx_path, tmp_path / f"{name}.yaml"), robot)
        amplitude[name] = trot_generator(spec, robot, obs_cfg).amplitude.numpy()[:3]
    np.testing.assert_allclose(amplitude["go1"], [0.0, obs_cfg.tg_thigh, obs_cfg.tg_calf])  # unchanged for the Go1
    np.testing.assert_allclose(amplitude["mini_cheetah"], -amplitude["go1"])
