"""The policy spec (`lucid_ros.policy/1`, docs/policy-spec.md): everything needed to feed a network
and turn its output into joint targets, read from YAML and validated field by field.

Strictness is the point: unknown keys are refused (a typo such as `histroy:` must not silently
fall back to a default), every list is checked against the size it feeds, and with a robot every
joint name, camera and rate is checked against the robot before anything moves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lucid_ros import paths
from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.robots.description import RobotDescription

FORMAT = "lucid_ros.policy/1"
LAYOUTS = ("term_major", "time_major")

# Term name -> size; 'n' = len(joint_order), 'feet' = number of feet the term reads.
TERM_SIZES: dict[str, int | str] = {
    "base_lin_vel": 3,
    "base_ang_vel": 3,
    "projected_gravity": 3,
    "roll_pitch": 2,
    "velocity_command": 3,
    "joint_pos_rel": "n",
    "joint_pos": "n",
    "joint_vel": "n",
    "last_action": "n",
    "foot_contacts": "feet",
    "gait_phase": 2,
    "height_scan": "grid",
    "constant": "value",
}
# Terms that may appear more than once: each instance carries its own data (a constant's value).
REPEATABLE_TERMS = frozenset({"constant"})
# velocity_command's components, in cmd_vel order; `components` picks and orders a subset.
COMMAND_COMPONENTS = ("vx", "vy", "wz")
# Terms no robot sensor provides: only the simulator (a teacher policy in training and in sim).
PRIVILEGED_TERMS = frozenset({"height_scan"})
# how far the robot's camera may sit from where an image policy was trained (inputs.images[].mount)
MOUNT_TOLERANCE_M = 0.02
MOUNT_TOLERANCE_DEG = 3.0
_TERM_OPTIONS = {"name", "scale", "offset", "clip", "history"}
_EXTRA_OPTIONS = {
    "foot_contacts": {"feet"},
    "gait_phase": {"frequency", "start"},
    "height_scan": {"x", "y"},
    "joint_pos_rel": {"default"},
    "constant": {"value"},
    "velocity_command": {"components"},
}
_TOP_KEYS = {"format", "name", "robot", "onnx", "sha256", "rate_hz", "joint_order", "gains", "action", "observation", "inputs", "outputs", "training"}
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TermSpec:
    """One observation term: value = clip((raw + offset) * scale, ±clip)."""

    name: str
    size: int
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    clip: float | None
    frequency: float | None = None  # gait_phase only (Hz)
    start: float = 0.0  # gait_phase only: the clock (s) at the policy's first step
    default: tuple[float, ...] | None = None  # joint_pos_rel only: the pose subtracted (joint_order); None = the robot's default pose
    feet: tuple[str, ...] | None = None  # foot_contacts only; None = the robot's `feet:` order
    grid: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None  # height_scan: (start, stop, step) in x, y
    value: tuple[float, ...] | None = None  # constant only: the raw value, every step
    components: tuple[int, ...] | None = None  # velocity_command only: indices into (vx, vy, wz); None = all three
    history: int | None = None  # frames of this term the network sees (the newest); None = the observation's history

    def scan_points(self) -> np.ndarray:
        """height_scan only: the (size, 2) sample points (x, y) in the base's yaw frame, x-major
        (x varies slowest), stop inclusive. The order the network sees."""
        if self.grid is None:
            raise ValueError(f"term '{self.name}' has no scan grid")
        xs, ys = (np.linspace(a, b, _grid_count(a, b, step)) for a, b, step in self.grid)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=-1)


def _grid_count(start: float, stop: float, step: float) -> int:
    return int(round((stop - start) / step)) + 1


@dataclass(frozen=True)
class ObservationSpec:
    terms: tuple[TermSpec, ...]
    history: int
    history_layout: str
    clip: float | None

    @property
    def frame_dim(self) -> int:
        """Size of one time step (all terms once)."""
        return sum(t.size for t in self.terms)

    @property
    def dim(self) -> int:
        return sum(t.size * self.term_history(k) for k, t in enumerate(self.terms))

    def term_history(self, k: int) -> int:
        """Frames of term k in the observation: its own `history` (the newest frames), else the observation's."""
        h = self.terms[k].history
        return self.history if h is None else h

    def frame_slices(self) -> list[slice]:
        """Where each term sits inside one frame."""
        out, start = [], 0
        for t in self.terms:
            out.append(slice(start, start + t.size))
            start += t.size
        return out

    def stack_index(self) -> np.ndarray:
        """obs[k] = history[k // F, k % F] flattened: the gather from the time-major history (oldest
        frame first) to this spec's layout, keeping of each term only its newest `term_history`
        frames. Computed once so stacking is one gather."""
        h, f = self.history, self.frame_dim
        slices = self.frame_slices()
        if self.history_layout == "time_major":
            parts = [np.arange(i * f + s.start, i * f + s.stop) for i in range(h) for k, s in enumerate(slices) if i >= h - self.term_history(k)]
        else:
            parts = [
                (np.arange(h - self.term_history(k), h)[:, None] * f + np.arange(s.start, s.stop)[None, :]).ravel() for k, s in enumerate(slices)
            ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def term_indices(self, name: str | int) -> np.ndarray:
        """Indices in the observation vector of term `name` (or of the term at position `name` in
        `terms`, for a term that appears more than once), shape (term_history, size), oldest first."""
        names = [t.name for t in self.terms]
        if isinstance(name, int):
            if not 0 <= name < len(names):
                raise KeyError(f"no observation term at position {name} ({len(names)} terms)")
            k = name
        elif name not in names:
            raise KeyError(f"no observation term '{name}' (terms: {names})")
        else:
            k = names.index(name)
        sl = self.frame_slices()[k]
        where = np.full(self.history * self.frame_dim, -1, dtype=np.int64)  # time-major position -> obs position
        where[self.stack_index()] = np.arange(self.dim)
        tm = np.arange(self.history - self.term_history(k), self.history)[:, None] * self.frame_dim + np.arange(sl.start, sl.stop)[None, :]
        return where[tm]


@dataclass(frozen=True)
class ActionSpec:
    """target[j] = offset[j] + scale[j] * clip(raw[j]); offset None means the robot's default pose."""

    scale: tuple[float, ...]
    offset: tuple[float, ...] | None
    clip: float | None


@dataclass(frozen=True)
class ImageInput:
    input: str
    camera: str
    stream: str  # 'depth' or 'color'
    preprocess: dict[str, Any] = field(default_factory=dict, hash=False)  # read by lucid_ros.vision
    # ONNX input, float32 [1]: 1 on a policy step that brings a new tensor of this image (and on the
    # first step after a reset), else 0. For networks whose image branch runs at the image rate
    # and holds its result between frames (as recurrent state); None: the network has no such input.
    fresh: str | None = None
    # ONNX input, float32 [1] or [batch, 1]: seconds from the capture of the newest frame in the
    # image tensor to this policy step (lucid_ros.vision.preprocess.image_age: the camera's rate and
    # latency, which the network cannot see otherwise). None: the network has no such input.
    age: str | None = None
    # where the camera sat when the policy was trained (position m, rpy rad, in the mount's parent
    # link): checked against the robot's camera at load. None: not recorded (not checked).
    mount: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None


@dataclass(frozen=True)
class RecurrentState:
    input: str
    output: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class PolicySpec:
    path: Path
    name: str
    robot: str
    onnx_path: Path
    sha256: str
    rate_hz: float
    joint_order: tuple[str, ...]
    kp: tuple[float, ...]  # per joint in joint_order
    kd: tuple[float, ...]
    action: ActionSpec
    observation: ObservationSpec
    obs_input: str
    action_output: str
    images: tuple[ImageInput, ...] = ()
    recurrent: tuple[RecurrentState, ...] = ()
    training: dict[str, Any] = field(default_factory=dict, hash=False)
    format: str = FORMAT

    @property
    def n_act(self) -> int:
        return len(self.joint_order)

    @property
    def obs_dim(self) -> int:
        return self.observation.dim

    @property
    def input_names(self) -> list[str]:
        """Every ONNX input the spec declares (observation, images, their fresh flags and ages,
        recurrent states), in that order: what the graph must have and nothing more."""
        names = [self.obs_input, *(i.input for i in self.images)]
        names += [n for i in self.images for n in (i.fresh, i.age) if n]
        return names + [r.input for r in self.recurrent]

    @property
    def camera(self) -> str | None:
        """The camera mount the policy reads (its first image input's), None for a blind policy:
        the mount the camera node serves it and a fake robot must render for it."""
        return self.images[0].camera if self.images else None


def spec_robot_name(path: str | Path) -> str:
    """The `robot:` a spec names, read without validating the rest (to know which robot to load)."""
    p, raw = _read(path)
    return Fields(raw, p).str("robot")


def load_spec(path: str | Path, robot: RobotDescription | None = None) -> PolicySpec:
    """Read and validate a spec. ConfigError when malformed; then, with a robot, PolicyMismatch when
    it disagrees with it (name, rate, joints, feet, cameras). The whole file is checked for form
    before it is compared with the robot, so a malformed spec is always reported as malformed
    (CLI exit 2), never as a mismatch. A bare name means config/policies/<name>.yaml."""
    p, raw = _read(path)
    f = Fields(raw, p)
    f.refuse_unknown(_TOP_KEYS)
    fmt = f.str("format")
    if fmt != FORMAT:
        raise f.error("format", f"unsupported format {fmt!r}; this lucid_ros reads {FORMAT!r}")
    joints = tuple(f.str_list("joint_order", min_len=1))
    dupes = _dupes(joints)
    if dupes:
        raise f.error("joint_order", f"duplicate joint name(s) {dupes}")
    n = len(joints)
    onnx_rel = f.str("onnx")
    onnx_path = (p.parent / onnx_rel).resolve()
    if not onnx_path.is_file():
        raise f.error("onnx", f"ONNX file not found: {onnx_path}")
    sha = f.raw("sha256")
    if not isinstance(sha, str) or not _SHA.match(sha.lower()):
        raise f.error("sha256", f"expected 64 hex digits as a quoted string, got {sha!r}")
    gains = f.sub("gains")
    gains.refuse_unknown({"kp", "kd"})
    kp = _vector(gains, "kp", n, lo=0.0)
    kd = _vector(gains, "kd", n, lo=0.0)
    inputs = f.sub("inputs")
    inputs.refuse_unknown({"observation", "images", "recurrent"})
    outputs = f.sub("outputs")
    outputs.refuse_unknown({"action"})
    spec = PolicySpec(
        path=p,
        name=f.str("name"),
        robot=f.str("robot"),
        onnx_path=onnx_path,
        sha256=sha.lower(),
        rate_hz=f.float("rate_hz", lo=0, strict=True),
        joint_order=joints,
        kp=kp,
        kd=kd,
        action=_action(f.sub("action"), n),
        observation=_observation(f.sub("observation"), n, None if robot is None else len(robot.feet)),
        obs_input=inputs.str("observation"),
        action_output=outputs.str("action"),
        images=tuple(_image(i) for i in inputs.list("images", required=False)),
        recurrent=tuple(_recurrent(r) for r in inputs.list("recurrent", required=False)),
        training=_training(f),
    )
    _unique_names(spec)
    if robot is not None:
        match_robot(spec, robot)
    return spec


def match_robot(spec: PolicySpec, robot: RobotDescription) -> None:
    """PolicyMismatch naming the first spec field that disagrees with `robot`."""

    def bad(fld: str, msg: str) -> PolicyMismatch:
        return PolicyMismatch(spec.path, fld, msg)

    if spec.robot != robot.name:
        raise bad("robot", f"the policy is for robot '{spec.robot}', not '{robot.name}'")
    ratio = robot.rate_hz / spec.rate_hz
    if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
        raise bad("rate_hz", f"{spec.rate_hz:g} Hz does not divide the graph rate of robot '{robot.name}' ({robot.rate_hz:g} Hz)")
    for i, j in enumerate(spec.joint_order):
        if j not in robot.joint_names:
            raise bad(f"joint_order[{i}]", f"'{j}' is not a joint of robot '{robot.name}' (joints: {robot.joint_names})")
    for k, t in enumerate(spec.observation.terms):
        for i, foot in enumerate(t.feet or ()):
            if foot not in robot.feet:
                raise bad(f"observation.terms[{k}].feet[{i}]", f"'{foot}' is not a foot of robot '{robot.name}' (feet: {list(robot.feet)})")
    for k, img in enumerate(spec.images):
        cam = robot.cameras.get(img.camera)
        if cam is None:
            raise bad(f"inputs.images[{k}].camera", f"robot '{robot.name}' has no camera '{img.camera}' (cameras: {sorted(robot.cameras)})")
        if getattr(cam, img.stream) is None:
            raise bad(f"inputs.images[{k}].stream", f"camera '{img.camera}' of robot '{robot.name}' has no {img.stream} stream")
        if img.mount is not None:
            (pos, rpy), where = img.mount, f"robot '{robot.name}' camera '{img.camera}'"
            dp = float(np.max(np.abs(np.subtract(pos, cam.position))))
            da = float(np.max(np.abs((np.subtract(rpy, cam.rpy) + np.pi) % (2 * np.pi) - np.pi)))  # yaw pi and -pi agree
            if dp > MOUNT_TOLERANCE_M or da > np.deg2rad(MOUNT_TOLERANCE_DEG):
                deg = np.round(np.rad2deg([rpy, cam.rpy]), 1).tolist()
                raise bad(
                    f"inputs.images[{k}].mount",
                    f"trained with the camera at {list(pos)} m, rpy {deg[0]} deg; {where} sits at "
                    f"{list(cam.position)} m, rpy {deg[1]} deg (tolerance {MOUNT_TOLERANCE_M} m, "
                    f"{MOUNT_TOLERANCE_DEG:g} deg): a policy sees the world through the mount it was trained with",
                )


def _read(path: str | Path) -> tuple[Path, Any]:
    p = paths.resolve("policies", path)
    return p, read_yaml(p, "policy spec", "policies", shipped="shipped")


def _dupes(names: Sequence[str]) -> list[str]:
    return sorted({x for x in names if names.count(x) > 1})


def _vector(f: Fields, key: str, size: int, default: float | None = None, lo: float | None = None) -> tuple[float, ...]:
    """A scalar (same for all) or a list of exactly `size` numbers; required unless `default` is given."""
    opt = () if default is None else (default,)
    value = f.raw(key, *opt)
    if isinstance(value, list):
        values = f.float_list(key, length=size)
        bad = [v for v in values if lo is not None and v < lo]
        if bad:
            raise f.error(key, f"every entry must be >= {lo}, got {bad[0]}")
        return tuple(values)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (f.float(key, lo, None, False, *opt),) * size
    raise f.error(key, f"expected a number or a list of {size} numbers, got {value!r}")


def _optional_clip(f: Fields, key: str) -> float | None:
    if f.raw(key, None) is None:
        return None
    return f.float(key, lo=0, strict=True)


def _action(a: Fields, n: int) -> ActionSpec:
    a.refuse_unknown({"clip", "scale", "offset"})
    off = a.raw("offset")
    if off == "default":
        offset = None
    elif isinstance(off, list):
        offset = tuple(a.float_list("offset", length=n))
    else:
        raise a.error("offset", f"expected 'default' (the robot's default pose) or a list of {n} numbers, got {off!r}")
    return ActionSpec(scale=_vector(a, "scale", n), offset=offset, clip=_optional_clip(a, "clip"))


def _observation(o: Fields, n: int, n_feet: int | None) -> ObservationSpec:
    o.refuse_unknown({"history", "history_layout", "clip", "terms"})
    history = o.int("history", lo=1, default=1)
    # With one frame the layouts coincide; with more, the layout must be stated (a wrong guess
    # permutes the network's input without any error).
    layout = o.choice("history_layout", LAYOUTS) if history > 1 else o.choice("history_layout", LAYOUTS, default="term_major")
    items = o.list("terms", min_len=1)
    terms = tuple(_term(t, n, n_feet) for t in items)
    for t, item in zip(terms, items, strict=True):
        if t.history is not None and t.history > history:
            raise item.error("history", f"term '{t.name}' keeps {t.history} frames, more than the observation's history {history}")
    names = [t.name for t in terms]
    dupes = [d for d in _dupes(names) if d not in REPEATABLE_TERMS]
    if dupes:
        raise o.error("terms", f"term(s) {dupes} appear more than once")
    return ObservationSpec(terms=terms, history=history, history_layout=layout, clip=_optional_clip(o, "clip"))


def _term(t: Fields, n: int, n_feet: int | None) -> TermSpec:
    name = t.choice("name", tuple(TERM_SIZES))
    t.refuse_unknown(_TERM_OPTIONS | _EXTRA_OPTIONS.get(name, set()))
    size = TERM_SIZES[name]
    feet = None
    frequency = None
    grid = None
    if size == "grid":
        grid = (_scan_axis(t, "x"), _scan_axis(t, "y"))
        size = _grid_count(*grid[0]) * _grid_count(*grid[1])
    elif size == "n":
        size = n
    elif size == "feet":
        if t.has("feet"):
            feet = tuple(t.str_list("feet", min_len=1))
            if _dupes(feet):
                raise t.error("feet", f"duplicate foot name(s) {_dupes(feet)}")
            size = len(feet)
        elif n_feet is not None:
            size = n_feet
        else:
            raise t.error("name", "foot_contacts takes its size from the robot's feet: load the spec with its robot, or list `feet:`")
    value = components = None
    if size == "value":
        value = tuple(t.float_list("value"))
        if not value:
            raise t.error("value", "expected a non-empty list of numbers (the constant's raw value)")
        size = len(value)
    if name == "velocity_command" and t.has("components"):
        picked = t.str_list("components", min_len=1)
        for i, c in enumerate(picked):
            if c not in COMMAND_COMPONENTS:
                raise t.error(f"components[{i}]", f"expected one of {list(COMMAND_COMPONENTS)}, got {c!r}")
        if _dupes(picked):
            raise t.error("components", f"duplicate component(s) {_dupes(picked)}")
        components = tuple(COMMAND_COMPONENTS.index(c) for c in picked)
        size = len(components)
    start = 0.0
    default = None
    if name == "gait_phase":
        frequency = t.float("frequency", lo=0, strict=True)
        start = t.float("start", lo=0, default=0.0)
    if name == "joint_pos_rel" and t.has("default"):
        default = tuple(t.float_list("default", length=n))
    return TermSpec(
        name=name,
        size=int(size),
        scale=_vector(t, "scale", int(size), default=1.0),
        offset=_vector(t, "offset", int(size), default=0.0),
        clip=_optional_clip(t, "clip"),
        frequency=frequency,
        start=start,
        default=default,
        feet=feet,
        grid=grid,
        value=value,
        components=components,
        history=t.int("history", lo=1) if t.has("history") else None,
    )


def _scan_axis(t: Fields, key: str) -> tuple[float, float, float]:
    """[start, stop, step] metres, stop reached by whole steps (1 cm slack), at most 64 samples."""
    v = t.raw(key)
    if not isinstance(v, list) or len(v) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise t.error(key, f"expected [start, stop, step] in metres, got {v!r}")
    start, stop, step = (float(x) for x in v)
    if not (step > 0 and stop >= start):
        raise t.error(key, f"expected start <= stop and step > 0, got {v!r}")
    n = (stop - start) / step
    if abs(n - round(n)) * step > 0.01 or round(n) + 1 > 64:
        raise t.error(key, f"(stop - start) must be a whole number (< 64) of steps, got {v!r}")
    return start, stop, step


def _image(i: Fields) -> ImageInput:
    i.refuse_unknown({"input", "camera", "stream", "preprocess", "fresh", "age", "mount"})
    preprocess = i.raw("preprocess", {}) or {}
    if not isinstance(preprocess, dict):
        raise i.error("preprocess", f"expected a mapping, got {type(preprocess).__name__}")
    mount = None
    if i.has("mount"):
        m = i.sub("mount")
        m.refuse_unknown({"position", "rpy"})
        mount = (tuple(m.float_list("position", length=3)), tuple(m.float_list("rpy", length=3)))
    return ImageInput(
        input=i.str("input"),
        camera=i.str("camera"),
        stream=i.choice("stream", ("depth", "color")),
        preprocess=dict(preprocess),
        fresh=i.str("fresh") if i.has("fresh") else None,
        age=i.str("age") if i.has("age") else None,
        mount=mount,
    )


def _recurrent(r: Fields) -> RecurrentState:
    r.refuse_unknown({"input", "output", "shape"})
    shape = r.raw("shape")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
        raise r.error("shape", f"expected a list of positive integers, got {shape!r}")
    return RecurrentState(input=r.str("input"), output=r.str("output"), shape=tuple(shape))


def _training(f: Fields) -> dict[str, Any]:
    value = f.raw("training", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise f.error("training", f"expected a mapping (free-form provenance), got {type(value).__name__}")
    return value


def _unique_names(spec: PolicySpec) -> None:
    ins = spec.input_names
    outs = [spec.action_output] + [r.output for r in spec.recurrent]
    for kind, names in (("inputs", ins), ("outputs", outs)):
        dupes = _dupes(names)
        if dupes:
            raise ConfigError(spec.path, kind, f"ONNX name(s) {dupes} used for more than one purpose")
