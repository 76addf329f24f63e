"""Trained actor -> ONNX graph + policy spec YAML (docs/policy-spec.md).

The graph is written node by node with onnx.helper from the actor's weights, not by tracing
torch: the network is a normaliser and an MLP, so the graph is five kinds of node, it does not
depend on which ONNX exporter a torch release ships (the TorchScript one is deprecated, the new
one needs onnxscript), and the same weights always give byte-identical files. The observation
normaliser is inside the graph, so the spec's observation is what ObservationBuilder produces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import yaml
from onnx import TensorProto, helper, numpy_helper

from lucid_ros.policy.runner import file_sha256
from lucid_ros.training.ppo import ActorCritic

OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.13 (robots run older builds than this machine)


def actor_to_onnx(model: ActorCritic, path: str | Path, input_name: str = "obs", output_name: str = "actions") -> Path:
    """Write the deterministic actor (mean action) with its observation normaliser as ONNX."""
    path = Path(path)
    norm = model.obs_norm
    mean = norm.mean.detach().cpu().numpy().astype(np.float32)
    std = np.sqrt(norm.var.detach().cpu().numpy() + norm.eps).astype(np.float32)
    inits = [
        numpy_helper.from_array(mean[None], "norm_mean"),
        numpy_helper.from_array(std[None], "norm_std"),
        numpy_helper.from_array(np.array(-norm.clip, np.float32), "norm_lo"),
        numpy_helper.from_array(np.array(norm.clip, np.float32), "norm_hi"),
    ]
    nodes = [
        helper.make_node("Sub", [input_name, "norm_mean"], ["centred"]),
        helper.make_node("Div", ["centred", "norm_std"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "norm_lo", "norm_hi"], ["h0"]),
    ]
    linears = [m for m in model.actor if isinstance(m, torch.nn.Linear)]
    x = "h0"
    for i, lin in enumerate(linears):
        w = lin.weight.detach().cpu().numpy().astype(np.float32)  # (out, in)
        b = lin.bias.detach().cpu().numpy().astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        last = i == len(linears) - 1
        y = (output_name if model.tg is None else "net_out") if last else f"z{i + 1}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], transB=1))
        if not last:
            nodes.append(helper.make_node("Elu", [y], [f"h{i + 1}"], alpha=1.0))
            x = f"h{i + 1}"
    if model.tg is not None:
        _trot_nodes(model, input_name, output_name, nodes, inits)
    obs_dim, n_act = linears[0].in_features, linears[-1].out_features
    graph = helper.make_graph(
        nodes,
        "lucid_ros_actor",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", n_act])],
        initializer=inits,
    )
    return save_graph(graph, path)


def save_graph(graph: onnx.GraphProto, path: Path) -> Path:
    """The graph as a checked model at our opset and IR version (readable by older robot runtimes)."""
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lucid_ros.training")
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(m.SerializeToString())
    return path


def _trot_nodes(model: ActorCritic, input_name: str, output_name: str, nodes: list, inits: list) -> None:
    """ONNX for TrotGenerator (ppo.py), same formula: actions = net_out + tg(obs)."""
    tg = model.tg
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    inits += [
        numpy_helper.from_array(np.array([tg.sin_index], np.int64), "tg_sin_index"),
        numpy_helper.from_array(tg.cmd_index.cpu().numpy().astype(np.int64), "tg_cmd_index"),
        numpy_helper.from_array(f32(tg.inv_scale.cpu().numpy())[None], "tg_inv_scale"),
        numpy_helper.from_array(f32(tg.sign.cpu().numpy())[None], "tg_sign"),
        numpy_helper.from_array(f32(tg.amplitude.cpu().numpy())[None], "tg_amplitude"),
        numpy_helper.from_array(f32(tg.gain), "tg_gain"),
        numpy_helper.from_array(f32(0.0), "tg_zero"),
        numpy_helper.from_array(f32(1.0), "tg_one"),
    ]
    nodes += [
        helper.make_node("Gather", [input_name, "tg_sin_index"], ["tg_sin"], axis=1),  # (B, 1)
        helper.make_node("Mul", ["tg_sin", "tg_sign"], ["tg_signed"]),  # (B, n)
        helper.make_node("Relu", ["tg_signed"], ["tg_swing"]),
        helper.make_node("Gather", [input_name, "tg_cmd_index"], ["tg_cmd_scaled"], axis=1),  # (B, 3)
        helper.make_node("Mul", ["tg_cmd_scaled", "tg_inv_scale"], ["tg_cmd"]),
        helper.make_node("Abs", ["tg_cmd"], ["tg_cmd_abs"]),
        helper.make_node("ReduceMax", ["tg_cmd_abs"], ["tg_cmd_max"], axes=[1], keepdims=1),  # (B, 1)
        helper.make_node("Mul", ["tg_cmd_max", "tg_gain"], ["tg_gate_raw"]),
        helper.make_node("Clip", ["tg_gate_raw", "tg_zero", "tg_one"], ["tg_gate"]),
        helper.make_node("Mul", ["tg_swing", "tg_amplitude"], ["tg_shaped"]),
        helper.make_node("Mul", ["tg_shaped", "tg_gate"], ["tg_out"]),
        helper.make_node("Add", ["net_out", "tg_out"], [output_name]),
    ]


def write_spec(spec: dict[str, Any], onnx_path: str | Path, yaml_path: str | Path) -> Path:
    """The spec dict with `onnx` (relative) and `sha256` filled in from the written ONNX file."""
    onnx_path, yaml_path = Path(onnx_path), Path(yaml_path)
    out = dict(spec)
    out["onnx"] = onnx_path.name if onnx_path.parent.resolve() == yaml_path.parent.resolve() else str(onnx_path.resolve())
    out["sha256"] = file_sha256(onnx_path)
    order = ["format", "name", "robot", "onnx", "sha256", "rate_hz", "joint_order", "gains", "action", "observation", "inputs", "outputs", "training"]
    ordered = {k: out[k] for k in order if k in out}
    yaml_path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Policy {ordered.get('name', '?')} for {ordered.get('robot', '?')}. Written by lucid_ros.training (see docs/training.md);\n"
    header += "# regenerate with the command in training.command, do not edit by hand (sha256 pins the ONNX).\n"
    yaml_path.write_text(header + yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None, width=120))
    return yaml_path
