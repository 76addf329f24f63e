"""Distil the privileged teacher into a depth student and an RGB student with DAgger, through the
robot's own MuJoCo camera.

    python -m lucid_ros.training.distill --minutes 60

Both students train in one run on the same worlds (the teacher's courses at every level): half
the envs are driven by the depth student and half by the RGB student (after a start where the
teacher drives with probability beta, decaying to 0), so each student visits the states its own
mistakes lead to; every step the teacher labels every env with its action and both students learn
from all of them (DAgger). Frames come from `training.camera.EnvCamera` (the runtime's render
function) through `vision.preprocess.ImageHistory` built from the student's own spec (the runtime's
preprocessing); observations from an ObservationBuilder of the student's spec fed the env's inputs.

Randomised per episode: camera latency 0-120 ms (a frame reaches the policy that much after its
capture), camera position (+-1 cm), pitch (+-3 deg) and field of view (+-2 deg), and for colour
the sun, ambient and head light and a tint on every material; per world, the course variant's
textures. Writes <out>.onnx / <out>.yaml for each student (spec with `training:`) and a loss plot.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from lucid_ros.errors import ConfigError, exit_status
from lucid_ros.fields import read_yaml
from lucid_ros.paths import config_dir
from lucid_ros.policy.observations import ObservationBuilder
from lucid_ros.policy.spec import PolicySpec, load_spec
from lucid_ros.robots.description import CameraMount, RobotDescription, load_robot
from lucid_ros.training.camera import EnvCamera, JitterRanges, SceneJitter
from lucid_ros.training.config import TrainConfig, spec_dict
from lucid_ros.training.export import write_spec
from lucid_ros.training.parkour import ParkourEnv, distill_config, recipe_of, teacher_env_config
from lucid_ros.training.phases import StopOnSignal, git_commit
from lucid_ros.training.ppo import torch_threads
from lucid_ros.training.student import (
    CHANNELS,
    HIDDEN,
    Student,
    graft_core,
    onnx_channels,
    onnx_draws,
    onnx_memory,
    student_from_onnx,
    student_to_onnx,
)
from lucid_ros.training.train_walk import fmt_time, trot_generator
from lucid_ros.vision.preprocess import IMAGENET_MEAN, IMAGENET_STD, ImageHistory, Preprocessor, from_spec

# Depth: the Go1 mount's 106x60 frame, area-resized to 80x45 (LucidSim's student size), clipped to
# 2 m (what matters two strides ahead), d/2 - 0.5. Colour: the mount's 80x45 RGB, ImageNet-normalised.
DEPTH_PREPROCESS = {
    "input_size": [60, 106], "vfov_deg": 56.19, "resize": [45, 80], "interpolation": "area",
    "depth": {"clip": [0.0, 2.0], "normalize": "far", "invalid": "far"}, "rate_hz": 10, "stack": 1,
}  # fmt: skip
COLOR_PREPROCESS = {
    "input_size": [45, 80],
    "vfov_deg": 42.61,
    "color": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
    "rate_hz": 10,
    "stack": 1,
}
STUDENTS = (("depth", "go1_depth", DEPTH_PREPROCESS), ("color", "go1_rgb", COLOR_PREPROCESS))
DEPTH_VIEWS = ("depth", "color")  # --depth-view: the depth frame whole, or cropped to what the colour stream sees


def color_view_crop(mount: CameraMount) -> list[int]:
    """[top, bottom, left, right] pixels to cut from the mount's depth frame so that what is left
    spans the colour stream's field of view (the two streams share the mount's optical axis; pinhole
    geometry: the depth frame's focal length in pixels times the colour frame's half-extent in
    tan units, rounded to whole pixels, cut evenly from both sides). The D435's colour sensor sees
    ~0.73 of its depth sensor's frame each way: a depth student that reads only that part codes only
    what an RGB student can see (`code_fit --depth-guide`)."""
    d, c = mount.depth, mount.color
    if d is None or c is None:
        raise ValueError(f"camera '{mount.name}' needs a depth and a colour stream for the colour view of the depth frame")
    tan_c, tan_d = np.tan(np.radians(c.vfov_deg) / 2.0), np.tan(np.radians(d.vfov_deg) / 2.0)
    if tan_c > tan_d or tan_c * c.width / c.height > tan_d * d.width / d.height:
        raise ValueError(f"camera '{mount.name}': the colour stream sees more than the depth stream; nothing to crop")
    f_px = (d.height / 2.0) / tan_d
    rows = int(round(2.0 * f_px * tan_c))
    cols = int(round(2.0 * f_px * tan_c * c.width / c.height))
    top, left = (d.height - rows) // 2, (d.width - cols) // 2
    return [top, d.height - rows - top, left, d.width - cols - left]


def depth_preprocess(mount: CameraMount, view: str = "depth") -> dict:
    """The depth student's preprocessing through `mount`: DEPTH_PREPROCESS, or with view "color" the
    frame cropped to the colour stream's field of view first (`color_view_crop`) and resized to the
    same network input (45x80, bilinear: the crop is ~44x78), so a student continued from a
    whole-frame one keeps its shapes."""
    if view not in DEPTH_VIEWS:
        raise ValueError(f"depth view must be one of {DEPTH_VIEWS}, got {view!r}")
    pre = json.loads(json.dumps(DEPTH_PREPROCESS))
    if view == "color":
        pre["crop"] = color_view_crop(mount)
        pre["interpolation"] = "bilinear"
    return pre


def student_spec_dict(
    robot: RobotDescription, cfg: TrainConfig, name: str, stream: str, preprocess: dict, camera: str = "ego", age: bool = True, state: int = HIDDEN
) -> dict:
    """The walking spec (same proprioceptive terms) plus one camera input (the mount's name and
    the pose it has in the robot description, which the spec check compares at load; with `age`,
    the input that says how old the frame is) and the recurrent state (`state` wide: Student.state_size)."""
    spec = spec_dict(robot, cfg.obs, name=name)
    mount = robot.cameras[camera]
    image = {"input": "image", "camera": camera, "mount": {"position": list(mount.position), "rpy": list(mount.rpy)}, "stream": stream}
    if age:
        image["age"] = "image_age"
    spec["inputs"] = {
        "observation": "obs",
        "images": [{**image, "preprocess": json.loads(json.dumps(preprocess))}],
        "recurrent": [{"input": "h_in", "output": "h_out", "shape": [1, 1, state]}],
    }
    return spec


class DistillEnv(ParkourEnv):
    """ParkourEnv that also builds each student's observation and camera input, per env."""

    def __init__(self, robot, teacher: PolicySpec, students: list[PolicySpec], cfg, pk, seed: int, nthread: int, latency_max_steps: int):
        if pk.curriculum:
            raise ValueError(
                "DistillEnv renders each world's model as it is: a curriculum world holds every level's boxes at once, so distil on fixed levels (ParkourConfig.curriculum False)"
            )
        super().__init__(robot, teacher, cfg, pk, seed=seed, nthread=nthread)
        self.students = students
        self.student_builders = [ObservationBuilder(s, robot, batch=self.n) for s in students]
        self.histories = [ImageHistory(from_spec(s, 0), self.n) for s in students]
        self.streams = [s.images[0].stream for s in students]
        cams = {s.images[0].camera for s in students}
        if len(cams) != 1:
            raise ValueError(f"the students must share one camera mount, got {sorted(cams)}")
        self.camera = EnvCamera(robot, self.worlds, cams.pop(), tuple(dict.fromkeys(self.streams)))
        self.jitter = SceneJitter(self.n, self.camera.n_mat, JitterRanges(), self.rng)
        self.latency_max = latency_max_steps
        self.latency = np.zeros(self.n, dtype=int)
        self.next_capture = np.zeros(self.n)
        self.pending: list[list[tuple[float, float, list[np.ndarray]]]] = [[] for _ in range(self.n)]
        self.local_of = np.zeros(self.n, dtype=int)  # env -> row in its world (self.world_course: which world)
        for w in self.worlds:
            self.local_of[w.sl] = np.arange(w.sl.stop - w.sl.start)
        self.renders = 0
        # called at every capture with the env and its raw frames (one per stream, in self.streams'
        # order), before any latency: training.code_fit pairs each colour frame with the depth frame
        self.on_capture: Callable[[int, list[np.ndarray]], None] | None = None

    def _reset(self, ids: np.ndarray) -> None:
        super()._reset(ids)
        if not hasattr(self, "student_builders"):
            return
        for b in self.student_builders:
            b.reset(ids)
        for h in self.histories:
            h.reset(ids)
        self.jitter.draw(ids)
        self.latency[ids] = self.rng.integers(0, self.latency_max + 1, len(ids))
        self.next_capture[ids] = 0.0
        for i in ids:
            self.pending[i] = []

    def _observe(self, s):
        obs, priv = super()._observe(s)
        if hasattr(self, "student_builders"):
            self.student_obs = [b.build(self.last_inputs) for b in self.student_builders]
        return obs, priv

    def image_ages(self) -> list[np.ndarray]:
        """Each student's `image_age` (n, 1) float32 s at this step: how old the newest frame its
        tensor holds is (the policy node feeds the same function the same stamps)."""
        return [h.age(self.t)[:, None].astype(np.float32) for h in self.histories]

    def images(self) -> list[np.ndarray]:
        """Capture what is due (every 1/rate_hz of episode time), deliver frames whose latency has
        passed into each student's ImageHistory, and return the network inputs (n, C, H, W)."""
        t = self.t
        period = self.histories[0].pre.period
        due = np.flatnonzero(t >= self.next_capture - 1e-6)
        for i in due:
            frames = [self.camera.render(self.world_course[i], self.local_of[i], s, self.jitter, env=i) for s in self.streams]
            if self.on_capture is not None:
                self.on_capture(int(i), frames)
            self.pending[i].append((t[i] + self.latency[i] * self.dt, float(t[i]), frames))
            self.next_capture[i] = (np.floor(t[i] / period + 1e-6) + 1) * period
            self.renders += len(frames)
        deliver: list[tuple[int, float, list[np.ndarray]]] = []
        for i in range(self.n):
            while self.pending[i] and self.pending[i][0][0] <= t[i] + 1e-6:
                _, stamp, frames = self.pending[i].pop(0)
                deliver.append((i, stamp, frames))
        if deliver:
            envs = np.array([d[0] for d in deliver])
            stamps = np.full(self.n, np.nan)
            stamps[envs] = [d[1] for d in deliver]
            for k, h in enumerate(self.histories):
                h.push(np.stack([d[2][k] for d in deliver]), stamps, envs)
        return [h.tensor() for h in self.histories]


