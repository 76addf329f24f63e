"""extreme_parkour and lucidsim: the deployed visual-parkour student, from `model_<iter>.pt`.

The student (extreme-parkour's `save_jit.py` + `play.py`; LucidSim's `ParkourActor.forward`):
a depth (or, LucidSim, RGB) CNN and a GRU ("RecurrentDepthBackbone") run on each new camera
frame, every 5th policy step, and give a 32-d latent plus 2 yaw values, held until the next
frame; the estimator turns the 53-d proprioception into the 9 "explicit" privileged values; the
actor encodes the previous 10 proprio frames (yaw entries zeroed) and maps proprio + latent +
estimate + history encoding to 12 joint actions.

In the ONNX: `obs` is the spec's 11 frames × 53, oldest first (10 past frames and the current
one; the ObservationBuilder fills the past with the first frame on reset, as the trainers do);
`<image>_fresh` [1] says whether this step brings a new frame; the GRU state and the held
latent + yaw are recurrent inputs/outputs. On a step without a frame the image branch's result is
discarded (`Where`), so the state passes through unchanged, exactly as the source skips it.
The yaw-to-waypoint entries (6, 7) of the proprio frame are zeros in the spec: the deployed
student never reads them (zeroed for the encoder, then overwritten by its own prediction × 1.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.importers.base import Conversion, refuse_extra, require, source_error
from lucid_ros.importers.onnxgraph import GraphBuilder

N_PROP, N_SCAN, N_PRIV, N_PRIV_LATENT, HIST = 53, 132, 9, 29, 10
YAW = (6, 8)  # proprio entries of the yaw to the current and next waypoint
YAW_GAIN = 1.5  # the student's predicted yaw x 1.5 replaces them
LATENT = 32
POLICY_HZ, IMAGE_HZ = 50.0, 10.0  # dt 0.02; a new frame every 5th step (update_interval 5)
PERIOD = int(POLICY_HZ / IMAGE_HZ)
LEGS = ("FR", "FL", "RR", "RL")  # their `reindex`ed order = the Unitree SDK order
JOINTS = [f"{leg}_{j}_joint" for leg in LEGS for j in ("hip", "thigh", "calf")]
FEET = [f"{leg}_foot" for leg in LEGS]
DEFAULT = [-0.1, 0.8, -1.5, 0.1, 0.8, -1.5, -0.1, 1.0, -1.5, 0.1, 1.0, -1.5]  # both Go1 configs, in JOINTS order


@dataclass(frozen=True)
class Format:
    trainer: str
    image_hw: tuple[int, int]  # the backbone's input (H, W)
    kp: float
    kd: float
    near: float
    far: float
    crop: tuple[int, int, int, int]  # for a 60 x 106 depth frame
    interpolation: str
    hold_yaw: bool  # the predicted yaw is held between frames (extreme-parkour's play.py), else used on frame steps only
    hfov_deg: float | None


FORMATS = {
    "extreme_parkour": Format("extreme-parkour (rsl_rl 1.0.2 fork; HardwareVisionNN of save_jit.py + play.py)", (58, 87), 30.0, 0.6, 0.0, 2.0,
                              (0, 2, 4, 4), "bicubic", True, 87.0),
    "lucidsim": Format("LucidSim (ParkourActor: Actor, Estimator, RecurrentDepthBackbone)", (45, 80), 20.0, 0.5, 0.28, 2.0,
                       (0, 0, 0, 0), "bilinear", False, None),
}  # fmt: skip
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def _flat(ckpt: dict, top: str, strip: str = "") -> dict[str, torch.Tensor]:
    """ckpt[top] as {'top.key': tensor} (keys under `strip` only, that prefix kept in the name), so
    every error names the key as it is in the file."""
    return {f"{top}.{k}": v.detach().float() for k, v in ckpt[top].items() if k.startswith(strip) and hasattr(v, "detach")}


def _layers(state: dict, prefix: str, path: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The Linear layers `prefix.<i>.weight/bias` of a Sequential, in index order."""
    idx = sorted({int(k[len(prefix) + 1 :].split(".")[0]) for k in state if k.startswith(prefix + ".") and k.endswith(".weight")})
    if not idx:
        raise source_error(path, f"{prefix}.0.weight", f"missing from the checkpoint (no layers under '{prefix}')")
    require(state, path, {f"{prefix}.{i}.{p}": (None,) * (2 if p == "weight" else 1) for i in idx for p in ("weight", "bias")})
    out = [(state[f"{prefix}.{i}.weight"], state[f"{prefix}.{i}.bias"]) for i in idx]
    for (w0, _), (w1, _), i in zip(out, out[1:], idx[1:], strict=False):
        if w1.shape[1] != w0.shape[0]:
            raise source_error(path, f"{prefix}.{i}.weight", f"reads {w1.shape[1]} values, the layer before gives {w0.shape[0]}")
    return out


