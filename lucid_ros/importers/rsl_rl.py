"""rsl_rl / legged_gym: `model_<iter>.pt` as `OnPolicyRunner.save` writes it -> ONNX + spec.

Two generations of checkpoint, told apart by their keys, never by a version guess:
- `model_state_dict` (rsl_rl 1.0.2 as legged_gym pins it, through 3.x): ActorCritic /
  ActorCriticRecurrent, actor `actor.0.weight` ..., `std` or `log_std`, recurrent
  `memory_a.rnn.*`; the critic (`critic.*`, `memory_c.*`) is not needed. The observation
  normaliser sits either beside it (`obs_norm_state_dict`, rsl_rl 2.1-2.3's runner) or inside it
  (`actor_obs_normalizer.*`, 3.x).
- `actor_state_dict` (rsl_rl 4-5): MLPModel / RNNModel, `mlp.*`, `rnn.rnn.*`,
  `obs_normalizer.*`, `std`/`log_std` (4.x) or `distribution.std_param`/`log_std_param` (5.x).
The deployed action is the actor's mean. The normaliser, (obs - mean) / (std + 0.01), goes into
the ONNX graph (as rsl_rl's own `as_onnx` export does), so the spec's observation is what the
trainer's environment produced. Recurrent state becomes explicit `h_in`/`h_out` (and
`c_in`/`c_out` for an LSTM), [num_layers, 1, hidden].

What the network reads and what its output means comes from legged_gym's conventions
(`lucid_ros.importers.legged_gym`), overridable with `--config`.

`python -m lucid_ros.importers.rsl_rl --write-example` regenerates
config/policies/examples/legged_gym_go1.yaml from a random-weight legged_gym Go1 checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.importers import legged_gym
from lucid_ros.importers.base import Conversion, refuse_extra, require, source_error
from lucid_ros.importers.onnxgraph import GraphBuilder, f32

EPS = 1e-2  # rsl_rl EmpiricalNormalization's eps in every version; the checkpoint does not hold it
_TORCH_ACT = {
    "elu": nn.ELU,
    "crelu": nn.CELU,  # rsl_rl's name for CELU(alpha=1), which is ELU
    "relu": nn.ReLU,
    "selu": nn.SELU,
    "lrelu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
_GRAPH_ACT = {"crelu": "elu"}


@dataclass(frozen=True)
class Layout:
    """Where one generation of rsl_rl keeps the actor's parts in its checkpoint."""

    what: str
    state: str  # the top-level key of the actor's state dict
    mlp: str
    memory: str  # the torch RNN is at f"{memory}.rnn"
    normalizer: str
    std: tuple[str, ...]
    ignored: tuple[str, ...]  # key prefixes in the same state dict that the deployed actor does not use


ACTOR_CRITIC = Layout(
    "model_state_dict: rsl_rl <= 3.x ActorCritic / ActorCriticRecurrent (legged_gym's rsl_rl 1.0.2 included)",
    "model_state_dict",
    "actor",
    "memory_a",
    "actor_obs_normalizer",
    ("std", "log_std"),
    ("critic.", "memory_c.", "critic_obs_normalizer."),
)
ACTOR_MODEL = Layout(
    "actor_state_dict: rsl_rl >= 4 MLPModel / RNNModel",
    "actor_state_dict",
    "mlp",
    "rnn",
    "obs_normalizer",
    ("std", "log_std", "distribution.std_param", "distribution.log_std_param"),
    (),
)
_NORM_KEYS = ("_mean", "_var", "_std", "count")


