"""unitree_rl_gym: Unitree's TorchScript humanoid policies (`deploy/pre_train/<robot>/motion.pt`).

The file is `forward(obs [1, n_obs]) -> actions [1, n_act]` with a one-layer LSTM ("memory")
whose h and c live in module buffers updated in place on every call, then an MLP actor. Here the
state becomes two explicit ONNX inputs/outputs (`h_in`/`h_out`, `c_in`/`c_out`, [1, 1, H]),
declared in the spec's `inputs.recurrent`, so the runner owns and resets it.

The observation (Unitree's deploy_mujoco / deploy_real): angular velocity × 0.25, projected
gravity, command × (2, 2, 0.25), (q − the policy's default) × 1, dq × 0.05, last action, then
sin/cos of a 0.8 s gait clock that reads 0.02 s at the first policy step (their deploy counts the
10 physics steps before it). Only the legs are the policy's; the other joints hold the robot's
default pose with the robot's gains, as Unitree's real deploy holds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.importers.base import Conversion, require, source_error
from lucid_ros.importers.onnxgraph import GraphBuilder

PERIOD_S = 0.8  # hard-coded in unitree_rl_gym's deploy scripts and envs, not in any config


def _legs(names: list[str]) -> list[str]:
    return [f"left_{n}_joint" for n in names] + [f"right_{n}_joint" for n in names]


# Per-robot conventions of unitree_rl_gym (its deploy configs; ../shared/facts): used when no
# --config is given, and for the joint names, which its configs never state.
ROBOTS: dict[str, dict[str, Any]] = {
    "h1": {
        "joints": _legs(["hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle"]),
        "default_angles": [0.0, 0.0, -0.1, 0.3, -0.2] * 2,
        "kps": [150.0, 150.0, 150.0, 200.0, 40.0] * 2,
        "kds": [2.0, 2.0, 2.0, 4.0, 2.0] * 2,
    },
    "g1": {
        "joints": _legs(["hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll"]),
        "default_angles": [-0.1, 0.0, 0.0, 0.3, -0.2, 0.0] * 2,
        "kps": [100.0, 100.0, 100.0, 150.0, 40.0, 40.0] * 2,
        "kds": [2.0, 2.0, 2.0, 4.0, 2.0, 2.0] * 2,
    },
    "h1_2": {
        "joints": _legs(["hip_yaw", "hip_pitch", "hip_roll", "knee", "ankle_pitch", "ankle_roll"]),
        "default_angles": [0.0, -0.16, 0.0, 0.36, -0.2, 0.0] * 2,
        "kps": [200.0, 200.0, 200.0, 300.0, 40.0, 40.0] * 2,
        "kds": [2.5, 2.5, 2.5, 4.0, 2.0, 2.0] * 2,
    },
}
COMMON = {
    "ang_vel_scale": 0.25,
    "dof_pos_scale": 1.0,
    "dof_vel_scale": 0.05,
    "action_scale": 0.25,
    "cmd_scale": [2.0, 2.0, 0.25],
    "simulation_dt": 0.002,
    "control_decimation": 10,
}
_ACTIVATIONS = {"ELU": "elu", "ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "LeakyReLU": "lrelu", "SELU": "selu"}


class _TorchScriptReference:
    """The file itself, run as Unitree's deploy runs it (state in its buffers)."""

    def __init__(self, module: torch.jit.ScriptModule):
        self.module = module

    def reset(self) -> None:
        with torch.no_grad():
            self.module.hidden_state.zero_()
            self.module.cell_state.zero_()

    def step(self, obs: np.ndarray, images) -> np.ndarray:
        with torch.no_grad():
            return self.module(torch.from_numpy(np.asarray(obs, dtype=np.float32))).numpy().reshape(-1)


def load_module(path: Path) -> torch.jit.ScriptModule:
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError / ValueError / zip errors
        raise source_error(path, None, f"not a TorchScript file (unitree_rl_gym's deploy/pre_train/<robot>/motion.pt is one): {exc}") from exc


def read_config(cfg: Path | None, robot: str, n_act: int) -> dict[str, Any]:
    """unitree_rl_gym's deploy YAML (deploy_mujoco or deploy_real configs) over the built-in
    defaults for `robot`. Only the keys that shape the policy's inputs and outputs are read; the
    rest (paths, motor slot maps, durations) belong to their deploy script."""
    if robot not in ROBOTS:
        raise ConfigError(None, "--robot", f"no unitree_rl_gym conventions known for robot '{robot}' (known: {sorted(ROBOTS)})")
    values: dict[str, Any] = {**COMMON, **ROBOTS[robot]}
    if cfg is None:
        return values
    raw = read_yaml(cfg, "deploy config (--config)")
    f = Fields(raw, cfg)
    for key in ("ang_vel_scale", "dof_pos_scale", "dof_vel_scale", "action_scale", "simulation_dt"):
        if f.has(key):
            values[key] = f.float(key, lo=0, strict=key != "dof_pos_scale")
    if f.has("control_decimation"):
        values["control_decimation"] = f.int("control_decimation", lo=1)
    if f.has("control_dt"):  # deploy_real states the policy period directly
        values["simulation_dt"], values["control_decimation"] = f.float("control_dt", lo=0, strict=True), 1
    if f.has("cmd_scale"):
        values["cmd_scale"] = f.float_list("cmd_scale", length=3)
    for key in ("kps", "kds", "default_angles"):
        if f.has(key):
            values[key] = f.float_list(key, length=n_act)
    if f.has("num_actions") and f.int("num_actions") != n_act:
        raise f.error("num_actions", f"says {f.int('num_actions')}, the checkpoint's actor outputs {n_act}")
    values["num_obs"] = f.int("num_obs", lo=1) if f.has("num_obs") else None
    return values