def _conv_out(n: int) -> int:
    return (n - 4) // 2 - 2  # conv 5, max-pool 2, conv 3


def _load(path: Path) -> dict:
    """torch.load(weights_only=True): tensors, dicts and plain values only (a pickle that would run
    code is refused, as for every state-dict format)."""
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, pickle and unpickler errors alike
        raise source_error(path, None, f"not a torch checkpoint of tensors (torch.load(weights_only=True) refuses it): {exc}") from exc
    if not isinstance(ckpt, dict):
        raise source_error(path, None, f"expected a dict (torch.save of the runner's state), got {type(ckpt).__name__}")
    return ckpt


def read_config(cfg: Path | None, fmt: str) -> dict[str, Any]:
    """Run options the checkpoint cannot show (a YAML mapping; every key optional)."""
    values: dict[str, Any] = {"direction_distillation": fmt == "extreme_parkour", "tanh_encoder_output": False,
                              "env_class_flags": [1.0, 0.0], "color_mean": IMAGENET[0], "color_std": IMAGENET[1]}  # fmt: skip
    if cfg is None:
        return values
    raw = read_yaml(cfg, "training config (--config)") or {}
    f = Fields(raw, cfg)
    f.refuse_unknown(set(values))
    for key in ("direction_distillation", "tanh_encoder_output"):
        if f.has(key):
            values[key] = f.bool(key)
    if fmt == "extreme_parkour" and not values["direction_distillation"]:
        raise f.error("direction_distillation", "extreme-parkour's deployed student always uses its predicted yaw")
    if f.has("env_class_flags"):
        values["env_class_flags"] = f.float_list("env_class_flags", length=2)
    for key in ("color_mean", "color_std"):
        if f.has(key):
            values[key] = f.float_list(key, length=3)
    return values