@dataclass
class Network:
    """The actor read from a checkpoint: its tensors under their own names, and its shape."""

    layout: Layout
    actor: dict[str, torch.Tensor]  # the actor module's state dict (MLP, RNN, in-module normaliser), std excluded
    layers: list[tuple[torch.Tensor, torch.Tensor]]  # Linear (weight, bias) in order
    n_obs: int
    n_act: int
    rnn: tuple[str, int, int] | None = None  # (lstm | gru, hidden, num_layers)
    outer_normalizer: dict[str, torch.Tensor] | None = None  # rsl_rl 2.x's obs_norm_state_dict
    iteration: int | None = None
    notes: list[str] = field(default_factory=list)

    def normalizer(self) -> dict[str, torch.Tensor] | None:
        pre = f"{self.layout.normalizer}."
        inner = {k[len(pre) :]: v for k, v in self.actor.items() if k.startswith(pre)}
        return inner or self.outer_normalizer

    def rnn_weights(self, k: int) -> list[torch.Tensor]:
        return [self.actor[f"{self.layout.memory}.rnn.{w}_l{k}"] for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """torch.load with weights_only: tensors and plain containers, never code."""
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors alike
        text = str(exc)
        if "Weights only load failed" in text or "weights_only" in text:
            raise source_error(
                path, None, "holds pickled objects other than tensors (code would run to load it); refused. Save the state dicts: "
                "torch.save({'model_state_dict': policy.state_dict(), ...}) as rsl_rl's OnPolicyRunner.save does"
            ) from exc  # fmt: skip
        raise source_error(path, None, f"not a torch checkpoint rsl_rl wrote: {text.splitlines()[0] if text else type(exc).__name__}") from exc
    if isinstance(ckpt, torch.jit.ScriptModule):
        raise source_error(path, None, "a TorchScript export (legged_gym's export_policy_as_jit): import the model_<iter>.pt it was exported from")
    if not isinstance(ckpt, dict):
        raise source_error(path, None, f"holds a {type(ckpt).__name__}; rsl_rl's OnPolicyRunner.save writes a dict")
    return ckpt


def read_network(path: Path, ckpt: dict[str, Any]) -> Network:
    """The actor of either generation, every key checked: a missing key, a wrong shape or a key
    the importer does not know is a ConfigError naming it."""
    if "actor_state_dict" in ckpt:
        layout = ACTOR_MODEL
    elif "model_state_dict" in ckpt:
        layout = ACTOR_CRITIC
    else:
        raise source_error(
            path,
            "model_state_dict",
            f"missing: neither 'model_state_dict' nor 'actor_state_dict' at the top level (found {sorted(map(str, ckpt))[:8]})",
        )
    state = ckpt[layout.state]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise source_error(path, layout.state, "is not a state dict of tensors")
    used: set[str] = set()

    # -- the MLP: Linear layers at 0, 2, 4, ... with an activation between them (rsl_rl's MLP)
    pre = f"{layout.mlp}."
    idx = sorted({int(k[len(pre) :].split(".")[0]) for k in state if k.startswith(pre) and k[len(pre) :].split(".")[0].isdigit()})
    if not idx:
        require(state, path, {f"{pre}0.weight": (None, None)})
    if idx != list(range(0, 2 * len(idx), 2)):
        raise source_error(path, f"{pre}{idx}", f"Linear layers at indices {idx}; rsl_rl's MLP has them at 0, 2, 4, ... (an activation between)")
    layers = []
    for n, i in enumerate(idx):
        w, b = f"{pre}{i}.weight", f"{pre}{i}.bias"
        want_in = None if n == 0 else layers[-1][0].shape[0]
        require(state, path, {w: (None, want_in), b: (state[w].shape[0] if w in state else None,)})
        layers.append((state[w], state[b]))
        used |= {w, b}
    n_act = layers[-1][0].shape[0]

    # -- the recurrent part, if any: rsl_rl's Memory / RNN wrapper around a torch LSTM or GRU
    rnn, rp = None, f"{layout.memory}.rnn."
    n_obs = layers[0][0].shape[1]
    if any(k.startswith(rp) for k in state):
        require(state, path, {f"{rp}weight_hh_l0": (None, None)})
        hidden = state[f"{rp}weight_hh_l0"].shape[1]
        gates = state[f"{rp}weight_hh_l0"].shape[0] // hidden
        if gates not in (3, 4) or state[f"{rp}weight_hh_l0"].shape[0] != gates * hidden:
            raise source_error(
                path, f"{rp}weight_hh_l0", f"has shape {list(state[f'{rp}weight_hh_l0'].shape)}: neither an LSTM (4 x hidden rows) nor a GRU (3 x)"
            )
        kind = "lstm" if gates == 4 else "gru"
        require(state, path, {f"{rp}weight_ih_l0": (gates * hidden, None)})
        n_obs = state[f"{rp}weight_ih_l0"].shape[1]
        num_layers = 0
        while f"{rp}weight_ih_l{num_layers}" in state:
            k, n_in = num_layers, n_obs if num_layers == 0 else hidden
            shapes = {f"{rp}weight_ih_l{k}": (gates * hidden, n_in), f"{rp}weight_hh_l{k}": (gates * hidden, hidden)}
            shapes |= {f"{rp}bias_ih_l{k}": (gates * hidden,), f"{rp}bias_hh_l{k}": (gates * hidden,)}
            require(state, path, shapes)
            used |= set(shapes)
            num_layers += 1
        if layers[0][0].shape[1] != hidden:
            raise source_error(path, f"{pre}0.weight", f"reads {layers[0][0].shape[1]} values; the {kind.upper()} gives {hidden}")
        rnn = (kind, hidden, num_layers)

    # -- the observation normaliser: inside the actor (3.x+) or beside it (2.x's runner)
    npre = f"{layout.normalizer}."
    outer = None
    norm_shapes = {"_mean": (1, n_obs), "_var": (1, n_obs), "_std": (1, n_obs), "count": ()}
    if any(k.startswith(npre) for k in state):
        require(state, path, {npre + k: s for k, s in norm_shapes.items()})
        used |= {npre + k for k in norm_shapes}
        if "obs_norm_state_dict" in ckpt:
            raise source_error(path, "obs_norm_state_dict", f"a second observation normaliser beside {npre}*: which one the policy used is ambiguous")
    elif "obs_norm_state_dict" in ckpt:
        raw = ckpt["obs_norm_state_dict"]
        if not isinstance(raw, dict):
            raise source_error(path, "obs_norm_state_dict", "is not a state dict")
        view = {f"obs_norm_state_dict.{k}": v for k, v in raw.items()}
        require(view, path, {f"obs_norm_state_dict.{k}": s for k, s in norm_shapes.items()})
        refuse_extra(view, path, "obs_norm_state_dict.", {f"obs_norm_state_dict.{k}" for k in norm_shapes})
        outer = {k: raw[k] for k in norm_shapes}

    # -- the action noise: only its size is used (the deployed action is the mean)
    stds = [k for k in layout.std if k in state]
    if not stds:
        raise source_error(
            path, layout.std[0], f"missing (looked for {list(layout.std)}): without a state-independent Gaussian std the deterministic "
            "action is not the MLP's output as is (state-dependent std or a Beta distribution); not supported"
        )  # fmt: skip
    if len(stds) > 1:
        raise source_error(path, stds[1], f"both {stds[0]} and {stds[1]}: an actor has one action noise")
    require(state, path, {stds[0]: (n_act,)})
    used.add(stds[0])

    refuse_extra(state, path, "", used | {k for k in state if layout.ignored and k.startswith(layout.ignored)})
    actor = {k: v for k, v in state.items() if k in used and k != stds[0]}
    it = ckpt.get("iter")
    return Network(layout, actor, layers, n_obs, n_act, rnn, outer, it if isinstance(it, int) else None)


# -- the source network in torch, under rsl_rl's own module names ------------------------------------


class _Memory(nn.Module):
    """rsl_rl's Memory (<= 3.x) / RNN (>= 4) wrapper: the torch RNN sits at `.rnn`."""

    def __init__(self, kind: str, n_in: int, hidden: int, num_layers: int):
        super().__init__()
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(n_in, hidden, num_layers)


class _Normalizer(nn.Module):
    """rsl_rl's EmpiricalNormalization at inference: its buffers, (x - mean) / (std + eps)."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("_mean", torch.zeros(1, n))
        self.register_buffer("_var", torch.ones(1, n))
        self.register_buffer("_std", torch.ones(1, n))
        self.register_buffer("count", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._mean) / (self._std + EPS)


class SourceActor(nn.Module):
    """The actor as rsl_rl builds it, under the checkpoint's attribute names, loaded strictly (a
    key the module lacks or leaves unset fails here, as rsl_rl's own load would)."""

    def __init__(self, net: Network, activation: str):
        super().__init__()
        self.layout = net.layout
        mods: list[nn.Module] = []
        for i, (w, _) in enumerate(net.layers):
            mods.append(nn.Linear(w.shape[1], w.shape[0]))
            if i < len(net.layers) - 1:
                mods.append(_TORCH_ACT[activation]())
        setattr(self, net.layout.mlp, nn.Sequential(*mods))
        if net.rnn is not None:
            setattr(self, net.layout.memory, _Memory(net.rnn[0], net.n_obs, net.rnn[1], net.rnn[2]))
        if any(k.startswith(f"{net.layout.normalizer}.") for k in net.actor):
            setattr(self, net.layout.normalizer, _Normalizer(net.n_obs))
        self.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in net.actor.items()}, strict=True)
        self.outer = None
        if net.outer_normalizer is not None:  # rsl_rl 2.x: the runner normalises before the policy
            self.outer = _Normalizer(net.n_obs)
            self.outer.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in net.outer_normalizer.items()})
        self.state = None
        self.eval()

    def act_inference(self, x: torch.Tensor) -> torch.Tensor:
        if self.outer is not None:
            x = self.outer(x)
        if hasattr(self, self.layout.normalizer):
            x = getattr(self, self.layout.normalizer)(x)
        if hasattr(self, self.layout.memory):
            y, self.state = getattr(self, self.layout.memory).rnn(x.unsqueeze(0), self.state)
            x = y.squeeze(0)
        return getattr(self, self.layout.mlp)(x)