def build_students(
    robot: RobotDescription,
    cfg: TrainConfig,
    teacher: PolicySpec,
    work: Path,
    init_dir: Path | None,
    camera: str = "ego",
    age: bool = True,
    guided: bool = False,
    depth_pre: dict | None = None,
    streams: tuple[str, ...] = ("depth", "color"),
    channels: dict[str, tuple[int, int, int]] | None = None,
    color_pre: dict | None = None,
    draw_color: bool = False,
    memory: int = 0,
) -> tuple[list[PolicySpec], list[Student]]:
    """Each student's spec (written to `work`) and network: fresh (normalised with the teacher's
    statistics for the shared proprioceptive inputs), or the one in init_dir to continue from
    (one without the image-age input gains it, with zero weights, when `age`). A `guided` run reads
    no depth student there: `--depth-guide` supplies it. `depth_pre`: the depth student's
    preprocessing (default DEPTH_PREPROCESS; `depth_preprocess` for the colour view); `streams`:
    which students (a depth student alone: `distill --only-depth`); `channels`: a fresh student's
    encoder widths by stream (default student.CHANNELS); one continued from init_dir has the
    widths of its file; `color_pre`: the RGB student's preprocessing (default COLOR_PREPROCESS;
    `distill --rgb-stack` reads a stack of frames); `draw_color`: the RGB student draws a depth frame
    that a depth student's encoder reads (`code_fit --draw-depth`; student.DepthDrawer); `memory`:
    the RGB student's code memory width (student.CodeMemory; 0: as in its init file, or none), one
    continued from a student without it gaining it at zero output."""
    t_mean, t_std = teacher_normaliser(teacher.onnx_path)
    specs, models = [], []
    for stream, name, pre in STUDENTS:
        if stream not in streams:
            continue
        if stream == "depth" and depth_pre is not None:
            pre = depth_pre
        if stream == "color" and color_pre is not None:
            pre = color_pre
        yaml_path, onnx_path = work / f"{name}.yaml", work / f"{name}.onnx"
        obs_dim = 141  # go1_walk's observation; checked against the spec below
        pp = Preprocessor(pre, stream)
        shape = pp.output_shape
        init = init_dir is not None and not (guided and stream == "depth")  # a guided run's depth student is the guide
        if init and not (init_dir / f"{name}.onnx").is_file():
            raise ValueError(f"{init_dir / f'{name}.onnx'}: no such file (the folder must hold the {name} to continue)")
        widths = onnx_channels(init_dir / f"{name}.onnx") if init else (channels or {}).get(stream, CHANNELS)
        draw = stream == "color" and (draw_color or (init and onnx_draws(init_dir / f"{name}.onnx")))
        mem = onnx_memory(init_dir / f"{name}.onnx") if init else 0
        if stream == "color" and memory:
            if mem and mem != memory:
                raise ValueError(f"{init_dir / f'{name}.onnx'} has a code memory {mem} wide, not {memory} (continue it at its own width)")
            mem = memory
        model = Student(obs_dim, shape, robot.n_joints, t_mean[:obs_dim], t_std[:obs_dim], None, age=age, channels=widths, draw=draw, memory=mem)
        if init:
            note = student_from_onnx(model, init_dir / f"{name}.onnx", frame_channels=pp.frame_shape[0])
            print(f"[distill] {name}: continuing from {init_dir / f'{name}.onnx'}" + (f" ({note})" if note else ""), flush=True)
            changed = preprocess_change(init_dir / f"{name}.yaml", pre)
            if changed:
                print(f"[distill] {name}: NOTE its images change from what it was trained on ({changed}): a start, not a continuation", flush=True)
        student_to_onnx(model, onnx_path, "obs", "image", "h_in", "h_out")
        write_spec(student_spec_dict(robot, cfg, name, stream, pre, camera, age, model.state_size), onnx_path, yaml_path)
        spec = load_spec(yaml_path, robot)
        if spec.obs_dim != obs_dim:
            raise RuntimeError(f"{name}: spec observation {spec.obs_dim} != {obs_dim}")
        model.tg = trot_generator(spec, robot, cfg.obs)
        specs.append(spec)
        models.append(model)
    return specs, models