def convert(path: Path, robot: str, config: Path | None, name: str, fmt: str) -> Conversion:
    from lucid_ros.robots import load_robot

    spec_fmt = FORMATS[fmt]
    ckpt, notes = _load(path), []
    values = read_config(config, fmt)
    actor, prefix, estimator, depth = _state_dicts(ckpt, path, fmt, notes)
    net = _shapes(actor, prefix, estimator, depth, path, fmt)
    description = load_robot(robot)
    if net["n_act"] != len(JOINTS) or description.n_joints != len(JOINTS):
        key = net["actor_layers"][-1]
        raise source_error(path, key, f"the actor outputs {net['n_act']} actions; {fmt} drives {len(JOINTS)} joints and robot "
                                      f"'{robot}' has {description.n_joints}")  # fmt: skip
    stream = "depth" if net["channels"] == 1 else "color"
    camera, preprocess = _camera(description, stream, spec_fmt, values, net["channels"])
    image, fresh = ("depth", "depth_fresh") if stream == "depth" else ("image", "image_fresh")
    distill = values["direction_distillation"] and net["n_out"] == LATENT + 2
    g = _graph(name, net, image, fresh, spec_fmt.hold_yaw, distill, values["tanh_encoder_output"])
    spec = {
        "format": "lucid_ros.policy/1",
        "rate_hz": POLICY_HZ,
        "joint_order": JOINTS,
        "gains": {"kp": spec_fmt.kp, "kd": spec_fmt.kd},
        "action": {"clip": 1.2, "scale": 0.25, "offset": DEFAULT},
        "observation": {
            "history": HIST + 1,
            "history_layout": "time_major",
            "clip": 100.0,
            "terms": [
                {"name": "base_ang_vel", "scale": 0.25},
                {"name": "roll_pitch"},
                {"name": "constant", "value": [0.0] * 5},  # 0, yaw to waypoint, to the next, 0, 0: the network's own yaw
                {"name": "velocity_command", "components": ["vx"]},
                {"name": "constant", "value": values["env_class_flags"]},  # env-class flags [class != 17, class == 17]
                {"name": "joint_pos_rel", "default": DEFAULT},
                {"name": "joint_vel", "scale": 0.05},
                {"name": "last_action"},
                {"name": "foot_contacts", "feet": FEET, "offset": -0.5},
            ],
        },
        "inputs": {
            "observation": "obs",
            "images": [{"input": image, "camera": camera, "stream": stream, "fresh": fresh, "preprocess": preprocess}],
            "recurrent": [
                {"input": "gru_h_in", "output": "gru_h_out", "shape": [1, 1, net["hidden"]]},
                {"input": "vision_in", "output": "vision_out", "shape": [1, net["n_out"]]},
            ],
        },
        "outputs": {"action": "actions"},
        "training": {"trainer": spec_fmt.trainer},
    }
    notes += [
        f"joint order {JOINTS} (the trainer's `reindex`ed order); default pose {DEFAULT}; kp {spec_fmt.kp}, kd {spec_fmt.kd}, "
        "action scale 0.25, clip 1.2, observation clip 100, 50 Hz",
        "proprio entries 6-7 (yaw to the waypoints) are zeros in the spec: the deployed student zeroes them for its depth "
        + ("encoder and substitutes 1.5 x its own predicted yaw" if distill else "encoder and the actor reads them as given (zeros)")
        + (
            ", held between frames (play.py)"
            if distill and spec_fmt.hold_yaw
            else (", on frame steps only (ParkourActor.forward)" if distill else "")
        ),
        f"env-class flags {values['env_class_flags']} (not a parkour-step terrain); --config env_class_flags to change",
        f"history: the 10 previous frames, yaw zeroed, filled with the first frame after a reset; the {stream} branch and its GRU "
        f"step on a new frame only (inputs.images[0].fresh; every {PERIOD}th step at {IMAGE_HZ:g} Hz)",
        "last_action is the clipped action (the trainers feed the unclipped one: they differ only beyond |a| = 1.2)",
        f"{stream} preprocessing {preprocess}; delay_frames 0 (training showed the frame one refresh old; a real camera adds its own latency)",
        f"ELU activations, estimator {[int(w.shape[0]) for w, _ in net['estimator']]}, GRU {net['hidden']}",
    ]
    if stream == "color":
        notes.append(f"unsure: an RGB student (first conv reads {net['channels']} channels) gets the frame's RGB / 255 normalised with mean "
                     f"{values['color_mean']} std {values['color_std']} (--config color_mean/color_std); the public release shows no RGB deploy")  # fmt: skip
    if fmt == "lucidsim":
        notes.append("unsure: LucidSim's depth resize interpolation and normalisation (d - near)/(far - near) - 0.5 follow extreme-parkour")
    if config is None:
        notes.append(f"no --config: direction_distillation {values['direction_distillation']}, tanh_encoder_output False")
    reference = StudentReference(net, spec_fmt.hold_yaw, distill, values["tanh_encoder_output"], image)
    return Conversion(spec=spec, graph=g, reference=reference, notes=notes, observation_sampler=_sampler(values), image_period=PERIOD)