class _Reference:
    """The source actor run as rsl_rl's inference policy runs it: state carried between calls,
    None (zeros) after a reset."""

    def __init__(self, actor: SourceActor):
        self.actor = actor

    def reset(self) -> None:
        self.actor.state = None

    def step(self, obs: np.ndarray, images) -> np.ndarray:
        with torch.no_grad():
            return self.actor.act_inference(torch.from_numpy(np.asarray(obs, dtype=np.float32))).numpy().reshape(-1)


# -- the ONNX graph -----------------------------------------------------------------------------------


def build_graph(net: Network, activation: str, name: str) -> tuple[GraphBuilder, list[dict[str, Any]]]:
    """obs -> [normaliser] -> [RNN layers, state explicit] -> MLP -> actions; and the spec's
    `inputs.recurrent` entries."""
    g = GraphBuilder(f"{name}_rsl_rl")
    x = g.input("obs", [1, net.n_obs])
    norm = net.normalizer()
    if norm is not None:
        x = g.div(g.sub(x, g.const(f32(norm["_mean"]), "obs_mean")), g.const(f32(norm["_std"]) + np.float32(EPS), "obs_std_eps"))
    recurrent: list[dict[str, Any]] = []
    if net.rnn is not None:
        kind, hidden, num_layers = net.rnn
        shape = [num_layers, 1, hidden]
        h_in = g.input("h_in", shape)
        c_in = g.input("c_in", shape) if kind == "lstm" else None
        seq, hs, cs = g.unsqueeze(x, [0]), [], []
        for k in range(num_layers):
            hk = h_in if num_layers == 1 else g.slice(h_in, k, k + 1, axis=0)
            if kind == "lstm":
                ck = c_in if num_layers == 1 else g.slice(c_in, k, k + 1, axis=0)
                seq, hk_out, ck_out = g.lstm(seq, hk, ck, *net.rnn_weights(k))
                cs.append(ck_out)
            else:
                seq, hk_out = g.gru(seq, hk, *net.rnn_weights(k))
            hs.append(hk_out)
        x = g.squeeze(seq, [0])
        g.output(hs[0] if num_layers == 1 else g.concat(hs, axis=0), "h_out", shape)
        recurrent.append({"input": "h_in", "output": "h_out", "shape": shape})
        if kind == "lstm":
            g.output(cs[0] if num_layers == 1 else g.concat(cs, axis=0), "c_out", shape)
            recurrent.append({"input": "c_in", "output": "c_out", "shape": shape})
    x = g.mlp(x, net.layers, _GRAPH_ACT.get(activation, activation))
    g.output(x, "actions", [1, net.n_act])
    return g, recurrent


