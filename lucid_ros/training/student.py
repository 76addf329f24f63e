"""The vision student: a small CNN on one camera input, fused with proprioception, through a GRU.

    obs (B, 141) --normalise--------------------------\\
    image (B, C, 45, 80) -> conv 5/2 -> conv 3/2 -> conv 3/2 -> linear 64 --> concat -> linear 256 -> GRU 256 -> 128 -> 12 (+ trot prior)
    image_age (B, 1) s --x 5-------------------------//     (students with `age`)

The convolutions are 16, 32 and 32 channels wide unless `channels` says otherwise
(`distill --rgb-encoder`; 32-64-64 explained no more of the depth code from colour, docs/training.md);
`onnx_channels` reads a file's widths back. A student built with `draw` (`code_fit --draw-depth`)
first draws a depth frame from its colour frames (DepthDrawer, a small U-Net) and its convolutions,
a depth student's, read the drawing; `onnx_draws` says whether a file does. The proprioceptive observation is go1_walk's (the same
terms, scales and history), normalised with the teacher's fixed statistics for those inputs. The recurrent state is an explicit input and
output (`h_in` / `h_out`, [1, batch, 256]), so the runtime keeps it between steps and zeroes it on
a reset (docs/policy-spec.md, `inputs.recurrent`). A student with `age` also reads how old its
newest frame is (`inputs.images[0].age`, seconds; lucid_ros.vision.preprocess.image_age): the
camera's 10 Hz refresh and its latency, which the image alone cannot show. A student without it
continues as one with it (`student_from_onnx` widens the fusion layer with a zero column: the same
actions until training gives the column weight).

A student built with `memory` (`distill --code-memory M`) keeps a memory of its image codes: a
second GRU (M wide) reads each step's code beside the normalised observation and the image age,
and adds a correction to the code the controller reads (CodeMemory; its output layer starts at
zero, so a student that gains it acts as before). The picture alone cannot say what a box face
filling the frame is, or how near a hurdle that has left the bottom edge is; the codes of the
frames before, and how far the legs have walked since, can. Its state rides behind the
controller's in the one recurrent state (`h_in` [1, batch, 256 + M]; `Student.state_size`), so
the runtime carries and zeroes it as before.

`student_to_onnx` writes the graph node by node with onnx.helper (like export.actor_to_onnx): Conv,
Elu, Gemm and the ONNX GRU operator with torch's gate layout converted (torch orders the gates
r, z, n; ONNX z, r, h; torch's GRU is ONNX's `linear_before_reset = 1`).
test/training/test_student.py checks ONNX Runtime against torch on random inputs and states.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from lucid_ros.training.export import _trot_nodes, save_graph

HIDDEN = 256
LATENT = 64
CHANNELS = (16, 32, 32)  # the encoder's three convolutions (5/2, 3/2, 3/2): every student shipped so far
AGE_SCALE = 5.0  # 1 / s: the ages a policy sees (0-0.2 s) to about 0-1
DRAW_CHANNELS = (16, 32, 64)  # the depth drawer's three scales
DEPTH_RANGE = (-0.5, 0.5)  # the depth student's input units (clip 0-2 m, d / 2 - 0.5): a drawn frame is clipped to them


class DepthDrawer(nn.Module):
    """Colour frames (B, C, H, W) -> a depth frame (B, 1, H, W) in the depth student's input units:
    a small U-Net. Three stride-2 convolutions (5x5, 3x3, 3x3; padded, so 45 x 80 -> 23 x 40 ->
    12 x 20 -> 6 x 10), one more at the coarsest scale, then back up twice (nearest x 2, cropped to
    the skip's size, concatenated with it, a 3x3 convolution), a 3x3 convolution to one channel at
    the finest scale and a bilinear resize to the input's size (half-pixel centres, as ONNX's Resize).
    Each pixel of the drawn frame has a target, where an image code has 64 numbers for the frame."""

    def __init__(self, in_channels: int, channels: tuple[int, int, int] = DRAW_CHANNELS):
        super().__init__()
        c1, c2, c3 = channels
        self.down = nn.ModuleList(
            [nn.Conv2d(in_channels, c1, 5, stride=2, padding=2), nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.Conv2d(c2, c3, 3, stride=2, padding=1)]
        )
        self.mid = nn.Conv2d(c3, c3, 3, padding=1)
        self.up = nn.ModuleList([nn.Conv2d(c3 + c2, c2, 3, padding=1), nn.Conv2d(c2 + c1, c1, 3, padding=1)])
        self.out = nn.Conv2d(c1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The drawn depth frame, not yet clipped to DEPTH_RANGE (the fit's depth error reads it so)."""
        elu, size = torch.nn.functional.elu, x.shape[-2:]
        skips = []
        for conv in self.down:
            x = elu(conv(x))
            skips.append(x)
        y = elu(self.mid(x))
        for conv, skip in zip(self.up, (skips[1], skips[0]), strict=True):
            y = torch.nn.functional.interpolate(y, scale_factor=2.0, mode="nearest")[..., : skip.shape[-2], : skip.shape[-1]]
            y = elu(conv(torch.cat([y, skip], dim=1)))
        return torch.nn.functional.interpolate(self.out(y), size=tuple(size), mode="bilinear", align_corners=False)