def _state_dicts(ckpt: dict, path: Path, fmt: str, notes: list[str]) -> tuple[dict, str, dict, dict]:
    """(actor tensors, their key prefix, estimator tensors, depth encoder tensors), keys as in the file."""

    def need(key: str) -> None:
        if not isinstance(ckpt.get(key), dict):
            raise source_error(path, key, f"missing from the checkpoint (top-level keys: {sorted(ckpt)}); a {fmt} student checkpoint has it")

    for key in ("estimator_state_dict", "depth_encoder_state_dict"):
        need(key)
    if fmt == "extreme_parkour" or isinstance(ckpt.get("depth_actor_state_dict"), dict):
        need("depth_actor_state_dict")  # extreme-parkour's save_jit.py loads only this one
        actor, prefix = _flat(ckpt, "depth_actor_state_dict"), "depth_actor_state_dict"
    else:
        need("model_state_dict")
        actor, prefix = _flat(ckpt, "model_state_dict", strip="actor."), "model_state_dict.actor"
        if not actor:
            raise source_error(path, "model_state_dict", "has no 'actor.'-prefixed keys (LucidSim saves the actor-critic's state)")
        notes.append("no depth_actor_state_dict: the actor's own weights (model_state_dict actor.*), as LucidSim falls back")
    return actor, prefix, _flat(ckpt, "estimator_state_dict"), _flat(ckpt, "depth_encoder_state_dict")