def _check_policy_cfg(net: Network, conv: legged_gym.Conventions, config: Path | None) -> None:
    """The network facts a --config states (legged_gym's `policy` block) must be the checkpoint's."""
    p, hidden = conv.policy, [int(w.shape[0]) for w, _ in net.layers[:-1]]
    if "actor_hidden_dims" in p and p["actor_hidden_dims"] != hidden:
        raise ConfigError(config, "policy.actor_hidden_dims", f"says {p['actor_hidden_dims']}, the checkpoint's actor has {hidden}")
    rnn = net.rnn
    if "rnn_type" in p and (rnn is None or rnn[0] != p["rnn_type"]):
        raise ConfigError(
            config,
            "policy.rnn_type",
            f"says {p['rnn_type']}, the checkpoint's actor has {'no recurrent layer' if rnn is None else 'an ' + rnn[0].upper()}",
        )
    for key, i in (("rnn_hidden_size", 1), ("rnn_num_layers", 2)):
        if key in p and (rnn is None or rnn[i] != p[key]):
            raise ConfigError(config, f"policy.{key}", f"says {p[key]}, the checkpoint's actor has {'no recurrent layer' if rnn is None else rnn[i]}")


def convert(path: Path, robot: str, config: Path | None, name: str, fmt: str = "rsl_rl") -> Conversion:
    from lucid_ros.robots import load_robot

    description = load_robot(robot)
    net = read_network(path, load_checkpoint(path))
    conv = legged_gym.read_config(config, description)
    _check_policy_cfg(net, conv, config)
    lay = net.layout
    last = f"{lay.mlp}.{2 * (len(net.layers) - 1)}.weight"
    if net.n_act != len(conv.joints):
        raise source_error(path, last, f"outputs {net.n_act} actions; the policy drives {len(conv.joints)} joints of {robot} ({conv.joints})")
    want = conv.obs_dim()
    if net.n_obs != want:
        first = f"{lay.memory}.rnn.weight_ih_l0" if net.rnn else f"{lay.mlp}.0.weight"
        raise source_error(
            path, first, f"reads {net.n_obs} observations; {conv.observations} for {len(conv.joints)} joints is {want} "
            "(a different observation: pass --config with `observations`, docs/import.md)"
        )  # fmt: skip

    g, recurrent = build_graph(net, conv.activation, name)
    uniform = lambda v: v[0] if len(set(v)) == 1 else list(v)  # noqa: E731
    spec = {
        "format": "lucid_ros.policy/1",
        "rate_hz": conv.rate_hz,
        "joint_order": list(conv.joints),
        "gains": {"kp": uniform(conv.kp), "kd": uniform(conv.kd)},
        "action": {"clip": conv.clip_actions, "scale": conv.action_scale, "offset": list(conv.default)},
        "observation": {"history": 1, "clip": conv.clip_observations, "terms": conv.terms()},
        "inputs": {"observation": "obs", "images": [], "recurrent": recurrent},
        "outputs": {"action": "actions"},
        "training": {
            "trainer": "rsl_rl (legged_gym / Isaac Lab)",
            "checkpoint": lay.state,
            **({"iteration": net.iteration} if net.iteration is not None else {}),
        },
    }
    dims = " -> ".join(str(d) for d in [net.layers[0][0].shape[1], *(w.shape[0] for w, _ in net.layers)])
    norm = net.normalizer()
    act_src = "--config policy.activation" if "policy.activation" in conv.given else "rsl_rl's default"
    notes = [
        f"checkpoint layout {lay.what}; the deterministic action is the actor's mean (the action std and critic keys are not used)",
        f"actor MLP {dims}, activation {conv.activation} ({act_src}; the checkpoint does not record it)",
        *(
            [
                f"recurrent {net.rnn[0].upper()}, {net.rnn[2]} layer(s), hidden {net.rnn[1]}: state explicit as {', '.join(r['input'] for r in recurrent)} [{net.rnn[2]}, 1, {net.rnn[1]}], zeroed on reset"
            ]
            if net.rnn
            else []
        ),
        (
            f"observation normaliser ({'obs_norm_state_dict' if net.outer_normalizer is not None else lay.normalizer}) inside the ONNX: (obs - mean) / (std + {EPS}) (rsl_rl EmpiricalNormalization's eps)"
            if norm is not None
            else "no observation normaliser in the checkpoint: the observation is fed as the spec's terms produce it"
        ),
        f"joint order {', '.join(conv.joints)}"
        + (" (--config joint_names)" if "joint_names" in conv.given else " (Isaac Gym's DOF order: FL, FR, RL, RR)"),
        f"observation {', '.join(conv.observations)} = {want} values (legged_gym's compute_observations order), obs_scales {conv.obs_scales}, commands_scale {conv.commands_scale}",
        f"observation clip {conv.clip_observations:g}, action clip {conv.clip_actions:g}, action scale {conv.action_scale:g} about the default pose",
        f"policy rate {conv.rate_hz:g} Hz (dt {conv.dt:g} x decimation {conv.decimation})",
        *conv.notes,
    ]
    actor = SourceActor(net, conv.activation)
    reference = _Reference(actor)
    return Conversion(spec=spec, graph=g, reference=reference, notes=notes, observation_sampler=legged_gym.rollout_sampler(conv, reference))


