"""Fit the RGB student's camera encoder to the depth student's image code, offline (issue 17).

    python -m lucid_ros.training.code_fit --collect-minutes 20 --fit-minutes 15 --out-dir runs/code_fit

The depth student's encoder turns a depth frame into a 64-number code that its controller (fusion,
GRU, head) reads; a colour frame of the same capture shows the same terrain. This tool:

1. drives the frozen depth student (`--depth-guide`; the teacher drives a `--beta` share of the
   steps) through the teacher's courses in the distillation env (DistillEnv: the same worlds,
   scene randomisation, renderer and preprocessing as `distill`), and at every capture keeps the
   depth frame's code, the colour frame plus `--relit` more colour pictures of the same capture
   under newly drawn light and material tints (`SceneJitter.relight`: the camera pose is kept, so
   the depth frame, and the code, are the same), and the depth student's observation, GRU state
   and image age at that step;
2. fits a fresh RGB encoder (the Student's convs and image layer; Adam) to those codes: the code's
   error plus `--controller-weight` x the error the code makes through the frozen controller (the
   action and the next GRU state against the depth student's own), holding the last `--val-share`
   of the captures out and printing how much of the code, the action and the state it explains on
   them (R^2) every 30 s; the encoder best on the held-out captures is kept;
3. writes `go1_rgb.onnx` / `.yaml` in `--out-dir`: the depth student's controller (grafted, as
   `distill --graft` does) behind the fitted encoder, the spec's `training:` saying all of it, and
   `code_fit.png` (R^2 over the fit).

Why offline: `distill --depth-guide` fits the code on the frames DAgger keeps (24 chunks, a few
thousand distinct captures) and its encoder overfitted them: measured on held-out captures it
explained 0.44 of the code while it explained 0.85 of the frames it trained on, and with half the
captures 0.1. The encoder was short of distinct pictures; rendering is cheap next to DAgger's
updates. Measured since (2026-12-06, docs/training.md "The RGB encoder fitted offline"): with
29 k captures the held-out code stops near 0.56, and the controller behind it does not cross what
the depth student crosses. Go on with `distill --init-dir <out-dir> --depth-guide <the same guide>`
(no `--graft`: it is grafted).

`--draw-depth`: the RGB student draws a depth frame from the colour picture (student.DepthDrawer)
and the guide's own encoder, frozen, reads the drawing; the fit adds the drawn frame's error per
pixel against the guide's depth frame of each capture (kept in the pool since 2026-12-07 evening).
On one pool it explained 0.645 of the code held out after 25 min, the direct fit 0.556 (docs/training.md,
"An encoder that draws depth explains more of the code").

After a fit the held-out captures are scored by how much their picture changes the guide's action
(`by_picture_effect`: five bins, printed and kept in the spec), since a crossing is decided by the
few frames right before an edge; `--focus SHARE` fits those more often, and `--pool P --score SPEC`
scores a written RGB student the same way without fitting (docs/training.md, "The captures that
decide are where the RGB code is worst"). `training.closed_loop` found the crossing decided over the
last 0.8 m before an obstacle: each capture keeps its distance to the next one (Pool.ahead), the
held-out captures are also scored by it, `--near M --near-share S` fits those near one more often,
and `--init SPEC` continues a written RGB student rather than a fresh encoder.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from lucid_ros.errors import ConfigError, exit_status
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.training.camera import JitterRanges
from lucid_ros.training.closed_loop import check_pair
from lucid_ros.training.config import TrainConfig
from lucid_ros.training.distill import (
    COLOR_PREPROCESS,
    DistillEnv,
    build_students,
    course_weights,
    earlier_phases,
    encoder_widths,
    export_student,
    init_stack,
    load_guide,
    read_guide,
    student_phases,
)
from lucid_ros.training.parkour import DISTANCE_BINS, distance_ahead, distill_config, recipe_of, teacher_env_config
from lucid_ros.training.phases import StopOnSignal, git_commit
from lucid_ros.training.ppo import torch_threads
from lucid_ros.training.student import (
    CHANNELS,
    DEPTH_RANGE,
    DRAW_CHANNELS,
    HIDDEN,
    Student,
    onnx_channels,
    onnx_draws,
    onnx_memory,
    student_from_onnx,
)
from lucid_ros.training.train_walk import fmt_time
from lucid_ros.vision.preprocess import from_spec

DEFAULT_WEIGHTS = "gaps=2.5,parkour=3,hurdle=1.2,stairs_up=0.7,stairs_down=0.7"


class Pool:
    """The captures: the guide's code of each depth frame (N, LATENT), its colour pictures
    (N, 1 + relit, H, W, 3) uint8 (the first as the episode's scene showed it), and what the
    guide's controller held when the frame was made: its observation (N, obs), recurrent state
    (N, HIDDEN) and image age (N,) (None in a pool without them: the fit is then on the code alone),
    and `prev` (N, pictures, H, W, 3) uint8: the same env's capture before this one, each picture
    under the same light as this capture's picture of that index (at an episode's first capture the
    capture itself, as the policy's frame stack starts), for an encoder of two frames (`--stack 2`;
    None in a pool collected without them), and `depth` (N, 1, H, W) float16: the depth frame as the
    guide read it (preprocessed), the target of an encoder that draws depth (`--draw-depth`; None in
    a pool collected before 2026-12-07 evening), and `ahead` (N,) float32: m from the trunk to the next
    obstacle's start at the capture (parkour.distance_ahead: negative on it, inf past the last; None
    in a pool collected before 2026-12-07 late), which `--near` fits more often."""

    ARRAYS = ("codes", "colour", "obs", "state", "age", "prev", "depth", "ahead")

    def __init__(
        self, codes: np.ndarray, colour: np.ndarray, obs: np.ndarray | None = None, state: np.ndarray | None = None,
        age: np.ndarray | None = None, prev: np.ndarray | None = None, depth: np.ndarray | None = None, ahead: np.ndarray | None = None,
        source: Path | None = None,
    ):  # fmt: skip
        n = len(codes)
        ok = codes.ndim == 2 and colour.ndim == 5 and len(colour) == n and colour.dtype == np.uint8 and colour.shape[-1] == 3
        held = [a for a in (obs, state, age) if a is not None]
        ok = ok and len(held) in (0, 3) and all(len(a) == n for a in held)
        ok = ok and (prev is None or (prev.shape == colour.shape and prev.dtype == np.uint8))
        ok = ok and (depth is None or (depth.ndim == 4 and len(depth) == n and depth.shape[1] == 1))
        ok = ok and (ahead is None or ahead.shape == (n,))
        if not ok:
            arrays = (codes, colour, obs, state, age, prev, depth, ahead)
            shapes = ", ".join(f"{k} {None if a is None else a.shape}" for k, a in zip(self.ARRAYS, arrays, strict=True))
            raise ConfigError(
                source, "codes/colour",
                f"{shapes}: want (N, code), (N, pictures, H, W, 3) uint8, either all of obs, state, age for N or none, prev as colour or none, depth (N, 1, H, W) or none, ahead (N,) or none",
            )  # fmt: skip
        f32 = lambda a: None if a is None else np.asarray(a, np.float32)  # noqa: E731
        self.codes, self.colour, self.obs, self.state, self.age = f32(codes), colour, f32(obs), f32(state), f32(age)
        self.prev = prev
        self.depth = None if depth is None else np.asarray(depth, np.float16)
        self.ahead = None if ahead is None else np.asarray(ahead, np.float32)

    def __len__(self) -> int:
        return len(self.codes)

    def save(self, path: Path, guide_sha256: str) -> None:
        arrays = {k: getattr(self, k) for k in self.ARRAYS if getattr(self, k) is not None}
        np.savez(path, guide_sha256=np.array(guide_sha256), **arrays)

    @classmethod
    def load(cls, path: Path, guide_sha256: str) -> Pool:
        """The captures `save` wrote, refused unless their codes are the given guide's (sha256 of its spec)."""
        try:
            with np.load(path) as d:
                pool = cls(*(d[k] if k in d else None for k in cls.ARRAYS), source=path)
                sha = str(d["guide_sha256"])
        except (OSError, ValueError, KeyError, TypeError) as e:  # not a file, not an .npz, or not code_fit's
            raise ConfigError(path, None, f"not a pool of captures written by --save-pool ({e})") from e
        if sha != guide_sha256:
            raise ConfigError(path, "guide_sha256", f"its codes are another depth student's ({sha[:12]}…, --depth-guide is {guide_sha256[:12]}…)")
        return pool