def convert(path: Path, robot: str, config: Path | None, name: str, fmt: str = "unitree_rl_gym") -> Conversion:
    module = load_module(path)
    state = {k: v.detach() for k, v in module.state_dict().items()}
    require(state, path, {"hidden_state": (1, 1, None), "cell_state": (1, 1, None), "memory.weight_ih_l0": (None, None),
                          "memory.weight_hh_l0": (None, None), "memory.bias_ih_l0": (None,), "memory.bias_hh_l0": (None,)})  # fmt: skip
    hidden = state["memory.weight_hh_l0"].shape[1]
    n_obs = state["memory.weight_ih_l0"].shape[1]
    if state["memory.weight_ih_l0"].shape[0] != 4 * hidden:
        raise source_error(
            path, "memory.weight_ih_l0", f"has {state['memory.weight_ih_l0'].shape[0]} rows; an LSTM of hidden size {hidden} has {4 * hidden}"
        )
    if "memory.weight_ih_l1" in state:
        raise source_error(path, "memory.weight_ih_l1", "a multi-layer LSTM: unitree_rl_gym exports one layer; not supported")
    layers, activation = _actor(module, state, path, hidden)
    n_act = layers[-1][0].shape[0]
    values = read_config(config, robot, n_act)
    joints = values["joints"]
    if len(joints) != n_act:
        raise source_error(path, "actor", f"outputs {n_act} actions; unitree_rl_gym's {robot} policy drives {len(joints)} joints ({joints})")
    want_obs = 9 + 3 * n_act + 2
    if n_obs != want_obs:
        raise source_error(
            path, "memory.weight_ih_l0", f"reads {n_obs} observations; unitree_rl_gym's layout for {n_act} joints is {want_obs} (9 + 3 x {n_act} + 2)"
        )
    if values.get("num_obs") not in (None, n_obs):
        raise ConfigError(config, "num_obs", f"says {values['num_obs']}, the checkpoint's LSTM reads {n_obs}")
    _probe(module, path, n_obs, n_act)

    g = GraphBuilder(f"{name}_unitree_rl_gym")
    obs = g.input("obs", [1, n_obs])
    h_in, c_in = g.input("h_in", [1, 1, hidden]), g.input("c_in", [1, 1, hidden])
    seq = g.unsqueeze(obs, [0])  # (seq 1, batch 1, n_obs)
    y, h_out, c_out = g.lstm(
        seq, h_in, c_in, state["memory.weight_ih_l0"], state["memory.weight_hh_l0"], state["memory.bias_ih_l0"], state["memory.bias_hh_l0"]
    )
    x = g.mlp(g.squeeze(y, [0]), layers, activation)
    g.output(x, "actions", [1, n_act])
    g.output(h_out, "h_out", [1, 1, hidden])
    g.output(c_out, "c_out", [1, 1, hidden])

    rate = 1.0 / (values["simulation_dt"] * values["control_decimation"])
    spec = {
        "format": "lucid_ros.policy/1",
        "rate_hz": round(rate, 6),
        "joint_order": joints,
        "gains": {"kp": values["kps"], "kd": values["kds"]},
        "action": {"clip": 100.0, "scale": values["action_scale"], "offset": values["default_angles"]},
        "observation": {
            "history": 1,
            "clip": 100.0,
            "terms": [
                {"name": "base_ang_vel", "scale": values["ang_vel_scale"]},
                {"name": "projected_gravity"},
                {"name": "velocity_command", "scale": values["cmd_scale"]},
                {"name": "joint_pos_rel", "default": values["default_angles"], "scale": values["dof_pos_scale"]},
                {"name": "joint_vel", "scale": values["dof_vel_scale"]},
                {"name": "last_action"},
                {"name": "gait_phase", "frequency": 1.0 / PERIOD_S, "start": round(1.0 / rate, 9)},
            ],
        },
        "inputs": {
            "observation": "obs",
            "images": [],
            "recurrent": [
                {"input": "h_in", "output": "h_out", "shape": [1, 1, hidden]},
                {"input": "c_in", "output": "c_out", "shape": [1, 1, hidden]},
            ],
        },
        "outputs": {"action": "actions"},
        "training": {"trainer": "unitree_rl_gym (legged_gym + rsl_rl ActorCriticRecurrent, exported as TorchScript)"},
    }
    notes = [
        f"joint order {joints} (unitree_rl_gym's {robot} policy order; their configs do not name joints)",
        f"policy rate {rate:g} Hz (dt {values['simulation_dt']} x decimation {values['control_decimation']})",
        f"gait clock period {PERIOD_S} s, {1.0 / rate:g} s at the first policy step (their deploy scripts)",
        "observation and action clip 100 (legged_gym's clip_observations / clip_actions)",
        "joints outside joint_order hold the robot's default pose with the robot's gains",
    ]
    if config is None:
        notes.append(f"scales, gains and default pose: unitree_rl_gym's {robot} deploy config (no --config given)")
    reference = _TorchScriptReference(module)
    return Conversion(spec=spec, graph=g, reference=reference, notes=notes, observation_sampler=_rollout_sampler(reference, values, n_act, rate))


