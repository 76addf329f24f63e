"""Camera sources: where frames come from (MuJoCo in sim; Intel RealSense on a robot,
lucid_ros.vision.realsense).

A source delivers `Frame`s: depth as float32 metres (z-depth along the optical axis, 0 = no
measurement, as a RealSense reports it) or colour as RGB uint8 (H, W, 3), each with its capture
time on the graph clock and a per-stream sequence number that only grows. Consumers either poll
(`read`, `wait`) or register a listener that is called in the source's thread for every frame.
A failure (a render error, a USB drop) is counted in `health()`, never raised into the thread
that produces frames; the safety supervisor sees the silence through camera staleness.

Seam for hardware drivers (RealSense is one): subclass `CameraSource`, implement `open`/`close` (start/stop a
pipeline whose frame callback calls `self._emit(Frame(...))` with the stamp converted to the graph
clock and the device's real intrinsics), and register it with `register_source("realsense", cls)`.
The camera node opens non-sim sources itself (`open_source`); nothing downstream changes.
"""

from __future__ import annotations

import math
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.health import LatencyStats, RateMeter
from lucid_ros.robots.description import CameraMount, CameraStream, RobotDescription

STREAM_NAMES = ("depth", "color")
_TIME_EPS = 1e-6  # s


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (OpenCV convention: pixel centres at integer coordinates)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_vfov(cls, width: int, height: int, vfov_deg: float) -> Intrinsics:
        """Square pixels and a centred principal point: what a MuJoCo camera with fovy renders."""
        f = (height / 2.0) / math.tan(math.radians(vfov_deg) / 2.0)
        return cls(int(width), int(height), f, f, (width - 1) / 2.0, (height - 1) / 2.0)

    @property
    def k(self) -> list[float]:
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    @property
    def p(self) -> list[float]:
        return [self.fx, 0.0, self.cx, 0.0, 0.0, self.fy, self.cy, 0.0, 0.0, 0.0, 1.0, 0.0]


@dataclass(frozen=True)
class Frame:
    camera: str  # mount name in the robot YAML ('ego')
    stream: str  # 'depth' or 'color'
    stamp: float  # capture time, graph clock (sim time in sim)
    seq: int  # 1, 2, ... per (source, stream)
    data: np.ndarray  # depth (H, W) float32 metres, 0 = no measurement; color (H, W, 3) uint8 RGB
    intrinsics: Intrinsics
    frame_id: str  # the mount's frame
    wall: float = field(default_factory=time.monotonic)  # when it became available (latency accounting)


@dataclass
class SourceHealth:
    kind: str
    camera: str
    open: bool
    frames: dict[str, int]
    last_stamp: dict[str, float]
    rate_hz: dict[str, float]  # measured, graph clock
    errors: int
    last_error: str
    capture_ms: dict[str, float]  # p50 time spent producing a frame (render, decode)
    checks: dict[str, int] = field(default_factory=dict)  # source-specific anomaly counts (RealSense: stamps backwards, stalls, frame gaps)


class CameraSource(ABC):
    """One camera mount's streams. Subclasses produce frames by calling `_emit`."""

    kind = "abstract"

    def __init__(self, mount: CameraMount, streams: tuple[str, ...] | None = None):
        available = tuple(s for s in STREAM_NAMES if getattr(mount, s) is not None)
        streams = available if streams is None else tuple(streams)
        missing = [s for s in streams if s not in available]
        if missing:
            raise ValueError(f"camera '{mount.name}' has no {missing} stream (it has {list(available)})")
        self.mount = mount
        self.streams = streams
        self.intrinsics = {s: Intrinsics.from_vfov(self.stream(s).width, self.stream(s).height, self.stream(s).vfov_deg) for s in streams}
        self.is_open = False
        self._cond = threading.Condition()
        self._latest: dict[str, Frame] = {}
        self._seq = dict.fromkeys(streams, 0)
        self._listeners: list[Callable[[Frame], None]] = []
        self._rates = {s: RateMeter(window=50) for s in streams}
        self._capture = {s: LatencyStats(window=500) for s in streams}
        self.errors = 0
        self.last_error = ""

    def stream(self, name: str) -> CameraStream:
        return getattr(self.mount, name)

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # ---- consumers --------------------------------------------------------------------------
    def read(self, stream: str) -> Frame | None:
        """The newest frame of `stream` (None before the first); never blocks."""
        with self._cond:
            return self._latest.get(stream)

    def wait(self, stream: str, after_seq: int, timeout: float) -> Frame | None:
        """Block until a frame of `stream` newer than `after_seq` exists (None on timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq.get(stream, 0) > after_seq, timeout=timeout)
            f = self._latest.get(stream)
            return f if f is not None and f.seq > after_seq else None

    def add_listener(self, fn: Callable[[Frame], None]) -> None:
        """fn(frame) is called in the source's thread for every frame; keep it short."""
        with self._cond:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[Frame], None]) -> None:
        with self._cond:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def health(self) -> SourceHealth:
        with self._cond:
            return SourceHealth(
                kind=self.kind,
                camera=self.mount.name,
                open=self.is_open,
                frames=dict(self._seq),
                last_stamp={s: f.stamp for s, f in self._latest.items()},
                rate_hz={s: m.rate() for s, m in self._rates.items()},
                errors=self.errors,
                last_error=self.last_error,
                capture_ms={s: c.percentiles_ms((50,))["p50_ms"] for s, c in self._capture.items()},
                checks=self._checks(),
            )

    def _checks(self) -> dict[str, int]:
        """Anomaly counters a subclass wants operators to see (called under the lock)."""
        return {}

    # ---- producers ----------------------------------------------------------------------------
    def _emit(self, stream: str, stamp: float, data: np.ndarray, capture_s: float = 0.0, intrinsics: Intrinsics | None = None) -> Frame:
        """Publish one frame. `intrinsics`: the device's own (e.g. after decimation or alignment); they
        replace the nominal ones from the robot YAML for this and later frames."""
        with self._cond:
            if intrinsics is not None:
                self.intrinsics[stream] = intrinsics
            self._seq[stream] += 1
            frame = Frame(self.mount.name, stream, float(stamp), self._seq[stream], data, self.intrinsics[stream], self.mount.frame)
            self._latest[stream] = frame
            self._rates[stream].mark(frame.stamp)
            self._capture[stream].add(capture_s)
            listeners = list(self._listeners)
            self._cond.notify_all()
        for fn in listeners:
            try:
                fn(frame)
            except Exception as exc:  # noqa: BLE001 - a consumer's bug must not kill the producing thread
                self._fail(f"listener {getattr(fn, '__qualname__', fn)}: {exc!r}")
        return frame

    def _fail(self, message: str) -> None:
        with self._cond:
            self.errors += 1
            self.last_error = message


