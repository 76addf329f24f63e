"""A small ONNX graph builder for imported networks, written node by node from the weights.

Why not `torch.onnx.export`: its TorchScript exporter is deprecated and the new one needs
onnxscript; neither is needed for the few layer kinds trainers' deployed policies are made of
(Linear, activations, LSTM/GRU, Conv, pooling), and a hand-built graph makes the recurrent state
explicit by construction. Weights go in as float32 numpy arrays in torch's layout; the gate
reordering between torch and ONNX (LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h) happens here,
once, and every importer's equivalence test checks it against torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lucid_ros.training.export import save_graph

ACTIVATIONS = ("elu", "relu", "tanh", "sigmoid", "lrelu", "selu", "identity")


def f32(a) -> np.ndarray:
    """A weight as a float32 array (torch tensors via .detach().cpu().numpy())."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


class GraphBuilder:
    """Collects nodes, initialisers and the graph's inputs/outputs; every method returns the name
    of the tensor it produced. Names are generated, so a builder can be extended by any importer."""

    def __init__(self, name: str = "lucid_ros_import"):
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._n = 0

    # -- plumbing -------------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], hint: str | None = None, n_out: int = 1, **attrs) -> str | list[str]:
        outs = [self.fresh(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def input(self, name: str, shape: Sequence[int | str]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        return name

    def output(self, tensor: str, name: str, shape: Sequence[int | str]) -> str:
        """Expose `tensor` as graph output `name` (through an Identity, so any tensor can be one)."""
        self.nodes.append(helper.make_node("Identity", [tensor], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        return name

    def save(self, path: str | Path) -> Path:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=self.inits)
        return save_graph(graph, Path(path))

    # -- layers ---------------------------------------------------------------------------------

    def linear(self, x: str, weight, bias=None) -> str:
        """y = x W^T + b for x (B, in); weight (out, in) as torch stores it."""
        w = self.const(f32(weight), "w")
        ins = [x, w] if bias is None else [x, w, self.const(f32(bias), "b")]
        return self.op("Gemm", ins, "linear", transB=1)

    def activation(self, x: str, kind: str) -> str:
        if kind == "elu":
            return self.op("Elu", [x], alpha=1.0)
        if kind == "relu":
            return self.op("Relu", [x])
        if kind == "tanh":
            return self.op("Tanh", [x])
        if kind == "sigmoid":
            return self.op("Sigmoid", [x])
        if kind == "lrelu":
            return self.op("LeakyRelu", [x], alpha=0.01)
        if kind == "selu":
            return self.op("Selu", [x])
        if kind == "identity":
            return x
        raise ValueError(f"activation {kind!r} is not supported (supported: {ACTIVATIONS})")

    def mlp(self, x: str, layers: Sequence[tuple], activation: str, last_activation: bool = False) -> str:
        """`layers`: (weight, bias) per Linear, in order; the activation between them (and after
        the last when `last_activation`)."""
        for i, (w, b) in enumerate(layers):
            x = self.linear(x, w, b)
            if i < len(layers) - 1 or last_activation:
                x = self.activation(x, activation)
        return x

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def sub(self, a: str, b: str) -> str:
        return self.op("Sub", [a, b])

    def mul(self, a: str, b: str) -> str:
        return self.op("Mul", [a, b])

    def div(self, a: str, b: str) -> str:
        return self.op("Div", [a, b])

    def concat(self, xs: Sequence[str], axis: int = -1) -> str:
        return self.op("Concat", list(xs), axis=axis)

    def reshape(self, x: str, shape: Sequence[int]) -> str:
        return self.op("Reshape", [x, self.const(np.asarray(shape, dtype=np.int64), "shape", np.int64)])

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Unsqueeze", [x, self.const(np.asarray(axes, dtype=np.int64), "axes", np.int64)])

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Squeeze", [x, self.const(np.asarray(axes, dtype=np.int64), "axes", np.int64)])

    def slice(self, x: str, start: int, stop: int, axis: int = -1) -> str:
        i64 = lambda v: self.const(np.asarray([v], dtype=np.int64), "i", np.int64)  # noqa: E731
        return self.op("Slice", [x, i64(start), i64(stop), i64(axis)])

    def gather(self, x: str, index: Sequence[int], axis: int = -1) -> str:
        return self.op("Gather", [x, self.const(np.asarray(index, dtype=np.int64), "idx", np.int64)], axis=axis)

    def lstm(self, x: str, h: str, c: str, w_ih, w_hh, b_ih, b_hh) -> tuple[str, str, str]:
        """One torch LSTM layer over x (seq, batch, in) from state h, c (1, batch, H): (y, h', c'),
        y (seq, batch, H). torch stacks the gates i, f, g, o; ONNX wants i, o, f, c."""
        w_ih, w_hh, b_ih, b_hh = (f32(a) for a in (w_ih, w_hh, b_ih, b_hh))
        hidden = w_hh.shape[1]

        def order(a: np.ndarray) -> np.ndarray:
            i, f, g, o = np.split(a, 4, axis=0)
            return np.concatenate([i, o, f, g], axis=0)

        W = self.const(order(w_ih)[None], "lstm_W")
        R = self.const(order(w_hh)[None], "lstm_R")
        B = self.const(np.concatenate([order(b_ih), order(b_hh)])[None], "lstm_B")
        y, yh, yc = self.op("LSTM", [x, W, R, B, "", h, c], "lstm", n_out=3, hidden_size=hidden)
        return self.squeeze(y, [1]), yh, yc

    def gru(self, x: str, h: str, w_ih, w_hh, b_ih, b_hh) -> tuple[str, str]:
        """One torch GRU layer over x (seq, batch, in) from state h (1, batch, H): (y, h'). torch
        stacks r, z, n and applies the reset gate after the recurrent matrix (ONNX
        linear_before_reset=1); ONNX wants z, r, h."""
        w_ih, w_hh, b_ih, b_hh = (f32(a) for a in (w_ih, w_hh, b_ih, b_hh))
        hidden = w_hh.shape[1]

        def order(a: np.ndarray) -> np.ndarray:
            r, z, n = np.split(a, 3, axis=0)
            return np.concatenate([z, r, n], axis=0)

        W = self.const(order(w_ih)[None], "gru_W")
        R = self.const(order(w_hh)[None], "gru_R")
        B = self.const(np.concatenate([order(b_ih), order(b_hh)])[None], "gru_B")
        y, yh = self.op("GRU", [x, W, R, B, "", h], "gru", n_out=2, hidden_size=hidden, linear_before_reset=1)
        return self.squeeze(y, [1]), yh

    def conv(self, x: str, weight, bias=None, stride: int | Sequence[int] = 1, padding: int = 0) -> str:
        """Conv1d (weight (out, in, k)) or Conv2d (weight (out, in, kh, kw)), torch semantics."""
        w = f32(weight)
        dims = w.ndim - 2
        strides = [stride] * dims if isinstance(stride, int) else list(stride)
        ins = [x, self.const(w, "conv_w")] + ([] if bias is None else [self.const(f32(bias), "conv_b")])
        return self.op("Conv", ins, "conv", kernel_shape=list(w.shape[2:]), strides=strides, pads=[padding] * (2 * dims))

    def maxpool(self, x: str, kernel: int, dims: int = 2) -> str:
        """torch MaxPool with stride = kernel, no padding (floor mode)."""
        return self.op("MaxPool", [x], "maxpool", kernel_shape=[kernel] * dims, strides=[kernel] * dims)

    def flatten(self, x: str) -> str:
        """(B, ...) -> (B, prod(...)), as torch.flatten(x, 1)."""
        return self.op("Flatten", [x], axis=1)
