"""Image preprocessing per the policy spec: the one implementation training and runtime share.

A spec's `inputs.images[k].preprocess` mapping (docs/policy-spec.md, "Image inputs") becomes a
`Preprocessor`: rotate -> crop -> (depth: fill invalid, clip) -> resize -> normalise -> CHW
float32, batched over a leading dimension. `ImageHistory` adds what happens over time: the
refresh rate (`rate_hz`, below the policy rate), frame stacking (`stack`) and a deliberate delay
(`delay_frames`), per environment, so a trainer pushes thousands of envs through the same code
the camera node runs on the robot (what-users-trip-over #12: hardware preprocessing that differs
from training).

Resizing is separable and written as fixed taps applied in a fixed order with elementwise numpy
operations (no BLAS, no OpenCV): the result is bit-identical for a batch and for each image alone,
and on every machine. `bilinear` and `bicubic` follow torch `F.interpolate(align_corners=False,
antialias=False)` (half-pixel centres, cubic a = -0.75, clamped borders); `area` averages the
source area each output pixel covers, with fractional weights at the edges (OpenCV INTER_AREA
when shrinking).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.fields import Fields

if TYPE_CHECKING:
    from lucid_ros.policy.spec import PolicySpec
    from lucid_ros.robots.description import RobotDescription

STREAMS = ("depth", "color")
INTERPOLATIONS = ("area", "bilinear", "bicubic")
DEPTH_NORMALIZE = ("far", "range", "none")  # d/far - 0.5 | (d - near)/(far - near) - 0.5 | metres
DEPTH_INVALID = ("far", "near")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VFOV_TOLERANCE_DEG = 0.5
_KEYS = {"input_size", "vfov_deg", "rotate", "crop", "resize", "interpolation", "depth", "color", "rate_hz", "stack", "delay_frames"}
_TIME_EPS = 1e-6  # s: float slack when comparing capture times with the refresh period
# The longest image age a network is shown (s): an older frame, or none yet, reads as this (the
# Go1's camera_timeout is also 0.5 s: an input that old is reported stale by the policy runner).
AGE_MAX_S = 0.5
_CUBIC_A = -0.75  # torch and OpenCV


def _ints(f: Fields, key: str, length: int, lo: int, default: Any = None, required: bool = False) -> tuple[int, ...] | None:
    value = f.raw(key) if required else f.raw(key, default)
    if value is None and not required:
        return None
    if not isinstance(value, list) or len(value) != length:
        raise f.error(key, f"expected a list of {length} integers, got {value!r}")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise f.error(f"{key}[{i}]", f"expected an integer >= {lo}, got {v!r}")
    return tuple(value)


class Preprocessor:
    """One image input's transform. `transform(x)`: depth (..., H, W) metres or colour
    (..., H, W, 3) RGB uint8 -> (..., C, h, w) float32 (C = 1 or 3); at most one leading dim.

    Built from the spec mapping; every malformed value is a ConfigError naming `path` and the
    dotted field (`field` is the mapping's own name, e.g. 'inputs.images[0].preprocess').
    `policy_rate_hz`, when given, checks that `rate_hz` divides the policy rate.
    """

    def __init__(
        self,
        preprocess: Mapping[str, Any],
        stream: str,
        *,
        path: str | Path | None = None,
        field: str = "preprocess",
        policy_rate_hz: float | None = None,
    ):
        if stream not in STREAMS:
            raise ConfigError(path, field, f"stream must be one of {list(STREAMS)}, got {stream!r}")
        f = Fields(dict(preprocess) if isinstance(preprocess, Mapping) else preprocess, path, field)
        f.refuse_unknown(_KEYS)
        self.path, self.field, self.stream = path, field, stream
        self.input_size: tuple[int, int] = _ints(f, "input_size", 2, 1, required=True)
        self.vfov_deg = f.float("vfov_deg", lo=0, hi=180, strict=True) if f.has("vfov_deg") else None
        self.rotate = f.int("rotate", default=0)
        if self.rotate not in (0, 180):
            raise f.error("rotate", f"expected 0 or 180 (degrees; 180 for an upside-down mount), got {self.rotate}")
        self.crop: tuple[int, int, int, int] = _ints(f, "crop", 4, 0, default=[0, 0, 0, 0])
        top, bottom, left, right = self.crop
        h_in, w_in = self.input_size
        self.cropped_size = (h_in - top - bottom, w_in - left - right)
        if min(self.cropped_size) < 1:
            raise f.error("crop", f"[top, bottom, left, right] = {list(self.crop)} leaves nothing of a {h_in}x{w_in} (HxW) image")
        self.resize = _ints(f, "resize", 2, 1)
        self.interpolation = f.choice("interpolation", INTERPOLATIONS) if self.resize is not None else None
        if self.resize is None and f.has("interpolation"):
            raise f.error("interpolation", "given without `resize`")
        self.output_hw = self.resize or self.cropped_size
        self.rate_hz = f.float("rate_hz", lo=0, strict=True)
        if policy_rate_hz is not None:
            ratio = policy_rate_hz / self.rate_hz
            if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
                raise f.error("rate_hz", f"{self.rate_hz:g} Hz must divide the policy rate {policy_rate_hz:g} Hz (a refresh every k-th policy step)")
        self.stack = f.int("stack", lo=1, default=1)
        self.delay_frames = f.int("delay_frames", lo=0, default=0)
        if stream == "depth":
            if f.has("color"):
                raise f.error("color", "a depth input takes `depth:` options, not `color:`")
            d = f.sub("depth")
            d.refuse_unknown({"clip", "normalize", "invalid"})
            self.clip = d.range("clip")
            if self.clip[0] < 0:
                raise d.error("clip", f"depth is in metres >= 0, got near = {self.clip[0]}")
            self.normalize = d.choice("normalize", DEPTH_NORMALIZE)
            self.invalid = d.choice("invalid", DEPTH_INVALID, default="far")
            self.channels = 1
        else:
            if f.has("depth"):
                raise f.error("depth", "a colour input takes `color:` options, not `depth:`")
            c = f.sub("color")
            c.refuse_unknown({"mean", "std"})
            self.mean = np.array(c.float_list("mean", length=3), dtype=np.float32)
            self.std = np.array(c.float_list("std", length=3), dtype=np.float32)
            if np.any(self.std <= 0):
                raise c.error("std", f"every entry must be > 0, got {self.std.tolist()}")
            self.channels = 3
        self._taps = None
        if self.resize is not None:
            self._taps = (
                _taps(self.cropped_size[0], self.resize[0], self.interpolation),
                _taps(self.cropped_size[1], self.resize[1], self.interpolation),
            )

    # ---- shapes ------------------------------------------------------------------------------
    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of one preprocessed frame."""
        return (self.channels, *self.output_hw)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(stack * C, h, w): what the network reads per environment, frames oldest first."""
        return (self.stack * self.channels, *self.output_hw)

    @property
    def period(self) -> float:
        return 1.0 / self.rate_hz

    def raw_shape(self) -> tuple[int, ...]:
        return self.input_size if self.stream == "depth" else (*self.input_size, 3)

    # ---- the transform -----------------------------------------------------------------------
    def transform(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images)
        raw = self.raw_shape()
        single = x.shape == raw
        if single:
            x = x[None]
        if x.ndim != len(raw) + 1 or x.shape[1:] != raw:
            raise ValueError(f"{self.field}: expected {self.stream} frames of shape {raw} (input_size) or (B, *{raw}), got {x.shape}")
        if self.rotate == 180:
            x = x[:, ::-1, ::-1]
        top, bottom, left, right = self.crop
        x = x[:, top : x.shape[1] - bottom, left : x.shape[2] - right]
        if self.stream == "depth":
            near, far = self.clip
            x = x.astype(np.float32)  # a copy: the caller's frame is never modified
            bad = ~np.isfinite(x) | (x <= 0)
            x[bad] = np.float32(far if self.invalid == "far" else near)
            np.clip(x, np.float32(near), np.float32(far), out=x)
            x = self._resize(x[:, None])  # (B, 1, h, w)
            if self.normalize == "far":
                x = x / np.float32(far) - np.float32(0.5)
            elif self.normalize == "range":
                x = (x - np.float32(near)) / np.float32(far - near) - np.float32(0.5)
        else:
            x = np.moveaxis(x, -1, 1).astype(np.float32) / np.float32(255.0)  # (B, 3, h, w)
            x = self._resize(x)
            x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x[0] if single else x

    def _resize(self, x: np.ndarray) -> np.ndarray:
        if self._taps is None:
            return x
        rows, cols = self._taps
        return _apply(_apply(x, rows, axis=-2), cols, axis=-1)

    def __repr__(self) -> str:
        return f"Preprocessor({self.stream} {self.input_size} -> {self.output_shape}, {self.rate_hz:g} Hz, delay {self.delay_frames})"


# ---- resizing as fixed taps --------------------------------------------------------------------
def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """(n, 4) weights of taps i0-1 .. i0+2 for fractions t (Keys' kernel, a = -0.75)."""
    a, one, two = _CUBIC_A, 1.0, 2.0

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + one), near(t), near(one - t), far(two - t)], axis=1)