def depth_sensor_model(depth: np.ndarray, stream: CameraStream) -> np.ndarray:
    """What a depth camera reports for ideal z-depth: 0 (no measurement) outside its working range
    [stream.near, stream.far] and where the value is not finite. Training renders call this too."""
    d = np.asarray(depth, dtype=np.float32)
    out = d.copy()
    out[~np.isfinite(d) | (d < stream.near) | (d > stream.far)] = 0.0
    return out


class SimCameraSource(CameraSource):
    """Renders a robot's camera mount from a SimRobot, at each stream's rate in sim time.

    `on_tick(sim)` must run in the thread that steps the sim (MuJoCo is not thread-safe): the sim
    bridge calls it after every tick. Captures are phase-locked to multiples of the stream period
    (0.1, 0.2, ... s for 10 Hz) and stamped with the sim time of the state they show. The MuJoCo
    camera's fovy is set from the robot YAML's `vfov_deg` for each stream (the depth and colour
    streams of one mount may differ) and the near clip plane below the stream's `near`, then both
    are restored. `wanted()` (e.g. the bus's requested streams) limits rendering to streams someone
    consumes; `muted` stops frames altogether (fault injection).

    `latency` (s of sim time) holds each frame back after its capture, as a USB camera and its
    driver do (80-300 ms on Go1/Go2 setups, facts: parkour-courses.md): the frame keeps its
    capture stamp and reaches the consumers `latency` later, so robustness to camera delay is
    measured through the same graph (`lucid-ros sim --camera-latency`).
    """

    kind = "sim"

    def __init__(
        self, robot: RobotDescription, camera: str = "ego", streams: tuple[str, ...] | None = None, wanted: Callable[[], Any] | None = None,
        latency: float = 0.0,
    ):  # fmt: skip
        mount = robot.cameras.get(camera)
        if mount is None:
            raise ConfigError(robot.source, "cameras", f"robot '{robot.name}' has no camera '{camera}' (cameras: {sorted(robot.cameras)})")
        super().__init__(mount, streams)
        self.wanted = wanted
        self.muted = False
        if not (math.isfinite(latency) and latency >= 0.0):
            raise ConfigError(None, "camera_latency", f"expected a latency >= 0 s, got {latency!r}")
        self.latency = float(latency)
        self._pending: list[tuple[float, str, float, np.ndarray, float]] = []  # (release, stream, capture, data, render s)
        self._next = dict.fromkeys(self.streams, -math.inf)

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def due(self, t: float) -> list[str]:
        if not self.is_open or self.muted:
            return []
        wanted = self.streams if self.wanted is None else tuple(s for s in self.streams if s in self.wanted())
        return [s for s in wanted if t >= self._next[s] - _TIME_EPS]

    def on_tick(self, sim: Any) -> list[Frame]:
        """Render every stream that is due at the sim's current time; emit the frames whose latency
        has passed (all of them with no latency) and return those."""
        t = sim.time
        for s in self.due(t):
            period = 1.0 / self.stream(s).rate_hz
            self._next[s] = (math.floor(t / period + _TIME_EPS) + 1) * period
            t0 = time.perf_counter()
            try:
                data = self.render(sim, s)
            except Exception as exc:  # noqa: BLE001 - EGL/MuJoCo errors become a health fault, not a dead sim thread
                self._fail(f"render {s}: {exc!r}")
                continue
            self._pending.append((t + self.latency, s, t, data, time.perf_counter() - t0))
        frames = []
        while self._pending and self._pending[0][0] <= t + _TIME_EPS and not self.muted:
            _release, s, stamp, data, took = self._pending.pop(0)
            frames.append(self._emit(s, stamp, data, took))
        return frames

    def render(self, sim: Any, stream: str) -> np.ndarray:
        """One image of `stream` from `sim` (a SimRobot) as the sensor reports it."""
        st = self.stream(stream)
        try:
            return render_stream(
                sim.model,
                sim.index.cameras[self.mount.name],
                st,
                stream,
                lambda: sim.render(self.mount.name, st.width, st.height, depth=stream == "depth"),
            )
        finally:
            release_gl_context()