def _rollout_sampler(reference: _TorchScriptReference, values: dict[str, Any], n_act: int, rate: float):
    """Observations as a walking robot produces them, in the policy's own layout: a slowly
    tilting body, joints swinging about the default pose, commands that change now and then, the
    gait clock advancing by one policy period, and last_action fed back from the source network
    itself (closed loop). Magnitudes stay those of a rollout, so the comparison measures the
    conversion, not float32 rounding on inputs no robot produces."""

    def sample(rng: np.random.Generator, steps: int) -> np.ndarray:
        out = np.zeros((steps, 9 + 3 * n_act + 2), dtype=np.float32)
        tilt, omega, q, dq = np.zeros(2), np.zeros(3), np.zeros(n_act), np.zeros(n_act)
        cmd = np.zeros(3)
        action = np.zeros(n_act, dtype=np.float32)
        reference.reset()
        for t in range(steps):
            if t % 100 == 0:
                cmd = rng.uniform([-0.5, -0.3, -0.8], [1.0, 0.3, 0.8])
            omega = 0.8 * omega + rng.normal(0, 0.3, 3)
            tilt = np.clip(0.95 * tilt + rng.normal(0, 0.02, 2), -0.3, 0.3)
            gravity = np.array([np.sin(tilt[1]), -np.cos(tilt[1]) * np.sin(tilt[0]), -np.cos(tilt[1]) * np.cos(tilt[0])])
            dq = 0.7 * dq + rng.normal(0, 1.5, n_act)
            q = np.clip(q + dq / rate, -0.6, 0.6)
            clock = 2 * np.pi * ((t + 1) / rate % PERIOD_S) / PERIOD_S
            out[t] = np.concatenate(
                [
                    omega * values["ang_vel_scale"],
                    gravity,
                    cmd * values["cmd_scale"],
                    q * values["dof_pos_scale"],
                    dq * values["dof_vel_scale"],
                    action,
                    [np.sin(clock), np.cos(clock)],
                ]
            )
            action = reference.step(out[t][None], {}).astype(np.float32)
        reference.reset()
        return out

    return sample


def _actor(module: torch.jit.ScriptModule, state: dict, path: Path, hidden: int) -> tuple[list[tuple[Any, Any]], str]:
    """The actor's Linear layers in order and the activation between them (read from the
    TorchScript's own module types, not assumed)."""
    children = list(module.actor.named_children()) if hasattr(module, "actor") else []
    if not children:
        raise source_error(path, "actor", "the TorchScript module has no 'actor' Sequential")
    layers, acts = [], set()
    for idx, child in children:
        kind = child.original_name
        if kind == "Linear":
            require(state, path, {f"actor.{idx}.weight": (None, None), f"actor.{idx}.bias": (None,)})
            layers.append((state[f"actor.{idx}.weight"], state[f"actor.{idx}.bias"]))
        elif kind in _ACTIVATIONS:
            acts.add(_ACTIVATIONS[kind])
        else:
            raise source_error(path, f"actor.{idx}", f"layer type {kind} is not supported (Linear and {sorted(_ACTIVATIONS)})")
    if len(acts) > 1:
        raise source_error(path, "actor", f"mixed activations {sorted(acts)}: not supported")
    if layers[0][0].shape[1] != hidden:
        raise source_error(path, f"actor.{children[0][0]}.weight", f"reads {layers[0][0].shape[1]} values; the LSTM gives {hidden}")
    return layers, (acts.pop() if acts else "identity")


def _probe(module: torch.jit.ScriptModule, path: Path, n_obs: int, n_act: int) -> None:
    """Run the TorchScript once on a zero observation of the stated size (then restore its state):
    a module that rejects that size, or returns another action size, is refused here."""
    saved = (module.hidden_state.clone(), module.cell_state.clone())
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, n_obs))
    except Exception as exc:  # noqa: BLE001 - TorchScript raises its own error types
        raise source_error(path, "forward", f"rejects an observation of shape [1, {n_obs}]: {str(exc).splitlines()[0]}") from exc
    finally:
        with torch.no_grad():
            module.hidden_state.copy_(saved[0])
            module.cell_state.copy_(saved[1])
    if tuple(out.shape) != (1, n_act):
        raise source_error(path, "forward", f"returns shape {list(out.shape)} for one observation, expected [1, {n_act}]")