def init_preprocess(init_spec: Path) -> dict | None:
    """The preprocessing of the first image input of the student spec in --init-dir (None when the
    spec is absent or has none); a spec that cannot be read is a ConfigError naming it."""
    if not init_spec.is_file():
        return None
    raw = read_yaml(init_spec, "student spec") or {}
    try:
        pre = raw["inputs"]["images"][0]["preprocess"]
    except (KeyError, IndexError, TypeError):
        return None
    return pre if isinstance(pre, dict) else None


def init_stack(init_spec: Path) -> int:
    """How many frames the student whose spec is `init_spec` reads (`preprocess.stack`; 1 when the
    spec is absent or silent): `distill --init-dir` continues a stacked RGB student as one."""
    try:
        return int((init_preprocess(init_spec) or {}).get("stack", 1))
    except (TypeError, ValueError):
        return 1


def preprocess_change(init_spec: Path, pre: dict) -> str:
    """What differs between the preprocessing a student in --init-dir was trained with (its spec's
    first image input) and `pre`, e.g. "crop [8, 8, 14, 14] -> none" ("" when the same or when the
    spec is absent; `stack` is left to student_from_onnx's note): continuing a colour-view student
    without `--depth-view color` would silently feed it the whole frame."""
    before = init_preprocess(init_spec)
    if before is None:
        return ""
    # a deeper stack is said by student_from_onnx (the older frames start at zero weight: the same actions)
    keys = sorted(k for k in set(before) | set(pre) if before.get(k) != pre.get(k) and k != "stack")
    return ", ".join(f"{k} {before.get(k, 'none')} -> {pre.get(k, 'none')}" for k in keys)