class CodeMemory(nn.Module):
    """A memory of image codes: a GRU over [code, normalised observation, scaled image age] whose
    output, through a linear layer that starts at zero, is added to the step's code. Trained on
    sequences (Student.unroll) against the guide's code of each capture, it carries what earlier
    frames showed into steps whose own frame cannot show it."""

    def __init__(self, obs_dim: int, size: int, age: bool):
        super().__init__()
        self.size = size
        self.gru = nn.GRU(LATENT + obs_dim + int(age), size)
        self.out = nn.Linear(size, LATENT)
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.zero_()

    def forward(self, z: torch.Tensor, parts: list[torch.Tensor], h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.gru(torch.cat([z, *parts], dim=1)[None], h)
        return z + self.out(y[0]), h


class Student(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        image_shape: tuple[int, int, int],
        n_act: int,
        norm_mean: np.ndarray,
        norm_std: np.ndarray,
        tg: nn.Module | None,
        age: bool = False,
        channels: tuple[int, int, int] = CHANNELS,
        draw: bool = False,
        memory: int = 0,
    ):
        super().__init__()
        c, h, w = image_shape
        if memory < 0:
            raise ValueError(f"memory {memory}: want a width >= 0 (0: no code memory)")
        if len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"channels {channels}: want three positive widths, one per convolution")
        self.image_shape = image_shape
        self.channels = tuple(int(k) for k in channels)
        self.age = age
        # with `draw`, the colour frames are first drawn as a depth frame (DepthDrawer), which the
        # convolutions then read as a depth student's do (a depth student's encoder grafted behind it)
        self.drawer = DepthDrawer(c) if draw else None
        c = 1 if draw else c
        self.register_buffer("norm_mean", torch.tensor(np.array(norm_mean, dtype=np.float32)))
        self.register_buffer("norm_std", torch.tensor(np.array(norm_std, dtype=np.float32)))
        c1, c2, c3 = self.channels
        self.convs = nn.ModuleList([nn.Conv2d(c, c1, 5, stride=2), nn.Conv2d(c1, c2, 3, stride=2), nn.Conv2d(c2, c3, 3, stride=2)])
        with torch.no_grad():
            flat = self._conv(torch.zeros(1, c, h, w)).shape[1]
        self.img_fc = nn.Linear(flat, LATENT)
        self.fuse = nn.Linear(obs_dim + LATENT + int(age), HIDDEN)
        self.gru = nn.GRU(HIDDEN, HIDDEN)
        self.head = nn.Sequential(nn.Linear(HIDDEN, 128), nn.ELU(), nn.Linear(128, n_act))
        self.tg = tg
        with torch.no_grad():
            self.head[-1].weight.mul_(0.1)
        self.memory = CodeMemory(obs_dim, memory, age) if memory else None
        self.state_size = HIDDEN + memory  # the controller's GRU state, then the code memory's

    def zero_state(self, n: int) -> torch.Tensor:
        """A fresh recurrent state for n envs: (1, n, state_size)."""
        return torch.zeros(1, n, self.state_size)

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.nn.functional.elu(conv(x))
        return x.flatten(1)

    def latent(self, image: torch.Tensor) -> torch.Tensor:
        """The image's LATENT-wide code (B, C, H, W) -> (B, LATENT): what the fusion layer reads
        of the camera. `distill --depth-guide` fits an RGB student's to the depth student's."""
        return self.code_of_depth(image) if self.drawer is None else self.draw_and_code(image)[1]

    def draw_and_code(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A drawing student's depth frame drawn from `image`, not yet clipped (the fits' depth
        error reads it so), and the code of the drawing clipped to DEPTH_RANGE (what `latent` gives)."""
        drawn = self.drawer(image)
        return drawn, self.code_of_depth(torch.clamp(drawn, *DEPTH_RANGE))

    def code_of_depth(self, depth: torch.Tensor) -> torch.Tensor:
        """The code of a frame as the convolutions read it (a drawing student's: a depth frame)."""
        return torch.nn.functional.elu(self.img_fc(self._conv(depth)))

    def step(self, obs: torch.Tensor, image: torch.Tensor, h: torch.Tensor, age: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One policy step for a batch: obs (B, obs_dim), image (B, C, H, W), h (1, B, state_size),
        age (B, 1) s (a student with `age` only)."""
        z, hm = self.remember(obs, self.latent(image), h[..., HIDDEN:], age)
        a, hc = self._core(obs, z, h[..., :HIDDEN], age)
        return a, torch.cat([hc, hm], dim=2)

    def _inputs(self, obs: torch.Tensor, age: torch.Tensor | None) -> list[torch.Tensor]:
        """What the fusion layer (and a code memory) reads beside the code: the normalised
        observation and, for a student with `age`, the scaled image age."""
        parts = [torch.clamp((obs - self.norm_mean) / self.norm_std, -5.0, 5.0)]
        if self.age:
            if age is None:
                raise ValueError("this student reads the image's age: step(obs, image, h, age)")
            parts.append(age.reshape(-1, 1) * AGE_SCALE)
        return parts

    def remember(self, obs: torch.Tensor, z: torch.Tensor, hm: torch.Tensor, age: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The code the controller reads, from the step's image code z and the code memory's state
        hm (1, B, memory): z itself and an empty state for a student without a memory."""
        if self.memory is None:
            return z, hm
        return self.memory(z, self._inputs(obs, age), hm)

    def _core(self, obs: torch.Tensor, z: torch.Tensor, h: torch.Tensor, age: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The controller: the code z the fusion layer reads, h (1, B, HIDDEN) its GRU's state."""
        o, *rest = self._inputs(obs, age)
        x = torch.nn.functional.elu(self.fuse(torch.cat([o, z, *rest], dim=1)))
        y, h = self.gru(x[None], h)
        out = self.head(y[0])
        return (out if self.tg is None else out + self.tg(obs)), h

    def image_codes(self, images: torch.Tensor, block: int = 0) -> torch.Tensor:
        """Every frame of a chunk (T, B, C, H, W) through the picture half at once -> (T, B, LATENT),
        before any code memory; with `block`, that many frames at a time (to bound memory, no grad)."""
        T, B = images.shape[:2]
        flat = images.flatten(0, 1)
        z = self.latent(flat) if not block else torch.cat([self.latent(flat[s : s + block]) for s in range(0, len(flat), block)])
        return z.reshape(T, B, -1)

    def recall(self, obs: torch.Tensor, z: torch.Tensor, hm: torch.Tensor, starts: torch.Tensor, ages: torch.Tensor | None) -> torch.Tensor:
        """The codes the controller reads over a chunk: image codes z (T, B, LATENT) through the code
        memory from its state hm (1, B, memory) at the chunk's start, zeroed where an episode starts
        (starts (T, B)); z itself for a student without a memory. ages (T, B) or (T, B, 1) s."""
        if self.memory is None:
            return z
        read = []
        for t in range(len(z)):
            hm = hm * (1.0 - starts[t])[None, :, None]
            zt, hm = self.remember(obs[t], z[t], hm, None if ages is None else ages[t])
            read.append(zt)
        return torch.stack(read)

    def unroll(
        self, obs: torch.Tensor, images: torch.Tensor, h0: torch.Tensor, starts: torch.Tensor, ages: torch.Tensor | None = None, codes: bool = False,
        against: torch.Tensor | None = None, z: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:  # fmt: skip
        """Actions over a chunk: obs (T, B, D), images (T, B, C, H, W), h0 (1, B, state_size) at the
        chunk's start, starts (T, B) = 1 where an episode begins at that step (the state is zeroed
        first), ages (T, B) s (a student with `age` only). With `codes`, also the codes the
        controller read (T, B, LATENT): the image codes, through the code memory where there is one.
        With `against` (a code, (LATENT,)), also how much each frame's picture changes the action:
        the mean squared difference (T, B) between the action from its code and the action from
        `against` (the mean code: no picture) in the same state. `z`: the image codes of `images`
        (T, B, LATENT) when the caller has them (`image_codes`), else computed here."""
        T, B = images.shape[:2]
        z = self.image_codes(images) if z is None else z
        z = self.recall(obs, z, h0[..., HIDDEN:], starts, ages)  # the memory reads codes, not the controller: run first
        hc, outs, effect = h0[..., :HIDDEN], [], []
        for t in range(obs.shape[0]):
            hc = hc * (1.0 - starts[t])[None, :, None]
            age = None if ages is None else ages[t]
            a, h_next = self._core(obs[t], z[t], hc, age)
            if against is not None:
                effect.append(torch.mean((a - self._core(obs[t], against.expand(B, -1), hc, age)[0]) ** 2, dim=1))
            hc = h_next
            outs.append(a)
        if against is not None:
            return torch.stack(outs), z, torch.stack(effect)
        return (torch.stack(outs), z) if codes else torch.stack(outs)


def onnx_channels(path: str | Path) -> tuple[int, int, int]:
    """The encoder widths of a student_to_onnx file (its conv weights' output channels): the
    `channels` to build a Student with before student_from_onnx reads it back."""
    import onnx

    widths = {i.name: i.dims[0] for i in onnx.load(str(path)).graph.initializer if i.name in ("conv0_w", "conv1_w", "conv2_w")}
    if len(widths) != 3:
        raise ValueError(f"{path}: not a student (conv0_w, conv1_w, conv2_w: found {sorted(widths)})")
    return (int(widths["conv0_w"]), int(widths["conv1_w"]), int(widths["conv2_w"]))


def onnx_draws(path: str | Path) -> bool:
    """Whether a student_to_onnx file draws depth from colour (holds a DepthDrawer's weights): build
    the Student with `draw` before student_from_onnx reads it back."""
    import onnx

    return any(i.name == "draw_out_w" for i in onnx.load(str(path)).graph.initializer)


def onnx_memory(path: str | Path) -> int:
    """The code memory's width in a student_to_onnx file (0: none): build the Student with that
    `memory` before student_from_onnx reads it back."""
    import onnx

    return next((int(i.dims[1]) for i in onnx.load(str(path)).graph.initializer if i.name == "mem_out_w"), 0)


def _swap_gates(a: np.ndarray, size: int = HIDDEN) -> np.ndarray:
    """torch's GRU gate blocks r,z,n <-> ONNX's z,r,h along axis 0 (its own inverse)."""
    return np.concatenate([a[size : 2 * size], a[:size], a[2 * size :]], axis=0)


def student_from_onnx(model: Student, path: str | Path, frame_channels: int | None = None) -> str | None:
    """Load a student_to_onnx file's weights (normaliser included) back into `model`, whose layout
    must match: a shipped student is the start of a longer distillation (`distill --init-dir`).
    Two differences allowed, each returned as a note (None when there is none), each leaving the
    model acting exactly as the file did until training gives the new weights a value: a file
    without the image-age input into a model with it (the fusion layer gains a zero column), and a
    file that reads one frame of `frame_channels` into a model that reads a stack of k of them
    (`preprocess.stack`, frames oldest first: the file's first-layer weights go to the newest
    frame's channels, zeros to the older frames'; without `frame_channels`, refused as another network)."""
    import onnx

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    notes = []
    fuse_w = np.array(inits["fuse_w"])
    if model.age and fuse_w.shape[1] == model.fuse.in_features - 1:
        fuse_w = np.concatenate([fuse_w, np.zeros((fuse_w.shape[0], 1), fuse_w.dtype)], axis=1)
        notes.append(f"{Path(path).name} has no image-age input: added with zero weights (the same actions until training uses it)")
    conv0 = np.array(inits["conv0_w"])
    want_in = model.convs[0].in_channels
    if frame_channels is not None and conv0.ndim == 4 and conv0.shape[1] > want_in:
        raise ValueError(
            f"{path}: its first layer reads {conv0.shape[1]} image channels, this student {want_in}: a stack of frames is not narrowed (continue it with its own stack)"
        )
    if frame_channels is not None and conv0.ndim == 4 and conv0.shape[1] == frame_channels < want_in and want_in % frame_channels == 0:
        older = np.zeros((conv0.shape[0], want_in - conv0.shape[1], *conv0.shape[2:]), conv0.dtype)
        inits["conv0_w"] = np.concatenate([older, conv0], axis=1)
        k = want_in // conv0.shape[1]
        notes.append(f"{Path(path).name} reads one frame: {k - 1} older frame(s) added with zero weights (the same actions until training uses them)")
    W, R, B = inits["gru_W"][0], inits["gru_R"][0], inits["gru_B"][0]
    pairs = [
        (model.norm_mean, inits["norm_mean"][0]), (model.norm_std, inits["norm_std"][0]),
        (model.img_fc.weight, inits["img_w"]), (model.img_fc.bias, inits["img_b"]),
        (model.fuse.weight, fuse_w), (model.fuse.bias, inits["fuse_b"]),
        (model.gru.weight_ih_l0, _swap_gates(W)), (model.gru.weight_hh_l0, _swap_gates(R)),
        (model.gru.bias_ih_l0, _swap_gates(B[: 3 * HIDDEN])), (model.gru.bias_hh_l0, _swap_gates(B[3 * HIDDEN :])),
        (model.head[0].weight, inits["head0_w"]), (model.head[0].bias, inits["head0_b"]),
        (model.head[2].weight, inits["head1_w"]), (model.head[2].bias, inits["head1_b"]),
    ]  # fmt: skip
    for k, conv in enumerate(model.convs):
        pairs += [(conv.weight, inits[f"conv{k}_w"]), (conv.bias, inits[f"conv{k}_b"])]
    if (model.drawer is None) != ("draw_out_w" not in inits):
        raise ValueError(
            f"{path}: {'a student that draws depth' if 'draw_out_w' in inits else 'a student without a depth drawer'}; this one {'draws' if model.drawer is not None else 'does not'}"
        )
    if (model.memory is None) != ("mem_out_w" not in inits):
        if model.memory is None:
            raise ValueError(f"{path}: a student with a code memory; this one has none (build it with memory={inits['mem_out_w'].shape[1]})")
        notes.append(f"{Path(path).name} has no code memory: added, its output at zero (the same actions until training uses it)")
    elif model.memory is not None:
        m, M = model.memory, model.memory.size
        Wm, Rm, Bm = inits["mem_W"][0], inits["mem_R"][0], inits["mem_B"][0]
        pairs += [
            (m.gru.weight_ih_l0, _swap_gates(Wm, M)), (m.gru.weight_hh_l0, _swap_gates(Rm, M)),
            (m.gru.bias_ih_l0, _swap_gates(Bm[: 3 * M], M)), (m.gru.bias_hh_l0, _swap_gates(Bm[3 * M :], M)),
            (m.out.weight, inits["mem_out_w"]), (m.out.bias, inits["mem_out_b"]),
        ]  # fmt: skip
    if model.drawer is not None:
        d = model.drawer
        layers = {
            **{f"draw_down{k}": c for k, c in enumerate(d.down)},
            "draw_mid": d.mid,
            **{f"draw_up{k}": c for k, c in enumerate(d.up)},
            "draw_out": d.out,
        }
        pairs += [p for name, c in layers.items() for p in ((c.weight, inits[f"{name}_w"]), (c.bias, inits[f"{name}_b"]))]
    with torch.no_grad():
        for dst, src in pairs:
            if tuple(dst.shape) != src.shape:
                raise ValueError(f"{path}: a {src.shape} weight where this student has {tuple(dst.shape)}; not the same network")
            dst.copy_(torch.from_numpy(np.array(src)))  # a writable copy (numpy_helper gives read-only views)
    return "; ".join(notes) or None


def graft_core(dst: Student, src: Student) -> list[str]:
    """Copy what `src` does after its camera encoder (observation normaliser, fusion, GRU, head)
    into `dst`, which keeps its own encoder: an RGB student that starts as the depth student's
    controller, its encoder then fitted to the depth student's image code (`distill --graft`).
    A `dst` that draws depth (DepthDrawer) gets src's encoder too and keeps only its drawer.
    The two must have the same fusion layout (LATENT, the observation, the age input); returns
    the parameter names copied."""
    keep = ("drawer.",) if dst.drawer is not None else ("convs.", "img_fc.")  # a drawing student reads its drawing with src's encoder
    keep += ("memory.",)  # a code memory is the picture half's
    src_state = src.state_dict()
    copied = []
    with torch.no_grad():
        for name, value in dst.state_dict().items():
            if name.startswith(keep) or name.startswith("tg."):
                continue
            if name not in src_state or tuple(src_state[name].shape) != tuple(value.shape):
                raise ValueError(
                    f"cannot graft {name}: {tuple(src_state[name].shape) if name in src_state else 'absent'} in the source, {tuple(value.shape)} here"
                )
            value.copy_(src_state[name])
            copied.append(name)
    return copied


def _conv_nodes(name: str, layer: nn.Conv2d, x: str, nodes: list, inits: list, act: bool = True) -> str:
    """ONNX for a Conv2d (weights `{name}_w`, `{name}_b`; its padding written only where it pads)
    and, with `act`, the ELU after it; returns the output's name."""
    f32 = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    inits += [numpy_helper.from_array(f32(layer.weight), f"{name}_w"), numpy_helper.from_array(f32(layer.bias), f"{name}_b")]
    ph, pw = layer.padding
    pads = {"pads": [ph, pw, ph, pw]} if ph or pw else {}
    nodes.append(
        helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], kernel_shape=list(layer.kernel_size), strides=list(layer.stride), **pads)
    )
    if not act:
        return name
    nodes.append(helper.make_node("Elu", [name], [f"{name}_a"], alpha=1.0))
    return f"{name}_a"


def _drawer_nodes(drawer: DepthDrawer, image_name: str, nodes: list, inits: list) -> str:
    """ONNX for DepthDrawer.forward, clipped to DEPTH_RANGE (Student.latent); returns the drawn frame's name."""

    def conv(name: str, layer: nn.Conv2d, x: str, act: bool = True) -> str:
        return _conv_nodes(name, layer, x, nodes, inits, act)

    inits += [
        numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], np.float32), "draw_x2"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "draw_hw_axes"),
        numpy_helper.from_array(np.array([0, 0], np.int64), "draw_zero2"),
        numpy_helper.from_array(np.array([0, 1], np.int64), "draw_bc_axes"),
        numpy_helper.from_array(np.array(DEPTH_RANGE[0], np.float32), "draw_lo"),
        numpy_helper.from_array(np.array(DEPTH_RANGE[1], np.float32), "draw_hi"),
    ]
    skips, x = [], image_name
    for k, layer in enumerate(drawer.down):
        x = conv(f"draw_down{k}", layer, x)
        skips.append(x)
    y = conv("draw_mid", drawer.mid, x)
    for k, (layer, skip) in enumerate(zip(drawer.up, (skips[1], skips[0]), strict=True)):
        # nearest x 2, then cropped to the skip's height and width (Shape -> Slice ends)
        nodes += [
            helper.make_node(
                "Resize", [y, "", "draw_x2"], [f"draw_up{k}_x2"], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"
            ),
            helper.make_node("Shape", [skip], [f"draw_up{k}_shape"]),
            helper.make_node("Gather", [f"draw_up{k}_shape", "draw_hw_axes"], [f"draw_up{k}_hw"], axis=0),
            helper.make_node("Slice", [f"draw_up{k}_x2", "draw_zero2", f"draw_up{k}_hw", "draw_hw_axes"], [f"draw_up{k}_crop"]),
            helper.make_node("Concat", [f"draw_up{k}_crop", skip], [f"draw_up{k}_cat"], axis=1),
        ]
        y = conv(f"draw_up{k}", layer, f"draw_up{k}_cat")
    out = conv("draw_out", drawer.out, y, act=False)
    # bilinear to the input's height and width, half-pixel centres (torch's align_corners=False)
    nodes += [
        helper.make_node("Shape", [image_name], ["draw_in_shape"]),
        helper.make_node("Gather", ["draw_in_shape", "draw_hw_axes"], ["draw_in_hw"], axis=0),
        helper.make_node("Shape", [out], ["draw_out_shape"]),
        helper.make_node("Gather", ["draw_out_shape", "draw_bc_axes"], ["draw_out_bc"], axis=0),
        helper.make_node("Concat", ["draw_out_bc", "draw_in_hw"], ["draw_size"], axis=0),
        helper.make_node("Resize", [out, "", "", "draw_size"], ["draw_full"], mode="linear", coordinate_transformation_mode="half_pixel"),
        helper.make_node("Clip", ["draw_full", "draw_lo", "draw_hi"], ["drawn_depth"]),
    ]
    return "drawn_depth"


