"""Small ONNX policies and specs built in code, for tests (of any module) and the shipped stand policy.

Each fixture is a real ONNX file run by the real onnxruntime, so a test of the policy node, the
safety supervisor or the sim graph exercises the same path as a trained policy. `onnx` is imported
inside the functions: it is a test/training dependency, not a runtime one.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lucid_ros.policy.spec import FORMAT, TERM_SIZES
from lucid_ros.robots.description import RobotDescription

KINDS = ("zeros", "nan", "linear", "recurrent")
OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime >= 1.14, i.e. what a robot's image may carry

# The observation of docs/policy-spec.md's example (45-d on a 12-joint robot).
DOC_TERMS: list[dict[str, Any]] = [
    {"name": "base_ang_vel", "scale": 0.25},
    {"name": "projected_gravity"},
    {"name": "velocity_command", "scale": [2.0, 2.0, 0.25]},
    {"name": "joint_pos_rel"},
    {"name": "joint_vel", "scale": 0.05},
    {"name": "last_action"},
]


def terms_dim(terms: Sequence[dict[str, Any]], n_act: int, n_feet: int, history: int = 1) -> int:
    """Observation size of term dicts as written in a spec (to size a fixture network)."""
    total = 0
    for t in terms:
        size = TERM_SIZES[t["name"]]
        if size == "n":
            total += n_act
        elif size == "feet":
            total += len(t["feet"]) if "feet" in t else n_feet
        elif size == "grid":
            total += int(np.prod([round((b - a) / step) + 1 for a, b, step in (t["x"], t["y"])]))
        elif size == "value":
            total += len(t["value"])
        elif "components" in t:
            total += len(t["components"])
        else:
            total += int(size)
    return total * history


def mlp_weights(obs_dim: int, n_act: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(W (obs_dim, n_act), b (n_act,)) float32 of the 'linear' fixture: actions = obs @ W + b.
    Public so a test can compute the expected action in numpy."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / np.sqrt(obs_dim), size=(obs_dim, n_act)).astype(np.float32)
    b = rng.normal(0.0, 0.1, size=n_act).astype(np.float32)
    return w, b


def make_mlp_policy(
    path: str | Path,
    obs_dim: int,
    n_act: int,
    kind: str = "zeros",
    seed: int = 0,
    *,
    obs_name: str = "obs",
    action_name: str = "actions",
    batch: int | str = 1,
    hidden: int = 8,
    extra_inputs: dict[str, Sequence[int]] | None = None,
) -> Path:
    """Write an ONNX policy with input `obs_name` [batch, obs_dim] and output `action_name` [batch, n_act].

    kind 'zeros': a 2-layer MLP (ELU) whose last layer is zero: 0 for any finite observation.
    kind 'nan': NaN for every input. kind 'linear': obs @ W + b (see `mlp_weights`).
    kind 'recurrent': input h_in, output h_out, both [1, 1, hidden]; h_out = h_in + 1 and every
    action = mean(h_in), so the n-th call after a reset returns n - 1 (the state is observable).
    extra_inputs {name: shape}: more float32 graph inputs (images, or undeclared inputs to test
    the runner); they are read (times 0) so onnxruntime keeps them required.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    inputs = [helper.make_tensor_value_info(obs_name, TensorProto.FLOAT, [batch, obs_dim])]
    outputs = [helper.make_tensor_value_info(action_name, TensorProto.FLOAT, [batch, n_act])]
    if kind == "zeros":
        w1 = const("w1", rng.normal(0.0, 1.0 / np.sqrt(obs_dim), size=(obs_dim, hidden)))
        nodes += [
            helper.make_node("Gemm", [obs_name, w1, const("b1", np.zeros(hidden))], ["h1"]),
            helper.make_node("Elu", ["h1"], ["a1"]),
            helper.make_node("Gemm", ["a1", const("w2", np.zeros((hidden, n_act))), const("b2", np.zeros(n_act))], ["y"]),
        ]
    elif kind == "nan":
        nodes += [
            helper.make_node("MatMul", [obs_name, const("w", np.zeros((obs_dim, n_act)))], ["z"]),
            helper.make_node("Add", ["z", const("nan", np.full(n_act, np.nan))], ["y"]),
        ]
    elif kind == "linear":
        w, b = mlp_weights(obs_dim, n_act, seed)
        nodes.append(helper.make_node("Gemm", [obs_name, const("w", w), const("b", b)], ["y"]))
    else:  # recurrent
        inputs.append(helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, 1, hidden]))
        outputs.append(helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 1, hidden]))
        shape = helper.make_tensor("flat", TensorProto.INT64, [2], [1, hidden])
        inits.append(shape)
        nodes += [
            helper.make_node("Add", ["h_in", const("one", np.ones(1))], ["h_out"]),
            helper.make_node("Reshape", ["h_in", "flat"], ["h_flat"]),
            helper.make_node("MatMul", ["h_flat", const("mean", np.full((hidden, n_act), 1.0 / hidden))], ["hm"]),
            helper.make_node("MatMul", [obs_name, const("w", np.zeros((obs_dim, n_act)))], ["z"]),
            helper.make_node("Add", ["z", "hm"], ["y"]),
        ]
    last = "y"
    for k, (name, shp) in enumerate((extra_inputs or {}).items()):
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shp)))
        nodes += [
            helper.make_node("ReduceMean", [name], [f"m{k}"], keepdims=0),
            helper.make_node("Mul", [f"m{k}", const(f"zero{k}", np.zeros(()))], [f"mz{k}"]),
            helper.make_node("Add", [last, f"mz{k}"], [f"y{k}"]),
        ]
        last = f"y{k}"
    nodes.append(helper.make_node("Identity", [last], [action_name]))
    graph = helper.make_graph(nodes, f"lucid_ros_{kind}", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lucid_ros.policy.fixtures")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def write_spec(
    path: str | Path,
    onnx_path: str | Path,
    robot: RobotDescription | str,
    joint_order: Sequence[str] | None = None,
    terms: Sequence[dict[str, Any]] | None = None,
    *,
    name: str | None = None,
    rate_hz: float = 50,
    kp: float | list[float] = 20.0,
    kd: float | list[float] = 0.5,
    action_scale: float | list[float] = 0.25,
    action_offset: str | list[float] = "default",
    action_clip: float | None = 100.0,
    history: int = 1,
    history_layout: str = "term_major",
    obs_clip: float | None = 100.0,
    obs_input: str = "obs",
    action_output: str = "actions",
    images: Sequence[dict[str, Any]] = (),
    recurrent: Sequence[dict[str, Any]] = (),
    sha256: str | None = None,
    training: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    header: str = "",
) -> Path:
    """Write a spec for `onnx_path` with its sha256 (or `sha256` to test a wrong one).

    joint_order defaults to the robot's canonical order (needs a RobotDescription); terms to the
    doc's 45-d example. `extra` is merged last, key by key, to plant any malformed field.
    `header` is written above the YAML as comment lines.
    """
    path = Path(path)
    onnx_path = Path(onnx_path)
    robot_name = robot if isinstance(robot, str) else robot.name
    if joint_order is None:
        if isinstance(robot, str):
            raise ValueError("joint_order is required when robot is given by name")
        joint_order = robot.joint_names
    digest = sha256 or hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    data: dict[str, Any] = {
        "format": FORMAT,
        "name": name or path.stem,
        "robot": robot_name,
        "onnx": os.path.relpath(onnx_path.resolve(), path.resolve().parent),
        "sha256": digest,
        "rate_hz": rate_hz,
        "joint_order": list(joint_order),
        "gains": {"kp": kp, "kd": kd},
        "action": {"clip": action_clip, "scale": action_scale, "offset": action_offset},
        "observation": {
            "history": history,
            "history_layout": history_layout,
            "clip": obs_clip,
            "terms": [dict(t) for t in (DOC_TERMS if terms is None else terms)],
        },
        "inputs": {"observation": obs_input, "images": [dict(i) for i in images], "recurrent": [dict(r) for r in recurrent]},
        "outputs": {"action": action_output},
        "training": training or {},
    }
    if extra:
        data = _merge(data, extra)
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comments + text)
    return path


def make_policy(
    folder: str | Path,
    robot: RobotDescription,
    kind: str = "zeros",
    name: str = "policy",
    *,
    obs_dim: int | None = None,
    n_act: int | None = None,
    onnx_kwargs: dict[str, Any] | None = None,
    **spec_kwargs: Any,
) -> Path:
    """ONNX + spec in `folder` in one call; returns the spec path. The network is sized from the
    spec arguments (joint_order, terms, history) unless obs_dim / n_act are given to make a
    policy that disagrees with its spec. spec_kwargs go to `write_spec`."""
    joints = spec_kwargs.get("joint_order") or robot.joint_names
    terms = spec_kwargs.get("terms") or DOC_TERMS
    obs_dim = obs_dim or terms_dim(terms, len(joints), len(robot.feet), spec_kwargs.get("history", 1))
    onnx_path = make_mlp_policy(Path(folder) / f"{name}.onnx", obs_dim, n_act or len(joints), kind, **(onnx_kwargs or {}))
    spec_kwargs.setdefault("joint_order", joints)
    return write_spec(Path(folder) / f"{name}.yaml", onnx_path, robot, **spec_kwargs)