def _shapes(actor: dict, a: str, est: dict, depth: dict, path: Path, fmt: str) -> dict[str, Any]:
    """Every tensor the deployed student uses, checked against the public code's shapes."""
    h = f"{a}.history_encoder"
    require(actor, path, {f"{h}.encoder.0.weight": (30, N_PROP), f"{h}.encoder.0.bias": (30,), f"{h}.conv_layers.0.weight": (20, 30, 4),
                          f"{h}.conv_layers.0.bias": (20,), f"{h}.conv_layers.2.weight": (10, 20, 2), f"{h}.conv_layers.2.bias": (10,),
                          f"{h}.linear_output.0.weight": (None, 30), f"{h}.linear_output.0.bias": (None,)})  # fmt: skip
    backbone = _layers(actor, f"{a}.actor_backbone", path)
    n_hist = actor[f"{h}.linear_output.0.weight"].shape[0]
    want_in = N_PROP + LATENT + N_PRIV + n_hist
    if backbone[0][0].shape[1] != want_in:
        raise source_error(path, f"{a}.actor_backbone.0.weight", f"reads {backbone[0][0].shape[1]} values; proprio {N_PROP} + latent {LATENT} + "
                                                                 f"estimate {N_PRIV} + history {n_hist} = {want_in}")  # fmt: skip
    known = {k for k in actor if k.startswith((f"{h}.", f"{a}.actor_backbone.", f"{a}.scan_encoder.", f"{a}.priv_encoder."))}
    refuse_extra(actor, path, a + ".", known)
    estimator = _layers(est, "estimator_state_dict.estimator", path)
    if estimator[0][0].shape[1] != N_PROP or estimator[-1][0].shape[0] != N_PRIV:
        raise source_error(path, "estimator_state_dict.estimator.0.weight", f"maps {estimator[0][0].shape[1]} -> {estimator[-1][0].shape[0]}; "
                                                                             f"the student's estimator maps proprio {N_PROP} -> {N_PRIV}")  # fmt: skip
    refuse_extra(est, path, "estimator_state_dict.", {k for k in est if k.startswith("estimator_state_dict.estimator.")})
    d, b = "depth_encoder_state_dict", "depth_encoder_state_dict.base_backbone.image_compression"
    require(depth, path, {f"{b}.0.weight": (32, None, 5, 5), f"{b}.0.bias": (32,), f"{b}.3.weight": (64, 32, 3, 3), f"{b}.3.bias": (64,)})
    H, W = FORMATS[fmt].image_hw
    flat = 64 * _conv_out(H) * _conv_out(W)
    require(depth, path, {f"{b}.6.weight": (128, flat), f"{b}.6.bias": (128,), f"{b}.8.weight": (LATENT, 128), f"{b}.8.bias": (LATENT,),
                          f"{d}.combination_mlp.0.weight": (128, LATENT + N_PROP), f"{d}.combination_mlp.0.bias": (128,),
                          f"{d}.combination_mlp.2.weight": (LATENT, 128), f"{d}.combination_mlp.2.bias": (LATENT,),
                          f"{d}.rnn.weight_hh_l0": (None, None), f"{d}.output_mlp.0.weight": (None, None)})  # fmt: skip
    hidden = depth[f"{d}.rnn.weight_hh_l0"].shape[1]
    n_out = depth[f"{d}.output_mlp.0.weight"].shape[0]
    require(depth, path, {f"{d}.rnn.weight_ih_l0": (3 * hidden, LATENT), f"{d}.rnn.weight_hh_l0": (3 * hidden, hidden), f"{d}.rnn.bias_ih_l0": (3 * hidden,),
                          f"{d}.rnn.bias_hh_l0": (3 * hidden,), f"{d}.output_mlp.0.weight": (n_out, hidden), f"{d}.output_mlp.0.bias": (n_out,)})  # fmt: skip
    if n_out not in (LATENT, LATENT + 2) or (fmt == "extreme_parkour" and n_out != LATENT + 2):
        raise source_error(path, f"{d}.output_mlp.0.weight", f"gives {n_out} values; the student's gives latent {LATENT} + yaw 2"
                                                            + (" (or 32 with ignore_yaw)" if fmt == "lucidsim" else ""))  # fmt: skip
    if f"{d}.rnn.weight_ih_l1" in depth:
        raise source_error(path, f"{d}.rnn.weight_ih_l1", "a multi-layer GRU: the public RecurrentDepthBackbone has one layer")
    channels = depth[f"{b}.0.weight"].shape[1]
    if channels != 1 and (fmt == "extreme_parkour" or channels != 3):
        raise source_error(path, f"{b}.0.weight", f"reads {channels} image channels; {fmt} students read 1 (depth)"
                                                  + (" or 3 (one RGB frame)" if fmt == "lucidsim" else ""))  # fmt: skip
    known = {k for k in depth if k.startswith((f"{b}.", f"{d}.combination_mlp.", f"{d}.rnn.", f"{d}.output_mlp."))}
    refuse_extra(depth, path, d + ".", known)
    return {"actor_layers": [f"{a}.actor_backbone"], "backbone": backbone, "estimator": estimator, "n_act": backbone[-1][0].shape[0],
            "hist": {k[len(h) + 1:]: v for k, v in actor.items() if k.startswith(h + ".")}, "hidden": hidden, "n_out": n_out,
            "channels": channels, "image_hw": (H, W), "depth": {k[len(d) + 1:]: v for k, v in depth.items()}}  # fmt: skip


def _camera(robot, stream: str, fmt: Format, values: dict, channels: int) -> tuple[str, dict]:
    """The robot camera and the preprocessing that makes the trainer's image from its stream."""
    cams = [c for c in robot.cameras.values() if getattr(c, stream) is not None]
    if not cams:
        raise ConfigError(robot.source, "cameras", f"robot '{robot.name}' has no camera with a {stream} stream (the student reads one)")
    cam = next((c for c in cams if c.name == "ego"), cams[0])
    s = getattr(cam, stream)
    H, W = fmt.image_hw
    pre: dict[str, Any] = {"input_size": [s.height, s.width]}
    if stream == "depth":
        if any(fmt.crop) and (s.height, s.width) != (60, 106):
            raise ConfigError(
                robot.source, f"cameras.{cam.name}.depth", f"is {s.height}x{s.width}; the trainer's crop {list(fmt.crop)} is for 60x106 frames"
            )
        if fmt.hfov_deg is not None:
            pre["vfov_deg"] = round(math.degrees(2 * math.atan(math.tan(math.radians(fmt.hfov_deg / 2)) * s.height / s.width)), 2)
        if any(fmt.crop):
            pre["crop"] = list(fmt.crop)
    if (s.height - fmt.crop[0] - fmt.crop[1], s.width - fmt.crop[2] - fmt.crop[3]) != (H, W) or stream == "depth":
        pre |= {"resize": [H, W], "interpolation": fmt.interpolation if stream == "depth" else "bilinear"}
    if stream == "depth":
        pre["depth"] = {"clip": [fmt.near, fmt.far], "normalize": "range", "invalid": "far"}
    else:
        pre["color"] = {"mean": list(values["color_mean"]), "std": list(values["color_std"])}
    pre |= {"rate_hz": IMAGE_HZ, "stack": 1, "delay_frames": 0}
    return cam.name, pre