class Dagger:
    """The DAgger loop's state: who drives which env, the students' recurrent states, the teacher's
    labels and the chunks kept for replay. `collect` runs one chunk of T steps; `update` fits each
    student to it and to `replay` chunks drawn from the last `keep` (DAgger's aggregated data set,
    bounded: a student trained on its newest chunk alone forgot hurdles while it learnt gaps).

    The student that drives an env is drawn at each episode's start: with a fixed split, a world of
    one env (the hard levels of gaps and the mixed course have one each at 40 envs) was driven by
    the same student every episode, and the other never met its own mistakes there."""

    def __init__(
        self, env: DistillEnv, teacher: PolicySpec, models: list[Student], lr: float, seed: int, keep: int = 0, replay: int = 0,
        guide: int | None = None, guide_weight: float = 0.0, code_steps: int = 0, code_lr: float = 1e-3, code_focus: float = 0.0,
        memory_steps: int = 0,
    ):  # fmt: skip
        self.env, self.teacher, self.models = env, teacher, models
        self.sess = ort.InferenceSession(str(teacher.onnx_path), providers=["CPUExecutionProvider"])
        self.set_guide(guide, guide_weight, code_steps, code_lr, code_focus=code_focus, memory_steps=memory_steps)
        self.opts = [torch.optim.Adam(self.action_parameters(k), lr=lr) for k in range(len(models))]
        n = env.n
        self.rng = np.random.default_rng(seed)
        self.driver = self.rng.choice(self.learners, n)
        self.keep, self.n_replay = keep, replay
        self.kept: list[dict] = []
        self.goal_x = env.goal_x  # per env, from the level it stands on (updated at every reset)
        self.obs, _priv = env.reset_all()
        self.h = [m.zero_state(n) for m in models]
        self.starts_next = np.ones(n, dtype=np.float32)

    def set_guide(
        self, guide: int | None, weight: float, code_steps: int = 0, code_lr: float = 1e-3, code_batch: int = 256, code_focus: float = 0.0,
        memory_steps: int = 0,
    ) -> None:  # fmt: skip
        """With a guide (`distill --depth-guide`): models[guide] is frozen, drives no env, and every
        other student's image code is fitted to its code of the same capture (weight x MSE, beside
        the action MSE): a dense target for what the camera must tell the controller. With
        `code_steps`, each update is followed by that many steps of the code error alone on
        `code_batch` frames drawn from the kept chunks, on the encoder only (its own optimiser):
        two steps per chunk of DAgger were too few to relearn an encoder in an hour. The guide is
        frozen, so its code of a chunk is computed once, when the chunk arrives, and kept with it.
        With `code_focus`, that share of each code batch is drawn in proportion to how much the
        frame's picture changes the guide's action (against the mean of the codes of the chunks
        before: Student.unroll's `against`), the rest uniformly: code_fit's `--focus`. With
        `memory_steps`, a student with a code memory has it fitted by that many steps per update,
        each on one whole chunk of that update (fit_memory), and by nothing else: like a drawer, it
        is the picture half."""
        self.guide, self.guide_weight = guide, weight
        self.learners = np.array([k for k in range(len(self.models)) if k != guide])
        self.feature_stats: dict[int, tuple[float, float]] = {}
        self.code_steps, self.code_batch, self.code_focus = code_steps, code_batch, code_focus
        self.code_sum, self.code_count = None, 0  # the guide's codes so far: their mean is "no picture"
        self.code_opts = {
            int(k): torch.optim.Adam(self.encoder_parameters(self.models[k]), lr=code_lr) for k in self.learners
        } if guide is not None and code_steps else {}  # fmt: skip
        self.memory_steps, self.memory_r2 = memory_steps, {}
        self.memory_opts = {
            int(k): torch.optim.Adam(self.models[k].memory.parameters(), lr=code_lr) for k in self.learners if self.models[k].memory is not None
        } if guide is not None and memory_steps else {}  # fmt: skip

    def action_parameters(self, k: int) -> list[torch.nn.Parameter]:
        """What the actions train of student k: all of it, but of a student that draws depth, fitted
        by the code steps, only its controller: the code steps fit its drawer (to the guide's depth
        frame and code of each capture, dense targets), and its encoder stays the guide's, so that
        drawing the depth frame the guide saw gives the guide's code. The actions would pull the
        drawing, or the encoder, towards whatever code gives them, away from a depth frame."""
        m = self.models[k]
        mine = set()
        if m.drawer is not None and k in self.code_opts:
            mine = {id(p) for p in (*m.drawer.parameters(), *m.convs.parameters(), *m.img_fc.parameters())}
        if k in self.memory_opts:  # fitted by the memory steps alone
            mine |= {id(p) for p in m.memory.parameters()}
        return [p for p in m.parameters() if id(p) not in mine]

    @staticmethod
    def encoder_parameters(m: Student) -> list[torch.nn.Parameter]:
        """What the code steps fit: the encoder, or of a student that draws depth its drawer (its
        encoder is the guide's, which reads the drawing)."""
        return [*m.drawer.parameters()] if m.drawer is not None else [*m.convs.parameters(), *m.img_fc.parameters()]

    def fit_codes(self, pool: list[dict]) -> dict[int, float]:
        """`code_steps` encoder-only steps per learner on random frames of `pool` (chunks with both
        students' frames of the same captures, and the guide's codes of them); returns each
        learner's last code MSE. A student that draws depth is also fitted to the guide's depth
        frame of each capture (per pixel), each error over its target's variance (as code_fit's)."""
        last = {}
        for k, opt in self.code_opts.items():
            m = self.models[k]
            for _ in range(self.code_steps):
                c = pool[int(self.rng.integers(len(pool)))]
                T, n = c["label"].shape[:2]
                it, ie = self.rng.integers(0, T, self.code_batch), self.rng.integers(0, n, self.code_batch)
                effect = c.get("effect")
                if self.code_focus and effect is not None and effect.sum() > 0.0:
                    f = int(round(self.code_focus * self.code_batch))
                    it[:f], ie[:f] = np.divmod(self.rng.choice(T * n, f, p=(effect / effect.sum()).ravel()), n)
                target = torch.from_numpy(c["code"][it, ie])
                x = torch.from_numpy(c["img"][k][it, ie])
                if m.drawer is None:
                    loss = code_mse = torch.mean((m.latent(x) - target) ** 2)
                else:
                    (drawn, code), depth = m.draw_and_code(x), torch.from_numpy(c["img"][self.guide][it, ie])
                    code_mse = torch.mean((code - target) ** 2)
                    loss = code_mse / max(float(target.var(dim=0).mean()), 1e-6) + torch.mean((drawn - depth) ** 2) / max(float(depth.var()), 1e-6)
                opt.zero_grad()
                loss.backward()
                opt.step()
                last[k] = float(code_mse.detach())
        return last

    def fit_memory(self, chunks: list[dict]) -> dict[int, float]:
        """`memory_steps` steps per learner with a code memory, each on one whole chunk of `chunks`
        (this update's: the new one and those replayed): the memory run over the chunk's steps from
        the state it held at the chunk's start (zeroed where an episode starts), its corrected codes
        fitted to the guide's codes (MSE over their variance). The memory reads the image codes the
        update just made of the chunk's frames (`raw`, by learner), so it learns on what the
        picture half makes now, not on the codes of a drawer that has since changed. Returns each
        learner's last code R² (1 - the loss)."""
        last = {}
        for k, opt in self.memory_opts.items():
            m = self.models[k]
            for _ in range(self.memory_steps):
                c = chunks[int(self.rng.integers(len(chunks)))]
                z, o, st = (torch.from_numpy(a) for a in (c["raw"][k], c["obs"][k], c["start"]))
                ages = torch.from_numpy(c["age"][k]) if m.age else None
                target = torch.from_numpy(c["code"])
                read = m.recall(o, z, c["h0"][k][..., HIDDEN:], st, ages)
                loss = torch.mean((read - target) ** 2) / max(float(target.var(dim=(0, 1)).mean()), 1e-6)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(m.memory.parameters(), 1.0)
                opt.step()
                last[k] = 1.0 - float(loss.detach())
        return last

    def collect(self, T: int, beta: float) -> dict:
        env, models, n, nj = self.env, self.models, self.env.n, self.env.robot.n_joints
        buf = {
            "obs": [np.zeros((T, n, 141), np.float32) for _ in models],
            "img": [np.zeros((T, n, *h_.pre.output_shape), np.float32) for h_ in env.histories],
            "age": [np.zeros((T, n), np.float32) for _ in models],
            "label": np.zeros((T, n, nj), np.float32),
            "start": np.zeros((T, n), np.float32),
            "h0": [x.clone() for x in self.h],
            "falls": np.zeros(len(models)),
            "goals": np.zeros(len(models)),
            "t_render": 0.0,
        }
        for t in range(T):
            t0 = time.time()
            imgs = env.images()
            ages = env.image_ages()
            buf["t_render"] += time.time() - t0
            label = self.sess.run([self.teacher.action_output], {self.teacher.obs_input: self.obs.astype(np.float32)})[0]
            acts = []
            with torch.no_grad():
                for k, m in enumerate(models):
                    a, self.h[k] = m.step(torch.from_numpy(env.student_obs[k]), torch.from_numpy(imgs[k]), self.h[k], torch.from_numpy(ages[k]))
                    acts.append(a.numpy())
                    buf["obs"][k][t], buf["img"][k][t], buf["age"][k][t] = env.student_obs[k], imgs[k], ages[k][:, 0]
            buf["label"][t], buf["start"][t] = label, self.starts_next
            act = np.choose(self.driver[:, None] * np.ones((1, nj), dtype=int), acts)
            use_teacher = self.rng.random(n) < beta
            act = np.where(use_teacher[:, None], label, act).astype(np.float64)
            x_before = env.state["pos"][:, 0].copy()
            self.obs, _priv, _rew, fell, timeout, _info = env.step(act)
            done = fell | timeout
            for k in range(len(models)):
                mine = (self.driver == k) & ~use_teacher
                buf["falls"][k] += np.sum(fell & mine)
                buf["goals"][k] += np.sum(timeout & mine & (x_before > self.goal_x - 0.2))
                self.h[k][:, done] = 0.0
            self.driver[done] = self.rng.choice(self.learners, int(done.sum()))
            self.starts_next = done.astype(np.float32)
        return buf

    def _guide_codes(self, buf: dict) -> None:
        """The frozen guide over a new chunk, once: its image code of every frame (`code`, (T, n,
        LATENT), the learners' target in this and every later update) and its own action error
        (`guide_loss`, reported in its place)."""
        k, g = self.guide, self.models[self.guide]
        against = None if not (self.code_focus and self.code_count) else self.code_sum / self.code_count
        with torch.no_grad():
            out = g.unroll(
                torch.from_numpy(buf["obs"][k]), torch.from_numpy(buf["img"][k]), buf["h0"][k], torch.from_numpy(buf["start"]),
                torch.from_numpy(buf["age"][k]) if g.age else None, codes=True, against=against,
            )  # fmt: skip
        act, code = out[:2]
        if against is not None:  # the first chunk has no mean to compare with: it is drawn uniformly
            buf["effect"] = out[2].numpy()
        flat = code.flatten(0, 1)
        self.code_sum = flat.sum(dim=0) + (0.0 if self.code_sum is None else self.code_sum)
        self.code_count += len(flat)
        buf["code"] = code.numpy()
        buf["guide_loss"] = float(torch.mean((act - torch.from_numpy(buf["label"])) ** 2))

    def update(self, buf: dict, epochs: int) -> list[float]:
        """Truncated BPTT over the chunk and `replay` kept chunks (side by side in one batch, each
        from its own start state), MSE to the teacher's actions; returns each student's loss on the
        new chunk. The chunk is kept afterwards (the oldest dropped past `keep`)."""
        if self.guide is not None and "code" not in buf:
            self._guide_codes(buf)
        old = [self.kept[i] for i in self.rng.choice(len(self.kept), min(self.n_replay, len(self.kept)), replace=False)] if self.kept else []
        chunks = [buf, *old]
        n_new = buf["label"].shape[1]
        cat = lambda key, k=None: torch.from_numpy(np.concatenate([c[key] if k is None else c[key][k] for c in chunks], axis=1))  # noqa: E731
        lab, st = cat("label"), cat("start")
        losses = []
        target = cat("code") if self.guide is not None else None
        for k, m in enumerate(self.models):
            if k == self.guide:
                losses.append(buf["guide_loss"])
                continue
            o, im, h0 = cat("obs", k), cat("img", k), torch.cat([c["h0"][k] for c in chunks], dim=1)
            ages = cat("age", k) if m.age else None
            trained = self.opts[k].param_groups[0]["params"]
            ids = {id(p) for p in trained}
            left = [p for p in m.parameters() if id(p) not in ids]  # a drawer the code steps fit, and its encoder: no gradient here
            for p in left:
                p.requires_grad_(False)
            # a picture half the actions do not train (a drawer the code steps fit) makes the same
            # codes every epoch: made once, without a graph (and kept for the memory steps)
            fixed = not any(p.requires_grad for p in self.encoder_parameters(m))
            raw = None
            if fixed:
                with torch.no_grad():
                    raw = m.image_codes(im, block=512)
            for _ in range(epochs):
                act, z = m.unroll(o, im, h0, st, ages, codes=True, z=raw)
                err = (act - lab) ** 2
                loss = torch.mean(err)
                if target is not None:
                    feat = torch.mean((z - target) ** 2)
                    loss = loss + self.guide_weight * feat
                self.opts[k].zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trained, 1.0)
                self.opts[k].step()
            for p in left:
                p.requires_grad_(True)
            if k in self.memory_opts:  # this update's chunks, with the codes the picture half makes of them now
                with torch.no_grad():
                    raw = m.image_codes(im, block=512) if raw is None else raw
                for c, part in zip(chunks, np.split(raw.numpy(), np.cumsum([c["label"].shape[1] for c in chunks])[:-1], axis=1), strict=True):
                    c.setdefault("raw", {})[k] = part
            if target is not None:  # the code's error, and the part of the guide's code it explains (R^2)
                self.feature_stats[k] = (float(feat.detach()), 1.0 - float(feat.detach()) / max(float(target.var(dim=(0, 1)).mean()), 1e-12))
            losses.append(float(err[:, :n_new].detach().mean()))
        if self.keep:
            self.kept.append({key: buf[key] for key in ("obs", "img", "age", "label", "start", "h0", "code", "effect") if key in buf})
            del self.kept[: -self.keep]
        if self.memory_opts:
            self.memory_r2 = self.fit_memory(chunks)
        if self.code_opts:
            self.fit_codes(self.kept or [buf])
        return losses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    pol = config_dir() / "policies"
    p.add_argument("--teacher", type=Path, default=pol / "go1_teacher.yaml")
    p.add_argument("--out-dir", type=Path, default=pol)
    p.add_argument("--init-dir", type=Path, default=None, help="continue from the go1_depth.onnx / go1_rgb.onnx in this folder")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--envs", type=int, default=40)
    p.add_argument("--steps", type=int, default=25, help="policy steps per collection (the truncated-BPTT chunk)")
    p.add_argument("--beta-iters", type=int, default=60, help="iterations over which the teacher's share of driving decays to 0")
    p.add_argument("--latency-ms", type=float, default=120.0, help="camera latency drawn per episode from 0 to this")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--keep", type=int, default=48, help="chunks kept for replay (the newest; 0: train on each new chunk alone)")
    p.add_argument("--replay", type=int, default=2, help="kept chunks drawn into each update beside the new one")
    p.add_argument(
        "--course-weights", type=course_weights, default=None, metavar="COURSE=F,...",
        help="scale a course's share of the envs (e.g. gaps=2,parkour=2): more of the students' weak courses",
    )  # fmt: skip
    p.add_argument("--camera", default="ego", help="the robot's camera mount the students see through (config/robots/go1.yaml cameras)")
    p.add_argument(
        "--depth-view", choices=DEPTH_VIEWS, default="depth",
        help="the depth student's frame: whole (depth), or cropped to what the colour stream sees (color: a guide for the RGB student)",
    )  # fmt: skip
    p.add_argument("--only-depth", action="store_true", help="train the depth student alone (no RGB student: twice its share of the envs)")
    p.add_argument(
        "--no-image-age", dest="image_age", action="store_false",
        help="students without the image-age input (by default they read how old each frame is; one continued from a student without it gains it)",
    )  # fmt: skip
    p.add_argument(
        "--depth-guide", type=Path, default=None, metavar="SPEC",
        help="train the RGB student alone, guided by this frozen depth student (a go1_depth.yaml seeing through --camera): "
        "the RGB student's image code is fitted to the depth student's code of the same capture, beside the teacher's actions",
    )  # fmt: skip
    p.add_argument("--guide-weight", type=float, default=1.0, help="weight of the image-code error against the action error (with --depth-guide)")
    p.add_argument(
        "--code-steps", type=int, default=0,
        help="with --depth-guide: encoder-only steps on the code error after each update, on random frames of the kept chunks (--code-lr, batch 256)",
    )  # fmt: skip
    p.add_argument("--code-lr", type=float, default=1e-3)
    p.add_argument(
        "--code-focus", type=float, default=0.0, metavar="SHARE",
        help="with --code-steps: draw this share of each code batch by how much the frame's picture changes the guide's action (code_fit --focus)",
    )  # fmt: skip
    p.add_argument(
        "--graft",
        action="store_true",
        help="with --depth-guide: the RGB student starts as the depth student's controller (normaliser, fusion, GRU, head), keeping its own encoder",
    )
    p.add_argument(
        "--rgb-encoder", type=encoder_widths, default=None, metavar="C1,C2,C3",
        help="a fresh RGB student's convolution widths (default 16,32,32; a student from --init-dir keeps its file's)",
    )  # fmt: skip
    p.add_argument(
        "--rgb-stack", type=int, default=None, metavar="K",
        help="the RGB student reads its K newest frames (10 Hz; oldest first): the motion between them shows depth one frame cannot. "
        "Default: 1, or the stack of the student in --init-dir; a one-frame student continued with K > 1 gains the older frames at zero weight",
    )  # fmt: skip
    p.add_argument(
        "--code-memory", type=int, default=0, metavar="M",
        help="the RGB student keeps a memory of its image codes (a GRU M wide, e.g. 128) that corrects the code its controller reads; "
        "one continued from a student without it gains it, acting as before until trained. Default: as in --init-dir, or none",
    )  # fmt: skip
    p.add_argument(
        "--memory-steps", type=int, default=20,
        help="with --depth-guide and a code memory: steps per update fitting the memory alone to the guide's codes, "
        "each on one whole chunk of the update (the new one or one replayed)",
    )  # fmt: skip
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=5)
    args = p.parse_args(argv)
    if args.graft and args.depth_guide is None:
        p.error("--graft needs --depth-guide (the depth student whose controller the RGB student starts from)")
    if args.code_focus and not args.code_steps:
        p.error("--code-focus shapes the code steps' batches: it needs --code-steps")
    if not 0.0 <= args.code_focus <= 1.0:
        p.error(f"--code-focus {args.code_focus}: want a share of the batch in [0, 1]")
    if args.code_steps and args.depth_guide is None:
        p.error("--code-steps needs --depth-guide (the depth student whose image code the RGB encoder is fitted to)")
    if args.only_depth and args.depth_guide is not None:
        p.error("--only-depth trains the depth student; --depth-guide freezes one to train the RGB student: give one of them")
    if args.depth_guide is not None and args.depth_view != "depth":
        p.error("--depth-view is the trained depth student's; with --depth-guide the guide's own spec says what it sees")
    if args.rgb_stack is not None and not 1 <= args.rgb_stack <= 8:
        p.error(f"--rgb-stack {args.rgb_stack}: want 1 to 8 frames")
    if args.rgb_stack is not None and args.only_depth:
        p.error("--rgb-stack is the RGB student's; --only-depth trains none")
    if not 0 <= args.code_memory <= 1024:
        p.error(f"--code-memory {args.code_memory}: want a width of 1 to 1024 (0: none)")
    if args.memory_steps < 0:
        p.error(f"--memory-steps {args.memory_steps}: want 0 or more")
    if args.code_memory and args.only_depth:
        p.error("--code-memory is the RGB student's; --only-depth trains none")
    if args.rgb_encoder is not None and (args.init_dir is not None or args.only_depth):
        p.error("--rgb-encoder shapes a fresh RGB student: one continued from --init-dir keeps its file's widths, and --only-depth trains none")
    command = "python -m lucid_ros.training.distill " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    t_start = time.time()
    commit = git_commit()  # the code that runs: HEAD may move during a run of hours
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    robot = load_robot("go1")
    teacher = load_spec(args.teacher, robot)
    cfg = TrainConfig(seed=args.seed, nthread=args.threads, env=teacher_env_config(args.envs, recipe_of(teacher)))
    try:
        pk = distill_config(teacher, args.course_weights)
    except ValueError as e:
        p.error(f"--course-weights: {e}")
    if args.camera not in robot.cameras:
        p.error(f"--camera: robot '{robot.name}' has no camera '{args.camera}' (cameras: {sorted(robot.cameras)})")
    work = Path(tempfile.mkdtemp(prefix="lucid_distill_"))
    guide_spec = read_guide(args.depth_guide) if args.depth_guide else None
    try:
        depth_pre = guide_spec.images[0].preprocess if guide_spec else depth_preprocess(robot.cameras[args.camera], args.depth_view)
    except ValueError as e:
        p.error(f"--depth-view: {e}")
    widths = {"color": args.rgb_encoder or CHANNELS, "depth": onnx_channels(guide_spec.onnx_path) if guide_spec else CHANNELS}
    stack = args.rgb_stack or (init_stack(args.init_dir / "go1_rgb.yaml") if args.init_dir else 1)
    try:
        specs, models = build_students(
            robot, cfg, teacher, work, args.init_dir, args.camera, args.image_age, guided=guide_spec is not None,
            depth_pre=depth_pre, streams=("depth",) if args.only_depth else ("depth", "color"), channels=widths,
            color_pre={**COLOR_PREPROCESS, "stack": stack}, memory=args.code_memory,
        )  # fmt: skip
    except ValueError as e:  # a student in --init-dir that this run's options cannot continue
        p.error(f"--init-dir: {e}")
    # read now, so a broken spec in --init-dir stops the run before training, not after it
    earlier = {s.name: earlier_phases(args.init_dir / f"{s.name}.yaml" if args.init_dir else None) for s in specs}
    guide = load_guide(guide_spec, specs[0], models, args.graft) if guide_spec else None
    latency_steps = int(round(args.latency_ms / 20.0))
    env = DistillEnv(robot, teacher, specs, cfg.env, pk, seed=args.seed, nthread=args.threads, latency_max_steps=latency_steps)
    dagger = Dagger(
        env, teacher, models, args.lr, args.seed, keep=args.keep, replay=args.replay,
        guide=0 if guide else None, guide_weight=args.guide_weight, code_steps=args.code_steps, code_lr=args.code_lr,
        code_focus=args.code_focus, memory_steps=args.memory_steps,
    )  # fmt: skip
    n, T = env.n, args.steps
    history: list[dict] = []
    it = steps = 0
    print(
        f"[distill] {n} envs in {len(env.worlds)} worlds, {T} steps/iter, students {[s.name for s in specs]}, budget {args.minutes:g} min; workdir {work}",
        flush=True,
    )
    with StopOnSignal("distill") as stop:  # Ctrl-C: the students are exported as at the budget's end
        while time.time() - t_start < args.minutes * 60.0:
            t_it = time.time()
            beta = max(0.0, 1.0 - it / max(args.beta_iters, 1))
            buf = dagger.collect(T, beta)
            steps += n * T
            t_up = time.time()
            with torch_threads(args.threads):  # the env waits while the students learn
                losses = dagger.update(buf, args.epochs)
            t_up = time.time() - t_up
            minutes_driven = n / len(dagger.learners) * T * env.dt / 60.0 * (1 - beta)  # each learner drives its share (a guide drives none)
            falls, goals = buf["falls"], buf["goals"]
            rec = {
                "it": it,
                "steps": steps,
                "time_s": time.time() - t_start,
                "beta": beta,
                "loss": losses,
                "falls_per_min": (falls / max(minutes_driven, 1e-9)).tolist(),
                "goals": goals.tolist(),
                "code_r2": {k: v[1] for k, v in dagger.feature_stats.items()},
                "memory_r2": dict(dagger.memory_r2),
            }
            history.append(rec)
            if it % args.log_every == 0:
                el = time.time() - t_start
                print(
                    f"it {it:4d} steps {steps / 1e6:5.2f}M beta {beta:.2f} loss "
                    + " ".join(f"{'rgb' if s.images[0].stream == 'color' else 'depth'} {x:.4f}" for s, x in zip(specs, losses, strict=True))
                    + " | falls/min "
                    + " / ".join(f"{x:.2f}" for x in rec["falls_per_min"])
                    + " goals "
                    + "/".join(str(int(g)) for g in goals)
                    + "".join(f" | rgb code mse {mse:.3f} R2 {r2:.2f}" for mse, r2 in dagger.feature_stats.values())
                    + "".join(f" (memory fit R2 {r2:.2f})" for r2 in dagger.memory_r2.values())
                    + f" | {n * T / (time.time() - t_it):.0f} steps/s "
                    f"(render {buf['t_render']:.1f}s upd {t_up:.1f}s) elapsed {fmt_time(el)} ETA {fmt_time(max(args.minutes * 60 - el, 0))}",
                    flush=True,
                )
            if it % 25 == 0:
                for spec, m in zip(specs, models, strict=True):
                    export_student(m, spec, work / f"{spec.name}_latest", {"iteration": it})
            it += 1
            if stop.requested:
                print(f"[distill] stopped by {stop.signal} after {it} iterations", flush=True)
                break
    wall = time.time() - t_start
    for k, (spec, m) in enumerate(zip(specs, models, strict=True)):
        stream = spec.images[0].stream
        if guide is not None and k == 0:
            continue  # the guide is frozen: nothing of it to write
        training = {
            "tool": "lucid_ros.training.distill (DAgger from the privileged teacher through the MuJoCo camera)",
            "command": command, "seed": args.seed, "git_commit": commit, "wall_time_s": round(wall, 1), "iterations": it, "env_steps": steps,
            "init": str(args.init_dir / f"{spec.name}.onnx") if args.init_dir else "fresh",
            "teacher": teacher.path.name, "teacher_sha256": teacher.sha256, "stream": stream, "camera": args.camera, "camera_latency_ms": [0.0, args.latency_ms],
            "scene_randomisation": json.loads(json.dumps(JitterRanges().__dict__)), "courses": [c.name for c in env.courses],
            "encoder_channels": list(m.channels), **({"code_memory": m.memory.size} if m.memory is not None else {}), "replay": {"keep": args.keep, "per_update": args.replay}, "course_weights": args.course_weights or {},
            **({"depth_view": args.depth_view} if stream == "depth" else {}),
            "final_loss_last_20": round(float(np.mean([r["loss"][k] for r in history[-20:]])), 5) if history else None,
        }  # fmt: skip
        if guide is not None:
            training["depth_guide"] = {
                "spec": guide.path.name, "sha256": guide.sha256, "weight": args.guide_weight, "graft": args.graft,
                "code_steps": args.code_steps, "code_lr": args.code_lr, "code_focus": args.code_focus,
                **({"memory_steps": args.memory_steps} if m.memory is not None else {}),
                "code_r2_last_20": round(float(np.mean([r["code_r2"].get(k, np.nan) for r in history[-20:]])), 4) if history else None,
            }  # fmt: skip
        training.update(student_phases(earlier[spec.name], training))
        out = export_student(m, spec, args.out_dir / spec.name, training)
        print(f"[distill] wrote {out.onnx_path} and {out.path}", flush=True)
    labels = ("depth guide (frozen)", "rgb") if guide is not None else tuple("rgb" if s.images[0].stream == "color" else "depth" for s in specs)
    plot_losses(history, args.out_dir / "go1_students_training.png", labels)
    (work / "history.json").write_text(json.dumps(history))
    print(f"[distill] done in {fmt_time(wall)}, {steps} steps, {env.renders} renders; history {work / 'history.json'}", flush=True)
    return 0