# -- the shipped example --------------------------------------------------------------------------------

EXAMPLE = paths.config_dir() / "policies" / "examples" / "legged_gym_go1.yaml"
EXAMPLE_SOURCE = (
    "model_1500.pt: a legged_gym Go1 checkpoint (rsl_rl 1.0.2 ActorCritic, actor 48 -> 512 -> 256 -> 128 -> 12, ELU), random weights (seed 0)"
)
EXAMPLE_HEADER = """\
What `lucid-ros import-policy` writes for a legged_gym Go1 policy (rsl_rl's model_<iter>.pt, the
48-d flat observation). Do not copy and edit this file: import your own checkpoint instead,
  lucid-ros import-policy logs/<run>/model_1500.pt --from rsl_rl --robot go1 --name my_go1 --out my_policies
  lucid-ros sim --policy my_policies/my_go1.yaml --cmd-vel 0.5,0,0
which writes my_go1.onnx beside the spec, proves it equal to your network and fills in sha256
(the one below is of the random-weight example network, which is not shipped). Pass
--config with your run's values where they differ from legged_gym's defaults (docs/import.md).
legged_gym orders Go1's joints FL, FR, RL, RR; this robot's description FR, FL, RR, RL: the
runtime remaps observations and actions by the names in joint_order.
Regenerate: python -m lucid_ros.importers.rsl_rl --write-example"""