def render_stream(model: Any, cid: int, st: CameraStream, stream: str, render: Callable[[], np.ndarray], vfov_deg: float | None = None) -> np.ndarray:
    """The camera `cid` of `model` rendered as `stream` reports it: the MuJoCo camera's fovy set
    to the stream's (or `vfov_deg`, a training jitter), the near clip plane below the stream's
    `near` for depth, both restored after `render()` (which draws the current scene); depth through
    the sensor model. The sim camera source and training (lucid_ros.training.camera) both call
    this, so a rendered frame is the same in both."""
    m = model
    fovy, znear = float(m.cam_fovy[cid]), float(m.vis.map.znear)
    m.cam_fovy[cid] = st.vfov_deg if vfov_deg is None else vfov_deg
    if stream == "depth":
        m.vis.map.znear = min(znear, 0.5 * st.near / max(m.stat.extent, 1e-9))
    try:
        img = render()
    finally:
        m.cam_fovy[cid] = fovy
        m.vis.map.znear = znear
    return depth_sensor_model(img, st) if stream == "depth" else np.ascontiguousarray(img, dtype=np.uint8)


def release_gl_context() -> None:
    """Leave no GL context current in this thread. mujoco.Renderer.render makes its context current
    and keeps it so; rendered from the sim thread, the renderer could then not be closed (or
    garbage-collected) from any other thread (EGL_BAD_ACCESS). Its next render makes it current
    again. Only EGL needs this; other backends are left alone."""
    if os.environ.get("MUJOCO_GL") != "egl":
        return
    from mujoco import egl
    from OpenGL import EGL

    if egl.EGL_DISPLAY is not None and EGL.eglGetCurrentContext():
        EGL.eglMakeCurrent(egl.EGL_DISPLAY, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)


# ---- hardware sources: the seam ------------------------------------------------------------------
_REGISTRY: dict[str, Callable[..., CameraSource]] = {}
_PARAMETERS: dict[str, tuple[str, ...]] = {}
# Drivers imported on first use, so the camera node needs no import per driver and a robot without
# pyrealsense2 still runs the sim source.
_DRIVERS = {"realsense": "lucid_ros.vision.realsense"}


def register_source(kind: str, factory: Callable[..., CameraSource], parameters: tuple[str, ...] = ()) -> None:
    """factory(robot, camera, **options) -> CameraSource. The RealSense driver registers 'realsense'.
    `parameters`: option names the camera node reads as string parameters `<kind>.<name>` and passes
    on when set (the factory parses and validates them)."""
    _REGISTRY[kind] = factory
    _PARAMETERS[kind] = tuple(parameters)


def _load_driver(kind: str) -> None:
    module = _DRIVERS.get(kind)
    if module and kind not in _REGISTRY:
        import importlib

        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(None, "camera.source", f"camera source '{kind}' needs {exc.name or exc} (pip install pyrealsense2)") from exc


def source_parameters(kind: str) -> tuple[str, ...]:
    """Option names of source `kind` that the camera node exposes as `<kind>.<name>` parameters."""
    if kind == "sim":
        return ()
    _load_driver(kind)
    return _PARAMETERS.get(kind, ())


def open_source(kind: str, robot: RobotDescription, camera: str, **options: Any) -> CameraSource:
    """Build and open a hardware (or replay) source. 'sim' sources belong to the sim bridge, which
    renders in its own thread; the camera node receives their frames through the bus instead."""
    if kind == "sim":
        raise ConfigError(
            None, "camera.source", "a 'sim' source is created by the sim bridge (parameter `cameras: true`), not opened by the camera node"
        )
    _load_driver(kind)
    factory = _REGISTRY.get(kind)
    if factory is None:
        known = sorted({"sim", *_REGISTRY, *_DRIVERS})
        raise ConfigError(None, "camera.source", f"no camera source '{kind}' (known: {known})")
    source = factory(robot, camera, **options)
    source.open()
    return source