def read_guide(path: Path) -> PolicySpec:
    """The spec of `--depth-guide`, refused unless it is a depth student (its first image input a
    depth stream)."""
    guide = load_spec(path, load_robot("go1"))
    if not guide.images or guide.images[0].stream != "depth":
        raise ConfigError(path, "inputs.images", "--depth-guide must be a depth student (one image input, stream depth)")
    return guide


def load_guide(guide: Path | PolicySpec, depth_spec: PolicySpec, models: list[Student], graft: bool) -> PolicySpec:
    """The frozen depth student of `--depth-guide` (its spec, or read_guide's of it) into models[0]
    (checked to see what this run's depth input renders: the same mount and preprocessing, or its
    codes would describe other images), and with `graft` its controller into the RGB student, models[1]."""
    guide = guide if isinstance(guide, PolicySpec) else read_guide(guide)
    path = guide.path
    want, got = depth_spec.images[0], guide.images[0]
    for field in ("camera", "preprocess"):
        if getattr(got, field) != getattr(want, field):
            raise ConfigError(
                path,
                f"inputs.images[0].{field}",
                f"is {getattr(got, field)!r}; this run renders {getattr(want, field)!r} (--camera and the depth preprocessing must match)",
            )
    if (got.age is None) != (want.age is None):
        raise ConfigError(path, "inputs.images[0].age", "the guide and this run's students must agree on the image-age input (--no-image-age)")
    student_from_onnx(models[0], guide.onnx_path)
    print(f"[distill] depth guide {guide.path} (frozen; the RGB student's image code is fitted to its code)", flush=True)
    if graft:
        names = graft_core(models[1], models[0])
        print(f"[distill] rgb: starts as the guide's controller ({len(names)} tensors grafted; its own encoder kept)", flush=True)
    return guide