def _graph(name: str, net: dict, image: str, fresh: str, hold_yaw: bool, distill: bool, tanh: bool) -> GraphBuilder:
    g = GraphBuilder(f"{name}_parkour_student")
    H, W = net["image_hw"]
    d, hist = net["depth"], net["hist"]
    obs = g.input("obs", [1, (HIST + 1) * N_PROP])
    img = g.input(image, [1, net["channels"], H, W])
    flag = g.input(fresh, [1])
    h_in = g.input("gru_h_in", [1, 1, net["hidden"]])
    held_in = g.input("vision_in", [1, net["n_out"]])
    mask = np.ones(N_PROP, dtype=np.float32)
    mask[YAW[0] : YAW[1]] = 0.0
    prop = g.slice(obs, HIST * N_PROP, (HIST + 1) * N_PROP)
    # The image branch (its result is used only when `fresh`).
    c = "base_backbone.image_compression"
    x = g.activation(g.maxpool(g.conv(img, d[f"{c}.0.weight"], d[f"{c}.0.bias"]), 2), "elu")
    x = g.flatten(g.activation(g.conv(x, d[f"{c}.3.weight"], d[f"{c}.3.bias"]), "elu"))
    x = g.mlp(x, [(d[f"{c}.6.weight"], d[f"{c}.6.bias"]), (d[f"{c}.8.weight"], d[f"{c}.8.bias"])], "elu", last_activation=True)
    x = g.concat([x, g.mul(prop, g.const(mask, "yaw_mask"))])
    x = g.mlp(x, [(d["combination_mlp.0.weight"], d["combination_mlp.0.bias"]), (d["combination_mlp.2.weight"], d["combination_mlp.2.bias"])], "elu")
    y, h_new = g.gru(g.unsqueeze(x, [0]), h_in, d["rnn.weight_ih_l0"], d["rnn.weight_hh_l0"], d["rnn.bias_ih_l0"], d["rnn.bias_hh_l0"])
    new = g.activation(g.linear(g.squeeze(y, [0]), d["output_mlp.0.weight"], d["output_mlp.0.bias"]), "tanh")
    is_new = g.op("Greater", [flag, g.const(np.full(1, 0.5, np.float32), "half")])
    held = g.op("Where", [is_new, new, held_in], "held")
    h_out = g.op("Where", [is_new, h_new, h_in], "h_held")
    latent = g.slice(held, 0, LATENT)
    if distill:
        yaw = g.mul(g.slice(held if hold_yaw else new, LATENT, LATENT + 2), g.const(np.full(1, YAW_GAIN, np.float32), "yaw_gain"))
        if not hold_yaw:  # LucidSim: the prediction replaces the entries on a frame step only
            yaw = g.op("Where", [is_new, yaw, g.slice(prop, *YAW)], "yaw")
        prop = g.concat([g.slice(prop, 0, YAW[0]), yaw, g.slice(prop, YAW[1], N_PROP)])
    priv = g.mlp(prop, net["estimator"], "elu")
    # The history encoder over the 10 previous frames, yaw zeroed (StateHistoryEncoder, 10 steps).
    past = g.mul(g.reshape(g.slice(obs, 0, HIST * N_PROP), [HIST, N_PROP]), g.const(mask, "yaw_mask"))
    p = g.activation(g.linear(past, hist["encoder.0.weight"], hist["encoder.0.bias"]), "elu")
    p = g.op("Transpose", [g.reshape(p, [1, HIST, -1])], perm=[0, 2, 1])
    p = g.activation(g.conv(p, hist["conv_layers.0.weight"], hist["conv_layers.0.bias"], stride=2), "elu")
    p = g.flatten(g.activation(g.conv(p, hist["conv_layers.2.weight"], hist["conv_layers.2.bias"]), "elu"))
    p = g.activation(g.linear(p, hist["linear_output.0.weight"], hist["linear_output.0.bias"]), "elu")
    out = g.mlp(g.concat([prop, latent, priv, p]), net["backbone"], "elu")
    if tanh:
        out = g.activation(out, "tanh")
    g.output(out, "actions", [1, net["n_act"]])
    g.output(h_out, "gru_h_out", [1, 1, net["hidden"]])
    g.output(held, "vision_out", [1, net["n_out"]])
    return g