def _memory_nodes(model: Student, h_in: str, nodes: list, inits: list) -> tuple[str, str, str]:
    """ONNX for Student.remember: h_in split into the controller's state and the memory's, the
    memory's GRU over [img_lat, o_n, age_n], its correction added to img_lat. Returns the names of
    the code the controller reads and of its GRU's state in and out (Concat'ed with `mem_h_out`
    into h_out after the controller)."""
    f32 = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    m, M = model.memory, model.memory.size
    g = m.gru
    inits += [
        numpy_helper.from_array(np.array([0], np.int64), "mem_lo"),
        numpy_helper.from_array(np.array([HIDDEN], np.int64), "mem_split"),
        numpy_helper.from_array(np.array([HIDDEN + M], np.int64), "mem_hi"),
        numpy_helper.from_array(np.array([2], np.int64), "mem_axis"),
        numpy_helper.from_array(_swap_gates(f32(g.weight_ih_l0), M)[None], "mem_W"),
        numpy_helper.from_array(_swap_gates(f32(g.weight_hh_l0), M)[None], "mem_R"),
        numpy_helper.from_array(np.concatenate([_swap_gates(f32(g.bias_ih_l0), M), _swap_gates(f32(g.bias_hh_l0), M)])[None], "mem_B"),
        numpy_helper.from_array(f32(m.out.weight), "mem_out_w"),
        numpy_helper.from_array(f32(m.out.bias), "mem_out_b"),
    ]
    nodes += [
        helper.make_node("Slice", [h_in, "mem_lo", "mem_split", "mem_axis"], ["ctrl_h_in"]),
        helper.make_node("Slice", [h_in, "mem_split", "mem_hi", "mem_axis"], ["mem_h_in"]),
        helper.make_node("Concat", ["img_lat", "o_n", *(["age_n"] if model.age else [])], ["mem_in"], axis=1),
        helper.make_node("Unsqueeze", ["mem_in", "axis0"], ["mem_x"]),
        helper.make_node("GRU", ["mem_x", "mem_W", "mem_R", "mem_B", "", "mem_h_in"], ["mem_y", "mem_h_out"], hidden_size=M, linear_before_reset=1),
        helper.make_node("Squeeze", ["mem_h_out", "axis0"], ["mem_h"]),
        helper.make_node("Gemm", ["mem_h", "mem_out_w", "mem_out_b"], ["mem_dz"], transB=1),
        helper.make_node("Add", ["img_lat", "mem_dz"], ["img_code"]),
    ]
    return "img_code", "ctrl_h_in", "ctrl_h_out"