def course_weights(text: str) -> dict[str, float]:
    """`gaps=2,parkour=1.5` -> {"gaps": 2.0, "parkour": 1.5} (argparse type: a malformed one is a usage error)."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not COURSE=FACTOR (e.g. gaps=2)") from None
    return out


def encoder_widths(text: str) -> tuple[int, int, int]:
    """`32,64,64` -> (32, 64, 64): a student encoder's three convolution widths (argparse type)."""
    try:
        widths = tuple(int(t) for t in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1 or max(widths) > 512:
        raise argparse.ArgumentTypeError(f"{text!r} is not three channel counts C1,C2,C3 in 1..512 (the shipped students: 16,32,32)")
    return widths  # type: ignore[return-value]


PHASE_KEYS = ("command", "git_commit", "init", "teacher", "teacher_sha256", "iterations", "env_steps", "wall_time_s")


def earlier_phases(init_spec: Path | None) -> list[dict]:
    """The phases of the student a run continues from (its spec beside its .onnx in --init-dir; a
    spec without a list counts as one phase); none for a fresh student or one without a spec. A
    spec that cannot be read is a ConfigError naming it."""
    if init_spec is None or not init_spec.is_file():
        return []
    raw = read_yaml(init_spec, "student spec") or {}
    prior = raw.get("training") if isinstance(raw, dict) else None
    if not isinstance(prior, dict) or not prior:
        return []
    phases = prior.get("phases") or [{k: prior[k] for k in PHASE_KEYS if k in prior}]
    if not isinstance(phases, list) or not all(isinstance(p, dict) for p in phases):
        raise ConfigError(init_spec, "training.phases", "must be a list of mappings")
    return list(phases)


def student_phases(before: list[dict], here: dict) -> dict:
    """`phases` and `total` for a student's spec: the earlier phases, then this run's. A student
    distilled over several runs, perhaps from several teachers, keeps every one of them."""
    phases = [*before, {k: here[k] for k in PHASE_KEYS if k in here}]
    total = {
        "env_steps": sum(int(p.get("env_steps", 0)) for p in phases),
        "wall_time_s": round(sum(float(p.get("wall_time_s", 0.0)) for p in phases), 1),
    }
    return {"phases": phases, "total": total}


def teacher_normaliser(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's observation mean/std (actor_to_onnx's norm_mean/norm_std): the students read
    the same proprioceptive inputs first, normalised the same way."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    return inits["norm_mean"][0], inits["norm_std"][0]


def export_student(model: Student, spec: PolicySpec, out_prefix: Path, training: dict) -> PolicySpec:
    onnx_path = student_to_onnx(model, out_prefix.with_suffix(".onnx"), "obs", "image", "h_in", "h_out")
    img = spec.images[0]
    raw = student_spec_dict(
        load_robot(spec.robot), TrainConfig(), out_prefix.name, img.stream, dict(img.preprocess), img.camera, img.age is not None, model.state_size
    )
    raw["training"] = training
    write_spec(raw, onnx_path, out_prefix.with_suffix(".yaml"))
    return load_spec(out_prefix.with_suffix(".yaml"))


def plot_losses(history: list[dict], path: Path, labels: tuple[str, ...] = ("depth", "rgb")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([h["steps"] for h in history]) / 1e6
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for k, label in enumerate(labels):
        ax[0].plot(steps, [h["loss"][k] for h in history], label=label)
        ax[1].plot(steps, [h["falls_per_min"][k] for h in history], label=label)
    ax[0].set_title("action MSE to the teacher")
    ax[0].set_yscale("log")
    ax[1].set_title("falls per student-driven env-minute")
    for a in ax:
        a.set_xlabel("env steps (millions)")
        a.legend()
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as exc:  # a malformed teacher or student spec: named, exit status 2, no traceback
        sys.exit(exit_status(exc, "distill"))