class StudentReference:
    """The source student in torch, stepped as its deploy steps it: the depth encoder (CNN,
    combination MLP, GRU, output MLP) on steps 0, 5, 10, ... after a reset, its latent (and yaw)
    held between; the history of the 10 previous proprio frames, yaw zeroed, kept here from the
    current frames it is given (filled with the first frame after a reset); the estimator fills
    the privileged slot and the actor runs on the 753-d observation the trainer builds."""

    def __init__(self, net: dict, hold_yaw: bool, distill: bool, tanh: bool, image: str):
        self.net, self.hold_yaw, self.distill, self.tanh, self.image = net, hold_yaw, distill, tanh, image
        self.reset()

    def reset(self) -> None:
        self.t = 0
        self.h = torch.zeros(1, 1, self.net["hidden"])
        self.out = torch.zeros(1, self.net["n_out"])  # latent (+ yaw): LucidSim's last_latent, play.py's depth_latent / yaw
        self.history: torch.Tensor | None = None

    def _encode(self, image: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        d, c = self.net["depth"], "base_backbone.image_compression"
        if image.shape[1] == 1:
            image = image[:, 0].unsqueeze(1)  # their forward: images (B, H, W).unsqueeze(1)
        x = F.elu(F.max_pool2d(F.conv2d(image, d[f"{c}.0.weight"], d[f"{c}.0.bias"]), 2, 2))
        x = torch.flatten(F.elu(F.conv2d(x, d[f"{c}.3.weight"], d[f"{c}.3.bias"])), 1)
        x = F.elu(F.linear(F.elu(F.linear(x, d[f"{c}.6.weight"], d[f"{c}.6.bias"])), d[f"{c}.8.weight"], d[f"{c}.8.bias"]))
        x = F.linear(F.elu(F.linear(torch.cat([x, student], -1), d["combination_mlp.0.weight"], d["combination_mlp.0.bias"])),
                     d["combination_mlp.2.weight"], d["combination_mlp.2.bias"])  # fmt: skip
        gru = torch.nn.GRU(LATENT, self.net["hidden"], batch_first=True)
        gru.load_state_dict({k[4:]: v for k, v in d.items() if k.startswith("rnn.")})
        y, self.h = gru(x[:, None, :], self.h)
        return torch.tanh(F.linear(y[:, 0], d["output_mlp.0.weight"], d["output_mlp.0.bias"]))

    def _mlp(self, x: torch.Tensor, layers, last: bool = False) -> torch.Tensor:
        for i, (w, b) in enumerate(layers):
            x = F.linear(x, w, b)
            if i < len(layers) - 1 or last:
                x = F.elu(x)
        return x

    def _history_latent(self, hist: torch.Tensor) -> torch.Tensor:
        e = self.net["hist"]
        p = F.elu(F.linear(hist.reshape(-1, N_PROP), e["encoder.0.weight"], e["encoder.0.bias"])).reshape(hist.shape[0], HIST, -1).permute(0, 2, 1)
        p = F.elu(F.conv1d(p, e["conv_layers.0.weight"], e["conv_layers.0.bias"], stride=2))
        p = torch.flatten(F.elu(F.conv1d(p, e["conv_layers.2.weight"], e["conv_layers.2.bias"])), 1)
        return F.elu(F.linear(p, e["linear_output.0.weight"], e["linear_output.0.bias"]))

    def step(self, obs: np.ndarray, images) -> np.ndarray:
        with torch.no_grad():
            frame = torch.from_numpy(np.asarray(obs, dtype=np.float32).reshape(1, -1)[:, -N_PROP:].copy())
            prop = frame.clone()
            if self.t % PERIOD == 0:
                student = frame.clone()
                student[:, YAW[0] : YAW[1]] = 0
                self.out = self._encode(torch.from_numpy(np.asarray(images[self.image], dtype=np.float32)), student)
                if self.distill and not self.hold_yaw:
                    prop[:, YAW[0] : YAW[1]] = YAW_GAIN * self.out[:, LATENT:]
            if self.distill and self.hold_yaw:
                prop[:, YAW[0] : YAW[1]] = YAW_GAIN * self.out[:, LATENT:]
            masked = frame.clone()
            masked[:, YAW[0] : YAW[1]] = 0  # the trainer's obs_history_buf
            if self.history is None:
                self.history = masked.repeat(HIST, 1)[None]
            full = torch.cat([prop, torch.zeros(1, N_SCAN + N_PRIV + N_PRIV_LATENT), self.history.reshape(1, -1)], -1)
            full[:, N_PROP + N_SCAN : N_PROP + N_SCAN + N_PRIV] = self._mlp(full[:, :N_PROP], self.net["estimator"])
            # Actor.forward(obs, hist_encoding=True, scandots_latent=latent)
            x = torch.cat([full[:, :N_PROP], self.out[:, :LATENT], full[:, N_PROP + N_SCAN : N_PROP + N_SCAN + N_PRIV],
                           self._history_latent(full[:, -HIST * N_PROP :].view(-1, HIST, N_PROP))], -1)  # fmt: skip
            a = self._mlp(x, self.net["backbone"])
            if self.tanh:
                a = torch.tanh(a)
            self.history = torch.cat([self.history[:, 1:], masked[:, None]], 1)
            self.t += 1
            return a.numpy().reshape(-1)


def _sampler(values: dict):
    """Observations as the spec's builder stacks them (11 frames, oldest first, the past filled
    with the first frame at step 0 and at the half-way reset prove_equivalent makes): frames that
    move like a trotting robot's, with the spec's constants in place."""

    def sample(rng: np.random.Generator, steps: int) -> np.ndarray:
        frames = np.zeros((steps, N_PROP), dtype=np.float32)
        omega, tilt, q, dq, act = np.zeros(3), np.zeros(2), np.zeros(12), np.zeros(12), np.zeros(12)
        vx = 0.5
        for t in range(steps):
            if t % 100 == 0:
                vx = rng.uniform(0.3, 0.8)
            omega = 0.8 * omega + rng.normal(0, 0.3, 3)
            tilt = np.clip(0.95 * tilt + rng.normal(0, 0.02, 2), -0.3, 0.3)
            dq = 0.7 * dq + rng.normal(0, 1.5, 12)
            q = np.clip(q + dq * 0.02, -0.6, 0.6)
            act = np.clip(0.8 * act + rng.normal(0, 0.3, 12), -1.2, 1.2)
            contacts = (rng.uniform(size=4) < 0.6).astype(float) - 0.5
            frames[t] = np.concatenate([omega * 0.25, tilt, np.zeros(5), [vx], values["env_class_flags"], q, dq * 0.05, act, contacts])
        out = np.zeros((steps, (HIST + 1) * N_PROP), dtype=np.float32)
        for t in range(steps):
            start = 0 if t < steps // 2 else steps // 2
            idx = np.maximum(np.arange(t - HIST, t + 1), start)
            out[t] = frames[idx].reshape(-1)
        return out

    return sample