class Episodes:
    """Which of its episodes each env's capture belongs to: a capture one camera period after the
    env's last is the same episode's next frame, anything else (a reset to t = 0, a skipped frame)
    starts another. The relit pictures of one episode are drawn from `relight_rng(k)`, so picture k
    of a capture and of the capture before it share their light, as the frames of a stack do."""

    def __init__(self, n: int, period: float, seed: int):
        self.period, self.seed = period, seed
        self.last_t = np.full(n, np.nan)
        self.episode = np.zeros(n, dtype=np.int64)

    def capture(self, i: int, t: float) -> bool:
        """Env i captures at episode time t; True when it continues the episode of its last capture."""
        same = bool(abs(t - self.last_t[i] - self.period) < 1e-3)  # NaN (no capture yet) compares False
        if not same:
            self.episode[i] += 1
        self.last_t[i] = t
        return same

    def relight_rng(self, i: int, k: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 7919, i, int(self.episode[i]), k])


def collect(
    env: DistillEnv, guide: Student, teacher_sess: ort.InferenceSession, teacher, seconds: float, beta: float, relit: int, seed: int,
    max_steps: int | None = None,
) -> tuple[Pool, int]:  # fmt: skip
    """Drive the guide (the teacher on a `beta` share of the steps) for `seconds` of wall time (or
    `max_steps` env steps, whichever ends first: the same captures on any machine) and
    keep every capture's code and colour pictures, and the guide's observation, state and image age
    at the step it was made; returns them and the env steps taken."""
    depth_k, colour_k = env.streams.index("depth"), env.streams.index("color")
    rng = np.random.default_rng(seed + 7919)  # who drives, apart from the episodes' own draws
    episodes = Episodes(env.n, env.histories[0].pre.period, seed)
    depth_raw: list[np.ndarray] = []
    ahead: list[float] = []  # m from the trunk to the next obstacle's start at each capture
    colour: list[np.ndarray] = []
    prev: list[np.ndarray] = []
    latest: dict[int, np.ndarray] = {}  # env -> its latest capture's pictures
    held: list[tuple[np.ndarray, np.ndarray, float]] = []
    made: list[int] = []  # the envs that captured at this step

    def on_capture(i: int, frames: list[np.ndarray]) -> None:
        same_episode = episodes.capture(i, float(env.t[i]))
        pictures = [frames[colour_k]]
        for k in range(relit):
            undo = env.jitter.relight(i, episodes.relight_rng(i, k))
            try:
                pictures.append(env.camera.render(env.world_course[i], env.local_of[i], "color", env.jitter, env=i))
            finally:
                undo()
        now = np.stack(pictures)
        depth_raw.append(frames[depth_k])
        ahead.append(float(distance_ahead(env.state["pos"][i : i + 1, 0], [env.courses[int(env.course_of[i])]])[0]))
        colour.append(now)
        prev.append(latest[i] if same_episode else now)  # an episode's first frame: itself, as the policy's stack starts
        latest[i] = now
        made.append(i)
        env.renders += relit

    env.on_capture = on_capture
    n = env.n
    h = torch.zeros(1, n, HIDDEN)
    obs, _priv = env.reset_all()
    t0 = last = time.time()
    steps = 0
    with StopOnSignal("code_fit: collection") as stop:
        while time.time() - t0 < seconds and not stop.requested and (max_steps is None or steps < max_steps):
            made.clear()
            imgs, ages = env.images(), env.image_ages()
            held += [(env.student_obs[0][i].copy(), h[0, i].numpy().copy(), float(ages[0][i, 0])) for i in made]
            label = teacher_sess.run([teacher.action_output], {teacher.obs_input: obs.astype(np.float32)})[0]
            with torch.no_grad():
                a, h = guide.step(torch.from_numpy(env.student_obs[0]), torch.from_numpy(imgs[0]), h, torch.from_numpy(ages[0]))
            act = np.where((rng.random(n) < beta)[:, None], label, a.numpy()).astype(np.float64)
            obs, _priv, _rew, fell, timeout, _info = env.step(act)
            h[:, fell | timeout] = 0.0
            steps += n
            if time.time() - last >= 30.0:
                last = time.time()
                print(f"[code_fit] collecting: {len(colour)} captures, {steps} env steps, {fmt_time(last - t0)} of {fmt_time(seconds)}", flush=True)
    env.on_capture = None
    if not colour:
        raise RuntimeError("no capture was made: collect for longer")
    pre = env.histories[0].pre
    codes, depth = [], []
    with torch.no_grad():
        for s in range(0, len(depth_raw), 1024):
            x = pre.transform(np.stack(depth_raw[s : s + 1024])).astype(np.float32)
            codes.append(guide.latent(torch.from_numpy(x)).numpy())
            depth.append(x.astype(np.float16))
    o, st, ag = (np.stack([x[k] for x in held]) for k in range(3))
    return Pool(np.concatenate(codes), np.stack(colour), o, st, ag, np.stack(prev), np.concatenate(depth), np.array(ahead)), steps