def student_to_onnx(
    model: Student, path: str | Path, obs_name: str, image_name: str, h_in: str, h_out: str, action_name: str = "actions", age_name: str = "image_age"
) -> Path:
    """The student as ONNX: inputs obs_name, image_name, h_in (and age_name, float32 [batch, 1] s,
    for a student with `age`); outputs action_name and h_out."""
    path = Path(path)
    f32 = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    inits = [
        numpy_helper.from_array(f32(model.norm_mean)[None], "norm_mean"),
        numpy_helper.from_array(f32(model.norm_std)[None], "norm_std"),
        numpy_helper.from_array(np.array(-5.0, np.float32), "norm_lo"),
        numpy_helper.from_array(np.array(5.0, np.float32), "norm_hi"),
        numpy_helper.from_array(np.array([0], np.int64), "axis0"),
    ]
    nodes = [
        helper.make_node("Sub", [obs_name, "norm_mean"], ["o_c"]),
        helper.make_node("Div", ["o_c", "norm_std"], ["o_s"]),
        helper.make_node("Clip", ["o_s", "norm_lo", "norm_hi"], ["o_n"]),
    ]
    x = image_name if model.drawer is None else _drawer_nodes(model.drawer, image_name, nodes, inits)
    for k, conv in enumerate(model.convs):
        x = _conv_nodes(f"conv{k}", conv, x, nodes, inits)
    H = HIDDEN
    W_ih, W_hh = f32(model.gru.weight_ih_l0), f32(model.gru.weight_hh_l0)
    b_ih, b_hh = f32(model.gru.bias_ih_l0), f32(model.gru.bias_hh_l0)
    zrh = _swap_gates
    inits += [
        numpy_helper.from_array(f32(model.img_fc.weight), "img_w"), numpy_helper.from_array(f32(model.img_fc.bias), "img_b"),
        numpy_helper.from_array(f32(model.fuse.weight), "fuse_w"), numpy_helper.from_array(f32(model.fuse.bias), "fuse_b"),
        numpy_helper.from_array(zrh(W_ih)[None], "gru_W"), numpy_helper.from_array(zrh(W_hh)[None], "gru_R"),
        numpy_helper.from_array(np.concatenate([zrh(b_ih), zrh(b_hh)])[None], "gru_B"),
        numpy_helper.from_array(f32(model.head[0].weight), "head0_w"), numpy_helper.from_array(f32(model.head[0].bias), "head0_b"),
        numpy_helper.from_array(f32(model.head[2].weight), "head1_w"), numpy_helper.from_array(f32(model.head[2].bias), "head1_b"),
    ]  # fmt: skip
    out = "net_out" if model.tg is not None else action_name
    nodes += [
        helper.make_node("Flatten", [x], ["img_flat"], axis=1),
        helper.make_node("Gemm", ["img_flat", "img_w", "img_b"], ["img_z"], transB=1),
        helper.make_node("Elu", ["img_z"], ["img_lat"], alpha=1.0),
    ]
    code, h_ctrl_in, h_ctrl_out = "img_lat", h_in, h_out
    if model.memory is not None:  # the state is [controller's | memory's] along its last axis
        code, h_ctrl_in, h_ctrl_out = _memory_nodes(model, h_in, nodes, inits)
    nodes += [
        helper.make_node("Concat", ["o_n", code, *(["age_n"] if model.age else [])], ["fused_in"], axis=1),
        helper.make_node("Gemm", ["fused_in", "fuse_w", "fuse_b"], ["fused_z"], transB=1),
        helper.make_node("Elu", ["fused_z"], ["fused"], alpha=1.0),
        helper.make_node("Unsqueeze", ["fused", "axis0"], ["gru_x"]),  # (1, B, H): a sequence of one step
        helper.make_node("GRU", ["gru_x", "gru_W", "gru_R", "gru_B", "", h_ctrl_in], ["gru_y", h_ctrl_out], hidden_size=H, linear_before_reset=1),
        helper.make_node("Squeeze", [h_ctrl_out, "axis0"], ["gru_h"]),
        helper.make_node("Gemm", ["gru_h", "head0_w", "head0_b"], ["head0"], transB=1),
        helper.make_node("Elu", ["head0"], ["head0_a"], alpha=1.0),
        helper.make_node("Gemm", ["head0_a", "head1_w", "head1_b"], [out], transB=1),
    ]
    if model.memory is not None:
        nodes.append(helper.make_node("Concat", [h_ctrl_out, "mem_h_out"], [h_out], axis=2))
    if model.age:
        inits.append(numpy_helper.from_array(np.array(AGE_SCALE, np.float32), "age_scale"))
        nodes.insert(0, helper.make_node("Mul", [age_name, "age_scale"], ["age_n"]))
    if model.tg is not None:
        _trot_nodes(model, obs_name, action_name, nodes, inits)
    c, h, w = model.image_shape
    inputs = [
        helper.make_tensor_value_info(obs_name, TensorProto.FLOAT, ["batch", int(model.norm_mean.shape[0])]),
        helper.make_tensor_value_info(image_name, TensorProto.FLOAT, ["batch", c, h, w]),
        helper.make_tensor_value_info(h_in, TensorProto.FLOAT, [1, "batch", model.state_size]),
    ]
    if model.age:
        inputs.append(helper.make_tensor_value_info(age_name, TensorProto.FLOAT, ["batch", 1]))
    n_act = model.head[2].out_features
    graph = helper.make_graph(
        nodes,
        "lucid_ros_student",
        inputs,
        [
            helper.make_tensor_value_info(action_name, TensorProto.FLOAT, ["batch", n_act]),
            helper.make_tensor_value_info(h_out, TensorProto.FLOAT, [1, "batch", model.state_size]),
        ],
        initializer=inits,
    )
    return save_graph(graph, path)