def legged_gym_checkpoint(path: Path, seed: int = 0, hidden: tuple[int, ...] = (512, 256, 128), n_obs: int = 48, n_act: int = 12) -> Path:
    """A checkpoint laid out as legged_gym's OnPolicyRunner.save writes it (rsl_rl 1.0.2
    ActorCritic: `model_state_dict` with `std`, `actor.*`, `critic.*`; `optimizer_state_dict`,
    `iter`, `infos`). Weights uniform in ±1/sqrt(fan_in) (torch's Linear init), from numpy's
    seeded generator so the file is the same under any torch version."""
    rng = np.random.default_rng(seed)
    state: dict[str, torch.Tensor] = {"std": torch.ones(n_act)}
    for part, out in (("actor", n_act), ("critic", 1)):
        dims = [n_obs, *hidden, out]
        for k in range(len(dims) - 1):
            bound = 1.0 / np.sqrt(dims[k])
            state[f"{part}.{2 * k}.weight"] = torch.from_numpy(rng.uniform(-bound, bound, (dims[k + 1], dims[k])).astype(np.float32))
            state[f"{part}.{2 * k}.bias"] = torch.from_numpy(rng.uniform(-bound, bound, dims[k + 1]).astype(np.float32))
    optimizer = {
        "state": {},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "params": list(range(len(state)))}],
    }
    torch.save({"model_state_dict": state, "optimizer_state_dict": optimizer, "iter": 1500, "infos": None}, str(path))
    return path


def write_example(folder: Path = EXAMPLE.parent, keep_onnx: bool = False, log=print) -> Path:
    """Import the random-weight legged_gym Go1 checkpoint and write the example spec into
    `folder` (and its ONNX with `keep_onnx`, for tests that run it)."""
    from lucid_ros.importers import import_policy
    from lucid_ros.importers.base import write_spec_yaml

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = legged_gym_checkpoint(Path(tmp) / "model_1500.pt")
        res = import_policy(ckpt, "rsl_rl", "go1", out=Path(tmp) / "out", name="legged_gym_go1", log=log)
        spec = yaml.safe_load(res.spec.read_text())
        spec["training"]["import"].update(source=EXAMPLE_SOURCE, command="python -m lucid_ros.importers.rsl_rl --write-example")
        folder.mkdir(parents=True, exist_ok=True)
        if keep_onnx:
            (folder / res.onnx.name).write_bytes(res.onnx.read_bytes())
        return write_spec_yaml(spec, folder / "legged_gym_go1.yaml", EXAMPLE_HEADER)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lucid_ros.importers.rsl_rl", description=__doc__.splitlines()[0])
    ap.add_argument("--write-example", action="store_true", help=f"regenerate {EXAMPLE.relative_to(paths.config_dir().parent)}")
    a = ap.parse_args(argv)
    if not a.write_example:
        ap.print_help()
        return 2
    print(f"wrote {write_example(log=lambda s: print(s, file=sys.stderr))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