def encoder_input(model: Student, pool: Pool, pre, idx: np.ndarray | slice, pic: np.ndarray | int) -> torch.Tensor:
    """The model's image input for captures idx, picture pic: the frame, or for a model of two frames
    (its input twice a picture's channels) the previous one and it (oldest first)."""
    x = pre.transform(pool.colour[idx, pic])
    if model.image_shape[0] == 2 * x.shape[1]:
        x = np.concatenate([pre.transform(pool.prev[idx, pic]), x], axis=1)
    return torch.from_numpy(x.astype(np.float32))


def controller_step(model: Student, pool: Pool, z: torch.Tensor, idx: np.ndarray | slice) -> tuple[torch.Tensor, torch.Tensor]:
    """The (frozen, grafted) controller's action and next recurrent state for captures idx given
    their codes z, from what the guide held at each capture (its observation, state, image age)."""
    obs, state, age = (torch.from_numpy(a[idx]) for a in (pool.obs, pool.state, pool.age))
    act, h = model._core(obs, z, state[None], age[:, None] if model.age else None)
    return act, h[0]


def fit(
    model: Student, pool: Pool, pre, seconds: float, val_share: float, lr: float, batch: int, seed: int,
    iterations: int | None = None, log_every: float = 30.0, controller_weight: float = 1.0, depth_weight: float = 1.0, flip: bool = False,
    focus: float = 0.0, near: tuple[float, float] | None = None,
) -> dict:  # fmt: skip
    """Fit model's encoder for `seconds` (or `iterations`, whichever ends first) so that its code of
    a capture's colour pictures is the guide's code of its depth frame: the code's error, and, for a
    pool that holds the guide's state at each capture, `controller_weight` x the error that code
    makes through the (frozen, grafted) controller: the action and the next recurrent state it
    gives against those the guide's code gives, each error over the one the controller makes given
    the mean code (no picture), so 0 is the guide's behaviour and 1 a blind one's. The code's 64
    numbers do not matter alike to the controller; the actions say which do.

    The last `val_share` of the captures (in time) are held out and scored by their first (un-relit)
    picture every `log_every` s and at the end: the share of the code and of the action they
    explain (R^2; for the action and the state: of what the picture changes in them). Leaves the
    encoder best on them (lowest held-out loss) in `model`; returns the curve and the best scores.

    A model that draws depth (`Student(draw=True)`: its convolutions and image layer are the guide's,
    grafted, and stay frozen) fits its drawer alone, with `depth_weight` x the drawn frame's error
    against the guide's depth frame of the capture (per pixel, over the frames' variance) beside
    the code's; the pool must hold the depth frames (Pool.depth). With `flip` (a drawing model
    only), half of each batch is mirrored left-right, its depth target with it and its code (and
    the controller's action and state) computed anew from the mirrored frame by the frozen encoder
    and controller: twice the distinct pictures, with targets that stay true.

    With `focus` > 0 (a pool that holds the guide's state), that share of each batch is drawn in
    proportion to how much the capture's picture changes the guide's action (its action from its
    code against the one from the mean code: `by_picture_effect`), the rest uniformly: the few
    captures right before an edge, where the picture decides the step, are fitted more often.

    With `near` (metres, share), that share of each batch is drawn uniformly from the captures made
    with the trunk on an obstacle or less than `metres` before its start (Pool.ahead): the frames of
    the last strides, where training.closed_loop finds a crossing decided."""
    n = len(pool)
    n_val = max(1, int(round(n * val_share)))
    if n - n_val < batch:
        raise ValueError(f"{n} captures: too few to hold {n_val} out and fit batches of {batch}")
    through = pool.obs is not None and controller_weight > 0.0
    drawing = model.drawer is not None
    if drawing and pool.depth is None:
        raise ValueError("an encoder that draws depth needs each capture's depth frame (a pool collected with them: Pool.depth)")
    if focus and not through:
        raise ValueError(
            "focus: drawing captures by the picture's effect on the action needs a pool with the guide's observation and state (and --controller-weight > 0)"
        )
    if not 0.0 <= focus <= 1.0:
        raise ValueError(f"focus {focus}: want a share of the batch in [0, 1]")
    if flip and not drawing:
        raise ValueError("flip: only an encoder that draws depth can be fitted to mirrored pictures (a mirrored code is not known)")
    near_idx = None
    if near is not None and near[1] > 0.0:
        if pool.ahead is None:
            raise ValueError("near: these captures hold no distance to the next obstacle (Pool.ahead; collected before 2026-12-07 late)")
        if not 0.0 < near[1] <= 1.0:
            raise ValueError(f"near share {near[1]}: want a share of the batch in (0, 1]")
        near_idx = np.flatnonzero(pool.ahead[: n - n_val] < near[0])
        if not len(near_idx):
            raise ValueError(f"near: no capture was made on an obstacle or less than {near[0]} m before one")
    params = [*model.drawer.parameters()] if drawing else [*model.convs.parameters(), *model.img_fc.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    codes = torch.from_numpy(pool.codes)

    if through:  # the guide's action and next state from its own code: the targets
        with torch.no_grad():
            want = [controller_step(model, pool, codes[s : s + 2048], slice(s, s + 2048)) for s in range(0, n, 2048)]
            want_act, want_h = torch.cat([w[0] for w in want]), torch.cat([w[1] for w in want])
            # the scale of each: the error the controller makes given no picture (the mean code);
            # most of an action comes from the observation and the state, and their variance
            # would hide what the picture changes
            mean_code = codes.mean(dim=0)
            blind = [controller_step(model, pool, mean_code.expand(min(2048, n - s), -1), slice(s, s + 2048)) for s in range(0, n, 2048)]
            var_act = float(torch.mean((torch.cat([b[0] for b in blind]) - want_act) ** 2))
            var_h = float(torch.mean((torch.cat([b[1] for b in blind]) - want_h) ** 2))
            effect = torch.mean((torch.cat([b[0] for b in blind]) - want_act) ** 2, dim=1).numpy()[: n - n_val].astype(np.float64)
        if focus and not effect.sum() > 0.0:
            raise ValueError("focus: no capture's picture changes the guide's action (its controller ignores the code)")
    var_code = float(codes.var(dim=0).mean())
    depth = torch.from_numpy(pool.depth.astype(np.float32)) if drawing else None
    var_depth = float(depth.var()) if drawing else 1.0

    def encode(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The code of the encoder's input x, and the depth frame it drew (None for an encoder that does not draw)."""
        if not drawing:
            return model.latent(x), None
        drawn, code = model.draw_and_code(x)
        return code, drawn

    def errors(zd: tuple[torch.Tensor, torch.Tensor | None], idx: np.ndarray | slice, flipped: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The errors of codes z (and drawn frames) of captures idx; `flipped` (B,) marks captures
        whose pictures were mirrored left-right: their depth target is mirrored too, and their code
        and the controller's action and state are what the frozen encoder and controller make of it."""
        z, drawn = zd
        want_z, want_d = codes[idx], None if depth is None else depth[idx]
        if through:
            want_a, want_s = want_act[idx], want_h[idx]
        if flipped is not None and bool(flipped.any()):
            f = flipped[:, None]
            with torch.no_grad():
                want_d = torch.where(f[:, :, None, None], want_d.flip(-1), want_d)
                want_z = torch.where(f, model.code_of_depth(want_d), want_z)
                if through:
                    a_f, s_f = controller_step(model, pool, want_z, idx)
                    want_a, want_s = torch.where(f, a_f, want_a), torch.where(f, s_f, want_s)
        e = {"code": torch.mean((z - want_z) ** 2) / max(var_code, 1e-12)}
        if drawn is not None:
            e["depth"] = torch.mean((drawn - want_d) ** 2) / max(var_depth, 1e-12)
        if through:
            act, h = controller_step(model, pool, z, idx)
            e["action"] = torch.mean((act - want_a) ** 2) / max(var_act, 1e-12)
            e["state"] = torch.mean((h - want_s) ** 2) / max(var_h, 1e-12)
        return e

    def loss_of(e: dict[str, torch.Tensor]) -> torch.Tensor:
        return e["code"] + (controller_weight * (e["action"] + e["state"]) if through else 0.0) + depth_weight * e.get("depth", 0.0)

    if model.image_shape[0] == 2 * pool.colour.shape[-1] and pool.prev is None:
        raise ValueError("a two-frame encoder needs the previous capture of each (a pool collected with them: Pool.prev)")
    val = slice(n - n_val, n)
    val_x = encoder_input(model, pool, pre, val, 0)

    def score() -> dict[str, float]:
        with torch.no_grad():
            parts = [encode(val_x[s : s + 1024]) for s in range(0, n_val, 1024)]
            e = errors((torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]) if drawing else None), val)
        return {"loss": float(loss_of(e)), **{f"{k}_r2": 1.0 - float(v) for k, v in e.items()}}

    def keep(sc: dict, best: tuple) -> tuple:
        return (sc, {k: v.clone() for k, v in model.state_dict().items()}) if sc["loss"] < best[0]["loss"] else best

    curve: list[dict] = []
    best = ({"loss": float("inf")}, None)
    best = keep(score(), best)
    t0 = time.time()
    it, next_log, train = 0, 0.0, {}
    with StopOnSignal("code_fit: fit") as stop:
        while time.time() - t0 < seconds and not stop.requested and (iterations is None or it < iterations):
            idx = rng.integers(0, n - n_val, batch)
            if focus:
                k = int(round(focus * batch))
                idx[:k] = rng.choice(n - n_val, k, p=effect / effect.sum())
            if near_idx is not None:  # from the batch's end: with --focus too, the uniform part gives way
                k = int(round(near[1] * batch))
                idx[batch - k :] = rng.choice(near_idx, k)
            pic = rng.integers(0, pool.colour.shape[1], batch)
            x, flipped = encoder_input(model, pool, pre, idx, pic), None
            if flip:  # half the batch mirrored left-right (a mirrored scene is a scene; its depth and code follow it)
                flipped = torch.from_numpy(rng.random(len(idx)) < 0.5)
                x = torch.where(flipped[:, None, None, None], x.flip(-1), x)
            e = errors(encode(x), idx, flipped)
            loss = loss_of(e)
            opt.zero_grad()
            loss.backward()
            opt.step()
            it += 1
            train = {f"{k}_r2": 1.0 - float(v.detach()) for k, v in e.items()}
            if time.time() - t0 >= next_log:
                next_log += log_every
                sc = score()
                curve.append({"time_s": round(time.time() - t0, 1), "iterations": it, "train": _r(train), "val": _r(sc)})
                best = keep(sc, best)
                print(f"[code_fit] fit {fmt_time(time.time() - t0)}: it {it}, held out {_said(sc)}, its batches {_said(train)}", flush=True)
    sc = score()
    curve.append({"time_s": round(time.time() - t0, 1), "iterations": it, "train": _r(train), "val": _r(sc)})
    best = keep(sc, best)
    if best[1] is not None:
        model.load_state_dict(best[1])
    return {
        "iterations": it, "batch": batch, "lr": lr, "controller_weight": controller_weight if through else 0.0, "val_captures": n_val,
        **({"depth_weight": depth_weight, "flip": flip} if drawing else {}), **({"focus": focus} if focus else {}),
        **({"near": {"metres": near[0], "share": near[1], "captures": len(near_idx)}} if near_idx is not None else {}),
        "val_best": _r(best[0]), "curve": curve,
    }  # fmt: skip


EFFECT_BINS = (0.5, 0.75, 0.9, 0.97)  # quantiles of the picture's effect on the guide's action


def by_picture_effect(model: Student, pool: Pool, pre, val_share: float, bins: tuple[float, ...] = EFFECT_BINS) -> list[dict]:
    """Where the fitted encoder falls short, on the held-out captures (the last `val_share` of the
    pool, as `fit` holds out): the captures binned by how much their picture changes the guide's
    action (the guide's action from its code against the one from the mean code, its observation
    and state the same), and per bin the share of that change the encoder's code reproduces
    through the controller (action_r2), of the code's departure from the mean code (code_r2) and,
    for a drawing encoder, of the depth frame (depth_r2, over the pool's variance). A few captures
    decide a crossing: the picture matters most right before an edge, and a fit scored over all
    captures can be good where it matters least. Needs a pool with the guide's state (Pool.obs)."""
    if pool.obs is None:
        raise ValueError("the picture's effect on the action needs each capture's observation and state (a pool collected with them)")
    n = len(pool)
    val = np.arange(n - max(1, int(round(n * val_share))), n)
    codes = torch.from_numpy(pool.codes)
    mean_code = codes.mean(dim=0)
    drawing = model.drawer is not None
    var_depth = float(np.var(pool.depth, dtype=np.float64)) if drawing else 1.0
    effect, err_a, err_c, dev_c, err_d = [], [], [], [], []
    with torch.no_grad():
        for s in range(0, len(val), 512):
            idx = val[s : s + 512]

            def act(z: torch.Tensor, idx=idx) -> torch.Tensor:
                return controller_step(model, pool, z, idx)[0]

            x = encoder_input(model, pool, pre, idx, 0)
            drawn, z = model.draw_and_code(x) if drawing else (None, model.latent(x))
            want = act(codes[idx])
            effect.append(((want - act(mean_code.expand(len(idx), -1))) ** 2).mean(1))
            err_a.append(((act(z) - want) ** 2).mean(1))
            err_c.append(((z - codes[idx]) ** 2).mean(1))
            dev_c.append(((codes[idx] - mean_code) ** 2).mean(1))
            if drawing:
                err_d.append(((drawn - torch.from_numpy(pool.depth[idx].astype(np.float32))) ** 2).mean((1, 2, 3)))
    effect, err_a, err_c, dev_c = (torch.cat(a).numpy().astype(np.float64) for a in (effect, err_a, err_c, dev_c))
    err_d = torch.cat(err_d).numpy().astype(np.float64) if drawing else None
    edges = np.quantile(effect, [0.0, *bins, 1.0])
    rows = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        m = (effect >= lo) & ((effect < hi) if k < len(bins) else (effect <= hi))
        if not m.any():
            continue
        row = {
            "action_r2": 1.0 - float(err_a[m].sum() / max(effect[m].sum(), 1e-12)),
            "code_r2": 1.0 - float(err_c[m].sum() / max(dev_c[m].sum(), 1e-12)),
        }
        if drawing:
            row["depth_r2"] = 1.0 - float(err_d[m].mean() / max(var_depth, 1e-12))
        head = {"quantiles": [0.0, *bins, 1.0][k : k + 2], "captures": int(m.sum()), "picture_effect": float(f"{effect[m].mean():.4g}")}
        rows.append(head | _r(row))
    return rows


def by_distance(model: Student, pool: Pool, pre, val_share: float) -> dict[str, dict]:
    """The held-out captures (as `fit` holds out) by the trunk's distance to the next obstacle at
    the capture (DISTANCE_BINS, as training.closed_loop bins its drives): per bin the captures, and
    the share of the code (and of a drawing encoder's depth frame) the model explains, each against
    the variance over the whole pool, as `fit` scores, so the bins compare with its held-out score."""
    n = len(pool)
    n_val = max(1, int(round(n * val_share)))
    val = slice(n - n_val, n)
    x = encoder_input(model, pool, pre, val, 0)
    with torch.no_grad():
        parts = [
            model.draw_and_code(x[s : s + 1024]) if model.drawer is not None else (None, model.latent(x[s : s + 1024])) for s in range(0, n_val, 1024)
        ]
    code = torch.cat([p[1] for p in parts]).numpy()
    want = pool.codes[val]
    err_code = np.mean((code - want) ** 2, axis=1)
    var_code = float(pool.codes.var(axis=0, ddof=1).mean())  # as `fit` scores (torch.var): the whole pool's variance
    if model.drawer is not None:
        drawn = torch.cat([p[0] for p in parts]).numpy()
        depth = pool.depth[val].astype(np.float32)
        err_depth, var_depth = np.mean((drawn - depth) ** 2, axis=(1, 2, 3)), float(pool.depth.astype(np.float32).var(ddof=1))
    ahead = pool.ahead[val]
    out = {}
    for name, lo, hi in DISTANCE_BINS:
        m = (ahead >= lo) & (ahead < hi)
        row = {"captures": int(m.sum())}
        if m.any():
            row["code_r2"] = round(1.0 - float(err_code[m].mean()) / max(var_code, 1e-12), 3)
            if model.drawer is not None:
                row["depth_r2"] = round(1.0 - float(err_depth[m].mean()) / max(var_depth, 1e-12), 3)
        out[name] = row
    return out


def said_by_distance(rows: dict[str, dict]) -> str:
    return "held out by distance to the next obstacle: " + "; ".join(
        f"{name} ({r['captures']}): code {r.get('code_r2')}" + (f", depth {r['depth_r2']}" if "depth_r2" in r else "") for name, r in rows.items()
    )


def said_by_effect(rows: list[dict]) -> str:
    """by_picture_effect's bins as a table a person reads."""
    lines = ["held-out captures by how much the picture changes the guide's action (quantiles): share reproduced by the RGB code"]
    lines.append(f"{'quantiles':>11} {'captures':>8} {'effect':>8} {'action':>7} {'code':>7} {'depth':>7}")
    for r in rows:
        q = f"{r['quantiles'][0]:.2f}-{r['quantiles'][1]:.2f}"
        lines.append(
            f"{q:>11} {r['captures']:>8} {r['picture_effect']:>8.2g} {r['action_r2']:>7.3f} {r['code_r2']:>7.3f} {r.get('depth_r2', float('nan')):>7.3f}"
        )
    return "\n".join(lines)


def _r(d: dict) -> dict:
    return {k: round(float(v), 4) for k, v in d.items()}


def _said(d: dict) -> str:
    return " ".join(f"{k.replace('_r2', '')} R2 {v:.3f}" for k, v in d.items() if k.endswith("_r2"))


def plot_fit(curve: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [c["time_s"] / 60.0 for c in curve]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in [k for k in curve[-1]["val"] if k.endswith("_r2")]:
        name = key.replace("_r2", "")
        line = ax.plot(t, [c["val"][key] for c in curve], label=f"{name}, held-out captures")[0]
        ax.plot(t, [c["train"].get(key, np.nan) for c in curve], ls=":", color=line.get_color(), label=f"{name}, its batches")
    ax.set_xlabel("minutes of fitting")
    ax.set_ylabel("share explained (R²)")
    ax.set_ylim(-0.2, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_drawn(model: Student, pool: Pool, pre, path: Path, count: int = 6) -> None:
    """For a model that draws depth: `count` held-out captures (evenly through the last tenth of
    the pool), each as its colour picture, the guide's depth frame and the drawn one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(pool)
    idx = np.linspace(n - max(1, n // 10), n - 1, count).astype(int)
    with torch.no_grad():
        drawn = torch.clamp(model.drawer(encoder_input(model, pool, pre, idx, 0)), *DEPTH_RANGE).numpy()
    fig, axes = plt.subplots(3, count, figsize=(2.2 * count, 4.2))
    for j, i in enumerate(idx):
        for row, (img, title) in enumerate(
            ((pool.colour[i, 0], "colour"), (pool.depth[i, 0].astype(np.float32), "depth (guide)"), (drawn[j, 0], "drawn"))
        ):
            ax = axes[row, j]
            ax.imshow(img, **({} if row == 0 else {"cmap": "viridis", "vmin": DEPTH_RANGE[0], "vmax": DEPTH_RANGE[1]}))
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(title, fontsize=8)
    fig.suptitle("held-out captures: the colour picture, the guide's depth frame, the depth drawn from the picture", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    pol = Path(__file__).resolve().parents[2] / "config" / "policies"
    p = argparse.ArgumentParser(prog="python -m lucid_ros.training.code_fit", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--depth-guide",
        type=Path,
        default=pol / "go1_depth.yaml",
        help="the depth student whose code the encoder learns and whose controller it gets",
    )
    p.add_argument("--teacher", type=Path, default=pol / "go1_teacher.yaml")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--collect-minutes", type=float, default=20.0)
    p.add_argument(
        "--collect-steps", type=int, default=None, help="stop the collection after this many env steps (or --collect-minutes, whichever comes first)"
    )
    p.add_argument("--fit-minutes", type=float, default=15.0)
    p.add_argument("--fit-iterations", type=int, default=None, help="stop the fit after this many batches (or --fit-minutes, whichever comes first)")
    p.add_argument("--relit", type=int, default=3, help="more colour pictures of each capture, under new light and tints")
    p.add_argument("--beta", type=float, default=0.3, help="share of the steps the teacher drives (the rest: the depth student)")
    p.add_argument("--envs", type=int, default=60)
    p.add_argument("--latency-ms", type=float, default=140.0, help="camera latency drawn per episode (the depth student drives through it)")
    p.add_argument("--course-weights", type=course_weights, default=course_weights(DEFAULT_WEIGHTS), metavar="COURSE=F,...")
    p.add_argument(
        "--controller-weight", type=float, default=1.0,
        help="weight of the error the code makes through the guide's controller (action and next state) beside the code's own (0: the code alone)",
    )  # fmt: skip
    p.add_argument(
        "--encoder", type=encoder_widths, default=CHANNELS, metavar="C1,C2,C3",
        help="the fitted RGB encoder's convolution widths (default 16,32,32, the depth guide's own)",
    )  # fmt: skip
    p.add_argument(
        "--stack", type=int, choices=(1, 2), default=1,
        help="the RGB student reads this many frames (2: the previous capture and this one, 100 ms apart; distill --rgb-stack)",
    )  # fmt: skip
    p.add_argument(
        "--draw-depth", action="store_true",
        help="the RGB encoder draws a depth frame (a small U-Net) that the guide's own encoder then reads; fitted to each capture's depth frame and code",
    )  # fmt: skip
    p.add_argument("--depth-weight", type=float, default=1.0, help="with --draw-depth: weight of the drawn frame's error beside the code's")
    p.add_argument("--flip", action="store_true", help="with --draw-depth: mirror half of each batch left-right (pictures, depth frames and codes)")
    p.add_argument(
        "--focus", type=float, default=0.0, metavar="SHARE",
        help="draw this share of each batch in proportion to how much the capture's picture changes the guide's action (the rest uniformly)",
    )  # fmt: skip
    p.add_argument(
        "--near", type=float, default=0.8, metavar="M",
        help="with --near-share: the captures made on an obstacle or less than M m before its start (the pool's distances)",
    )  # fmt: skip
    p.add_argument(
        "--near-share", type=float, default=0.0, metavar="SHARE", help="draw this share of each batch from the --near captures (the rest as before)"
    )
    p.add_argument(
        "--init", type=Path, default=None, metavar="SPEC",
        help="continue this RGB student (a go1_rgb.yaml fitted to the same guide: drawing or not, its widths, stack and controller) instead of a fresh encoder",
    )  # fmt: skip
    p.add_argument("--val-share", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--save-pool", type=Path, default=None, help="write the captures (codes and colour pictures, .npz) here")
    p.add_argument("--pool", type=Path, default=None, help="fit on these saved captures instead of collecting")
    p.add_argument(
        "--score", type=Path, default=None, metavar="SPEC",
        help="fit nothing: score this RGB student (a go1_rgb.yaml) on the --pool's held-out captures, overall and by the picture's effect (score.json in --out-dir)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.relit < 0 or not 0.0 < args.val_share < 0.5 or not 0.0 <= args.beta <= 1.0 or not 0.0 <= args.focus <= 1.0:
        p.error("--relit must be >= 0, --val-share in (0, 0.5), --beta and --focus in [0, 1]")
    if args.focus and args.controller_weight <= 0.0:
        p.error("--focus draws captures by the picture's effect on the guide's action: it needs --controller-weight > 0")
    if not 0.0 <= args.near_share <= 1.0 or not args.near > 0.0:
        p.error("--near-share must be in [0, 1] and --near > 0")
    if args.score is not None and args.init is not None:
        p.error("--score fits nothing; --init starts a fit: give one")
    if args.score is not None and args.pool is None:
        p.error("--score needs --pool (the captures to score the student on)")
    if args.flip and not args.draw_depth:
        p.error("--flip needs --draw-depth (a mirrored picture's code is known only through its mirrored depth frame)")
    command = "python -m lucid_ros.training.code_fit " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    t_start = time.time()
    commit = git_commit()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    robot = load_robot("go1")
    teacher = load_spec(args.teacher, robot)
    guide_spec = read_guide(args.depth_guide)  # its mount and image-age input: what the students are built to see
    camera = guide_spec.images[0].camera
    given = args.score if args.score is not None else args.init
    if given is not None:  # the scored or continued student's own shape: drawing or not, its widths and frame stack
        scored = load_spec(given, robot)
        if scored.images[0].stream != "color" or scored.images[0].camera != camera:
            raise ConfigError(
                given,
                "inputs.images[0]",
                f"reads {scored.images[0].stream} through '{scored.images[0].camera}': the pool's captures are colour through '{camera}'",
            )
        if onnx_memory(scored.onnx_path):
            raise ConfigError(
                given,
                "inputs.recurrent[0].shape",
                "holds a code memory (distill --code-memory): code_fit fits and scores single captures, not sequences; "
                "continue it with distill --init-dir and measure it with training.closed_loop",
            )
        args.draw_depth, args.encoder, args.stack = onnx_draws(scored.onnx_path), onnx_channels(scored.onnx_path), init_stack(given)
        if args.init is not None:  # its controller must read this guide's code
            check_pair(scored, guide_spec)
    cfg = TrainConfig(seed=args.seed, nthread=args.threads, env=teacher_env_config(args.envs, recipe_of(teacher)))
    work = Path(tempfile.mkdtemp(prefix="lucid_code_fit_"))
    # the depth stream rendered and preprocessed as the guide reads it (a guide of the colour view sees a crop)
    specs, models = build_students(
        robot, cfg, teacher, work, None, camera, guide_spec.images[0].age is not None, guided=True, depth_pre=guide_spec.images[0].preprocess,
        channels={"depth": onnx_channels(guide_spec.onnx_path), "color": onnx_channels(guide_spec.onnx_path) if args.draw_depth else args.encoder},
        color_pre={**COLOR_PREPROCESS, "stack": args.stack}, draw_color=args.draw_depth,
    )  # fmt: skip
    guide = load_guide(guide_spec, specs[0], models, graft=True)
    guide_model, rgb = models
    guide_model.eval()
    if given is not None:
        student_from_onnx(rgb, scored.onnx_path)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.pool is not None:
        pool = Pool.load(args.pool, guide.sha256)
        if args.stack == 2 and pool.prev is None:
            raise ConfigError(args.pool, "prev", "these captures hold no previous frames (collected before --stack 2 existed): collect anew")
        if args.draw_depth and pool.depth is None:
            raise ConfigError(args.pool, "depth", "these captures hold no depth frames (collected before --draw-depth existed): collect anew")
        collected = {"pool": str(args.pool)}
        print(f"[code_fit] {len(pool)} captures from {args.pool}", flush=True)
    else:
        pk = distill_config(teacher, args.course_weights)
        env = DistillEnv(
            robot, teacher, specs, cfg.env, pk, seed=args.seed, nthread=args.threads, latency_max_steps=int(round(args.latency_ms / 20.0))
        )
        sess = ort.InferenceSession(str(teacher.onnx_path), providers=["CPUExecutionProvider"])
        print(
            f"[code_fit] collecting {args.collect_minutes:g} min: {env.n} envs in {len(env.worlds)} worlds through '{camera}', {args.relit} relit pictures per capture",
            flush=True,
        )
        t0 = time.time()
        pool, steps = collect(env, guide_model, sess, teacher, args.collect_minutes * 60.0, args.beta, args.relit, args.seed, args.collect_steps)
        collected = {
            "minutes": round((time.time() - t0) / 60.0, 1), "env_steps": steps, "captures": len(pool), "renders": env.renders, "relit": args.relit, "beta": args.beta,
            "envs": env.n, "worlds": dict(Counter(c.name for c in env.courses)), "course_weights": args.course_weights,
            "camera_latency_ms": [0.0, args.latency_ms], "scene_randomisation": json.loads(json.dumps(JitterRanges().__dict__)),
        }  # fmt: skip
        print(f"[code_fit] {len(pool)} captures, {env.renders} renders in {fmt_time(time.time() - t0)}", flush=True)
        if args.save_pool is not None:
            pool.save(args.save_pool, guide.sha256)
            print(f"[code_fit] captures written to {args.save_pool}", flush=True)
    rgb_pre = from_spec(specs[1], 0)
    try:
        with torch_threads(args.threads):
            result = fit(
                rgb, pool, rgb_pre, args.fit_minutes * 60.0, args.val_share, args.lr, 1 if args.score else args.batch, args.seed,
                0 if args.score else args.fit_iterations, controller_weight=args.controller_weight, depth_weight=args.depth_weight, flip=args.flip, focus=args.focus,
                near=(args.near, args.near_share) if args.near_share else None,
            )  # fmt: skip
    except ValueError as e:  # too few captures for --batch and --val-share: what was collected is saved (--save-pool)
        p.error(f"cannot fit: {e}")
    if pool.obs is not None:
        with torch_threads(args.threads):
            result["val_by_picture_effect"] = by_picture_effect(rgb, pool, rgb_pre, args.val_share)
        print(f"[code_fit] {said_by_effect(result['val_by_picture_effect'])}", flush=True)
    if pool.ahead is not None:
        with torch_threads(args.threads):
            result["val_by_distance"] = by_distance(rgb, pool, rgb_pre, args.val_share)
        print(f"[code_fit] {said_by_distance(result['val_by_distance'])}", flush=True)
    if args.score is not None:
        score = {
            "student": str(args.score),
            "sha256": scored.sha256,
            "pool": str(args.pool),
            "val_captures": result["val_captures"],
            "val": result["val_best"],
        }
        score["val_by_picture_effect"] = result.get("val_by_picture_effect")
        score["val_by_distance"] = result.get("val_by_distance")
        (args.out_dir / "score.json").write_text(json.dumps(score, indent=1))
        print(
            f"[code_fit] {args.score} on {result['val_captures']} held-out captures: {_said(result['val_best'])}; {args.out_dir / 'score.json'}",
            flush=True,
        )
        return 0
    wall = time.time() - t_start
    curve = result.pop("curve")
    training = {
        "tool": "lucid_ros.training.code_fit (the depth student's controller; an RGB encoder fitted to its image code, offline)",
        "command": command, "seed": args.seed, "git_commit": commit, "wall_time_s": round(wall, 1), "iterations": result["iterations"],
        "env_steps": collected.get("env_steps", 0), "init": "fresh encoder; controller grafted from the guide" if args.init is None else f"continued from {args.init} ({scored.sha256[:12]}…)", "teacher": teacher.path.name, "teacher_sha256": teacher.sha256,
        "stream": "color", "camera": camera, "encoder_channels": list(rgb.channels), "stack": args.stack,
        **({"draws_depth": {"channels": list(DRAW_CHANNELS), "encoder": "the guide's, frozen"}} if args.draw_depth else {}),
        "depth_guide": {"spec": guide.path.name, "sha256": guide.sha256, "graft": args.init is None, **result},
        "collection": collected,
    }  # fmt: skip
    training.update(student_phases(earlier_phases(args.init), training))
    out = export_student(rgb, specs[1], args.out_dir / "go1_rgb", training)
    plot_fit(curve, args.out_dir / "code_fit.png")
    if args.draw_depth:
        plot_drawn(rgb, pool, rgb_pre, args.out_dir / "drawn.png")
    (args.out_dir / "code_fit.json").write_text(json.dumps({"curve": curve, **result}, indent=1))
    print(
        f"[code_fit] wrote {out.onnx_path} and {out.path}: held out {_said(result['val_best'])} after {result['iterations']} iterations; "
        f"curve {args.out_dir / 'code_fit.png'}; done in {fmt_time(wall)}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as exc:
        sys.exit(exit_status(exc, "code_fit"))