def _taps(n_in: int, n_out: int, kind: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(index (n_out, J) int, weight (n_out, J) float32) so out[i] = sum_j w[i, j] * x[idx[i, j]];
    None when the axis keeps its size (every kind is then the identity).

    bilinear/bicubic place taps as torch's CPU kernels do (`area_pixel_compute_source_index`,
    `guard_index_and_lambda`) but in float64: torch's float32 source positions are themselves off
    by up to ~1e-5 of a pixel (its float32 and float64 weights differ that much)."""
    if n_in == n_out:
        return None
    if kind == "area":
        i = np.arange(n_out, dtype=np.float64)
        lo, hi = i * n_in / n_out, (i + 1) * n_in / n_out  # exact at both ends of the axis
        first = np.floor(lo).astype(np.int64)
        span = int(np.max(np.ceil(hi).astype(np.int64) - first))
        idx = first[:, None] + np.arange(span)[None, :]
        overlap = np.minimum(hi[:, None], idx + 1.0) - np.maximum(lo[:, None], idx.astype(np.float64))
        w = np.clip(overlap, 0.0, None) * (n_out / n_in)
    else:
        src = (np.arange(n_out, dtype=np.float64) + 0.5) * n_in / n_out - 0.5
        if kind == "bilinear":
            src = np.maximum(src, 0.0)
            i0 = np.floor(src).astype(np.int64)
            lam = np.clip(src - i0, 0.0, 1.0)
            idx = np.stack([i0, i0 + 1], axis=1)
            w = np.stack([1 - lam, lam], axis=1)
        else:  # bicubic
            i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
            t = np.clip(src - i0, 0.0, 1.0)
            idx = i0[:, None] + np.arange(-1, 3)[None, :]
            w = _cubic_weights(t)
    idx = np.clip(idx, 0, n_in - 1)
    return idx, w.astype(np.float32)


def _apply(x: np.ndarray, taps: tuple[np.ndarray, np.ndarray] | None, axis: int) -> np.ndarray:
    """Elementwise multiply-adds in tap order: deterministic and independent of the batch size."""
    if taps is None:
        return x
    idx, w = taps
    shape = [1] * x.ndim
    shape[axis] = idx.shape[0]
    out = None
    for j in range(idx.shape[1]):
        term = np.take(x, idx[:, j], axis=axis) * w[:, j].reshape(shape)
        out = term if out is None else out + term
    return out


# ---- over time: refresh, stack, delay ----------------------------------------------------------
class ImageHistory:
    """Refresh, stacking and delay of one image input for `batch` environments.

    `due(t)` says which envs take a new frame at time t (never filled, or a refresh period since
    the last one); `push(images, t, envs)` preprocesses raw frames for those envs; `tensor()` is
    the network input (batch, stack * C, h, w): the `stack` frames ending `delay_frames` refreshes
    before the newest, oldest first. After `reset` an env's first frame fills every slot (as the
    observation history does: a past of zeros is a past the robot never had).
    """

    def __init__(self, pre: Preprocessor, batch: int = 1):
        self.pre = pre
        self.batch = int(batch)
        self.slots = pre.stack + pre.delay_frames
        self._frames = np.zeros((self.batch, self.slots, *pre.frame_shape), dtype=np.float32)
        self.stamps = np.full((self.batch, self.slots), np.nan)  # capture time of each slot
        self.filled = np.zeros(self.batch, dtype=bool)
        self.pushes = np.zeros(self.batch, dtype=np.int64)

    def _envs(self, envs: Sequence[int] | np.ndarray | None) -> np.ndarray:
        if envs is None:
            return np.arange(self.batch)
        e = np.asarray(envs)
        return np.flatnonzero(e) if e.dtype == bool else e.astype(np.int64).reshape(-1)

    def reset(self, envs: Sequence[int] | np.ndarray | None = None) -> None:
        e = self._envs(envs)
        self.filled[e] = False
        self.stamps[e] = np.nan
        self._frames[e] = 0.0

    def due(self, t: float | np.ndarray, slack: float = 0.0) -> np.ndarray:
        """(batch,) bool: the envs whose next frame is due at time t (scalar or per env).

        `slack` (s) accepts a frame that early: a camera node passes half the camera's frame
        interval, so a jittery 30 Hz camera still yields every third frame for a 10 Hz policy."""
        last = self.stamps[:, -1]
        return ~self.filled | (np.asarray(t, dtype=np.float64) - last >= self.pre.period - max(slack, _TIME_EPS))

    def push(self, images: np.ndarray, t: float | np.ndarray, envs: Sequence[int] | np.ndarray | None = None) -> None:
        """Raw frames for `envs` (one row each; all envs when None) captured at time t."""
        e = self._envs(envs)
        x = np.asarray(images)
        if x.shape == self.pre.raw_shape():
            x = x[None]
        if x.shape[0] != e.size:
            raise ValueError(f"{self.pre.field}: {x.shape[0]} frames for {e.size} environments")
        frames = self.pre.transform(x)
        tt = np.asarray(t, dtype=np.float64)
        stamp = np.full(e.size, float(tt)) if tt.ndim == 0 else tt.reshape(self.batch)[e]
        fresh = ~self.filled[e]
        old, new = e[~fresh], e[fresh]
        self._frames[old, :-1] = self._frames[old, 1:]
        self._frames[old, -1] = frames[~fresh]
        self.stamps[old, :-1] = self.stamps[old, 1:]
        self.stamps[old, -1] = stamp[~fresh]
        self._frames[new] = frames[fresh][:, None]
        self.stamps[new] = stamp[fresh][:, None]
        self.filled[e] = True
        self.pushes[e] += 1

    def tensor(self) -> np.ndarray:
        """(batch, stack * C, h, w) float32, a new array (safe to hand to another thread)."""
        end = self.slots - self.pre.delay_frames
        sel = self._frames[:, end - self.pre.stack : end]
        return np.ascontiguousarray(sel.reshape(self.batch, *self.pre.output_shape))

    def shown_stamps(self) -> np.ndarray:
        """(batch, stack) capture times of the frames `tensor()` holds, oldest first."""
        end = self.slots - self.pre.delay_frames
        return self.stamps[:, end - self.pre.stack : end].copy()

    def age(self, t: float | np.ndarray) -> np.ndarray:
        """(batch,) `image_age` of the newest frame `tensor()` holds at time t (scalar or per env)."""
        return image_age(t, self.shown_stamps()[:, -1])


def image_age(now: float | np.ndarray, stamp: float | np.ndarray) -> np.ndarray:
    """Seconds from a frame's capture to the policy step that shows it: what a spec's
    `inputs.images[k].age` input is fed (training and the policy node both call this). Clipped to
    [0, AGE_MAX_S]; no frame yet (NaN stamp) reads as AGE_MAX_S, as does a frame older than that."""
    age = np.asarray(now, dtype=np.float64) - np.asarray(stamp, dtype=np.float64)
    return np.clip(np.where(np.isnan(age), AGE_MAX_S, age), 0.0, AGE_MAX_S)


# ---- from a policy spec ------------------------------------------------------------------------
def from_spec(spec: PolicySpec, index: int) -> Preprocessor:
    img = spec.images[index]
    return Preprocessor(img.preprocess, img.stream, path=spec.path, field=f"inputs.images[{index}].preprocess", policy_rate_hz=spec.rate_hz)


def check_image_inputs(
    spec: PolicySpec, robot: RobotDescription | None = None, onnx_shapes: Mapping[str, Sequence[Any]] | None = None
) -> list[Preprocessor]:
    """Validate every image input's preprocessing (ConfigError) and, given them, compare it with
    the robot's camera stream and the ONNX input shapes (PolicyMismatch naming the field).
    Returns the preprocessors in `spec.images` order."""
    out = []
    for k, img in enumerate(spec.images):
        pre = from_spec(spec, k)
        fld = f"inputs.images[{k}].preprocess"
        if robot is not None:
            mount = robot.cameras.get(img.camera)
            stream = getattr(mount, img.stream, None) if mount is not None else None
            if stream is None:
                raise PolicyMismatch(
                    spec.path, f"inputs.images[{k}].camera", f"robot '{robot.name}' has no {img.stream} stream on camera '{img.camera}'"
                )
            where = f"robot '{robot.name}' camera '{img.camera}' {img.stream}"
            if tuple(pre.input_size) != (stream.height, stream.width):
                raise PolicyMismatch(
                    spec.path, f"{fld}.input_size",
                    f"the policy's crop is written for {pre.input_size[0]}x{pre.input_size[1]} (HxW) frames; {where} is {stream.height}x{stream.width}",
                )  # fmt: skip
            if stream.rate_hz < pre.rate_hz - 1e-9:
                raise PolicyMismatch(
                    spec.path, f"{fld}.rate_hz", f"the policy refreshes at {pre.rate_hz:g} Hz; {where} delivers {stream.rate_hz:g} Hz"
                )
            if pre.vfov_deg is not None and abs(pre.vfov_deg - stream.vfov_deg) > VFOV_TOLERANCE_DEG:
                raise PolicyMismatch(
                    spec.path, f"{fld}.vfov_deg", f"trained with a {pre.vfov_deg:g} deg vertical FOV; {where} has {stream.vfov_deg:g} deg"
                )
        if onnx_shapes is not None and img.input in onnx_shapes:
            graph = list(onnx_shapes[img.input])
            want = [1, *pre.output_shape]
            fits = len(graph) == len(want) and all(not isinstance(g, int) or g == w for g, w in zip(graph, want, strict=False))
            if not fits:
                raise PolicyMismatch(
                    spec.path,
                    fld,
                    f"{spec.onnx_path.name}: input '{img.input}' has shape {graph}; this preprocessing makes {want} (1, stack x C, H, W)",
                )
        out.append(pre)
    return out


def frame_due(last_stamp: float | None, t: float, rate_hz: float) -> bool:
    """A rate limiter on a stream of stamps (the same slack ImageHistory uses)."""
    return last_stamp is None or not math.isfinite(last_stamp) or t - last_stamp >= 1.0 / rate_hz - _TIME_EPS
