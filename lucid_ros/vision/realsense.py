"""Intel RealSense camera source (pyrealsense2), registered as camera source 'realsense'.

Why it is built this way:
- The device-facing part is one small object, a *device provider* (`UsbDevices` on a robot): it
  lists serials, hands out an `rs.device` and reports removals. Everything after that — opening the
  sensors' stream profiles, the frame queue or syncer, the librealsense post-processing filters,
  alignment, unit conversion, timestamp checks, unplug and retry — is the same code whether the
  device is a USB camera or a `pyrealsense2.software_device` a test injects frames into.
- The sensor API (`sensor.open/start` into a frame queue or a syncer) is used instead of
  `rs.pipeline`: it behaves identically on real and software devices (pyrealsense2 2.59 does not
  list a software device in a context, so a pipeline cannot find it).
- Frames are handled in one worker thread that also watches for silence and reconnects, so a USB
  drop never raises into anyone: the source reports it in `health()` (open False, last_error) and
  the camera stops producing `camera_info`, which the safety supervisor turns into DAMPING within
  the robot's `safety.camera_timeout`.
- Device timestamps are checked, not trusted: a stamp that goes backwards is dropped, one that
  does not advance is dropped and, after `stall_frames` intervals, reported as a stall (a frozen
  camera must look stale to the supervisor), frame-number gaps are counted. The device clock is
  mapped to the graph clock with a tracked offset (`ClockMap`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyrealsense2 as rs
import yaml

from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import CameraMount, RobotDescription
from lucid_ros.vision.sources import CameraSource, Intrinsics, register_source

log = logging.getLogger("lucid_ros.realsense")
RS_STREAM = {"depth": rs.stream.depth, "color": rs.stream.color}
RS_FORMAT = {"depth": rs.format.z16, "color": rs.format.rgb8}


class DeviceProvider(Protocol):
    """Where devices come from: USB on a robot, a software_device in tests."""

    def serials(self) -> list[str]: ...

    def get(self, serial: str) -> Any | None: ...  # an rs.device, or None when not connected

    def watch(self, removed: Callable[[str], None]) -> None: ...  # removed(serial) when one disappears


class UsbDevices:
    """Real cameras through one rs.context; removals come from its devices-changed callback."""

    def __init__(self) -> None:
        self.ctx = rs.context()
        self.handed_out: dict[str, Any] = {}

    def serials(self) -> list[str]:
        return [d.get_info(rs.camera_info.serial_number) for d in self.ctx.query_devices()]

    def get(self, serial: str) -> Any | None:
        for d in self.ctx.query_devices():
            if d.get_info(rs.camera_info.serial_number) == serial:
                self.handed_out[serial] = d
                return d
        return None

    def watch(self, removed: Callable[[str], None]) -> None:
        def changed(info: Any) -> None:  # librealsense's thread: only flag, the worker does the rest
            for serial, dev in list(self.handed_out.items()):
                if info.was_removed(dev):
                    removed(serial)

        self.ctx.set_devices_changed_callback(changed)


_PROVIDERS: dict[str, Callable[[], DeviceProvider]] = {"usb": UsbDevices}


def register_device_provider(name: str, factory: Callable[[], DeviceProvider]) -> None:
    """Named providers for the camera node's `realsense.device_provider` parameter (tests, replay)."""
    _PROVIDERS[name] = factory


# ---- options ---------------------------------------------------------------------------------------
# Friendly option names per filter -> the rs.option each sets, with the librealsense defaults.
FILTERS: dict[str, dict[str, str]] = {
    "decimation": {"magnitude": "filter_magnitude"},
    "threshold": {"min": "min_distance", "max": "max_distance"},
    "disparity": {},  # depth -> disparity; spatial/temporal work best there (librealsense's order)
    "spatial": {"alpha": "filter_smooth_alpha", "delta": "filter_smooth_delta", "magnitude": "filter_magnitude", "holes_fill": "holes_fill"},
    "temporal": {"alpha": "filter_smooth_alpha", "delta": "filter_smooth_delta", "persistence": "holes_fill"},
    "depth": {},  # disparity -> depth
    "hole_filling": {"mode": "holes_fill"},
}
_FIELD = "camera.realsense"


@dataclass(frozen=True)
class StreamMode:
    width: int
    height: int
    fps: int


@dataclass(frozen=True)
class RealSenseOptions:
    serial: str
    streams: dict[str, StreamMode]
    filters: list[tuple[str, dict[str, float]]]  # (name, {rs.option name: value}) in order
    align: bool
    device_provider: Any
    stall_frames: int
    lost_after_s: float
    retry_s: float


def _yaml(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(None, f"{_FIELD}.{name}", f"not YAML: {value!r} ({exc})") from exc


def _mode(mount: CameraMount, stream: str, value: Any) -> StreamMode:
    st = getattr(mount, stream)
    default = {"width": st.width, "height": st.height, "fps": int(round(st.rate_hz))}
    value = _yaml(stream, value)
    if isinstance(value, str) or isinstance(value, (int, float)):  # "848x480@30"
        try:
            size, fps = str(value).split("@")
            w, h = size.split("x")
            value = {"width": int(w), "height": int(h), "fps": int(fps)}
        except ValueError:
            raise ConfigError(None, f"{_FIELD}.{stream}", f"expected WIDTHxHEIGHT@FPS (e.g. 848x480@30) or a mapping, got {value!r}") from None
    value = value or {}
    if not isinstance(value, dict) or set(value) - set(default):
        raise ConfigError(None, f"{_FIELD}.{stream}", f"expected a mapping with {sorted(default)}, got {value!r}")
    merged = {**default, **value}
    for k, v in merged.items():
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ConfigError(None, f"{_FIELD}.{stream}.{k}", f"expected a positive integer, got {v!r}")
    return StreamMode(**merged)


def parse_filters(value: Any) -> list[tuple[str, dict[str, float]]]:
    """`[decimation: {magnitude: 2}, hole_filling]` (a list, or the same as a YAML string) → the
    chain, validated: known names and options, numbers, disparity/depth paired as librealsense needs."""
    value = _yaml("filters", value) or []
    if not isinstance(value, list):
        raise ConfigError(None, f"{_FIELD}.filters", f"expected a list of filters (in order), got {value!r}")
    chain, domain = [], "depth"
    for i, item in enumerate(value):
        name, opts = (item, {}) if isinstance(item, str) else next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (None, None)
        where = f"{_FIELD}.filters[{i}]"
        if name not in FILTERS:
            raise ConfigError(None, where, f"unknown filter {item!r}; expected one of {list(FILTERS)}")
        opts = opts or {}
        if not isinstance(opts, dict):
            raise ConfigError(None, f"{where}.{name}", f"expected a mapping of options, got {opts!r}")
        bad = set(opts) - set(FILTERS[name])
        if bad:
            raise ConfigError(None, f"{where}.{name}", f"unknown option(s) {sorted(bad)}; '{name}' takes {sorted(FILTERS[name])}")
        for k, v in opts.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise ConfigError(None, f"{where}.{name}.{k}", f"expected a number, got {v!r}")
        if name in ("disparity", "depth"):
            if domain == name:
                raise ConfigError(None, where, f"'{name}' given twice in a row: the chain is already in the {name} domain")
            domain = name
        elif name not in ("spatial", "temporal") and domain == "disparity":
            raise ConfigError(None, where, f"'{name}' works on depth: put 'depth' (disparity -> depth) before it")
        chain.append((name, {FILTERS[name][k]: float(v) for k, v in opts.items()}))
    if domain == "disparity":
        raise ConfigError(None, f"{_FIELD}.filters", "the chain ends in disparity: add 'depth' after the spatial/temporal filters")
    return chain


def _number(options: dict[str, Any], name: str, default: float, lo: float) -> float:
    v = _yaml(name, options.get(name, default))
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= lo:
        raise ConfigError(None, f"{_FIELD}.{name}", f"expected a number >= {lo:g}, got {v!r}")
    return float(v)


def parse_options(mount: CameraMount, streams: tuple[str, ...], options: dict[str, Any]) -> RealSenseOptions:
    """Validate the source's options (node parameters arrive as strings); errors name the field."""
    known = {"serial", "depth", "color", "filters", "align", "device_provider", "stall_frames", "lost_after", "retry", "clock"}
    unknown = set(options) - known
    if unknown:
        raise ConfigError(None, _FIELD, f"unknown option(s) {sorted(unknown)}; expected {sorted(known)}")
    align = _yaml("align", options.get("align", False))
    if align in ("color", "none"):
        align = align == "color"
    if not isinstance(align, bool):
        raise ConfigError(None, f"{_FIELD}.align", f"expected true/false (or 'color'/'none'), got {align!r}")
    if align and set(streams) != {"depth", "color"}:
        raise ConfigError(None, f"{_FIELD}.align", f"aligning depth to colour needs both streams, this source has {list(streams)}")
    return RealSenseOptions(
        serial=str(options.get("serial") or ""),
        streams={s: _mode(mount, s, options.get(s)) for s in streams},
        filters=parse_filters(options.get("filters")),
        align=align,
        device_provider=options.get("device_provider") or "usb",
        stall_frames=int(_number(options, "stall_frames", 3, 1)),
        lost_after_s=_number(options, "lost_after", 1.0, 0.05),
        retry_s=_number(options, "retry", 1.0, 0.05),
    )


class ClockMap:
    """Device milliseconds → graph-clock seconds.

    offset = min over frames of (arrival on the graph clock − device time): a frame cannot arrive
    before it was captured, so the smallest difference is the capture-to-arrival floor and
    stamp = device time + offset is never later than arrival. The bound relaxes by `drift` (s/s)
    so a device clock running slower than the host is followed."""

    def __init__(self, drift: float = 1e-4):
        self.drift = drift
        self.offset: float | None = None
        self._last_dev: float | None = None

    def stamp(self, device_ms: float, arrival: float) -> float:
        t = device_ms * 1e-3
        seen = arrival - t
        if self.offset is None or self._last_dev is None:
            self.offset = seen
        else:
            self.offset = min(self.offset + self.drift * max(t - self._last_dev, 0.0), seen)
        self._last_dev = t
        return t + self.offset

    def reset(self) -> None:
        self.offset = self._last_dev = None


@dataclass
class StampCheck:
    """One stream's device timestamps and frame numbers: decides which frames may be used."""

    stream: str
    period_ms: float
    stall_frames: int
    last_ms: float | None = None
    last_number: int | None = None
    advanced_wall: float = 0.0
    backwards: int = 0
    repeated: int = 0
    stalls: int = 0
    frame_gaps: int = 0
    stalled: bool = False

    def check(self, ts_ms: float, number: int, wall: float) -> tuple[bool, str, str]:
        """(use the frame?, kind of anomaly or '', message). Kinds: backwards, repeat, stall, gap."""
        if self.last_ms is None:
            self.last_ms, self.last_number, self.advanced_wall = ts_ms, number, wall
            return True, "", ""
        if ts_ms < self.last_ms:
            self.backwards += 1
            self.last_number = number  # the frame came; only its stamp is wrong (no spurious gap next)
            return False, "backwards", f"{self.stream}: timestamp went backwards {self.last_ms:.3f} -> {ts_ms:.3f} ms (frame dropped)"
        if ts_ms == self.last_ms:
            self.repeated += 1
            if not self.stalled and (wall - self.advanced_wall) * 1e3 > self.stall_frames * self.period_ms:
                self.stalled = True
                self.stalls += 1
                return (
                    False,
                    "stall",
                    f"{self.stream}: timestamp stalled at {ts_ms:.3f} ms for more than {self.stall_frames} frame intervals (frames dropped)",
                )
            return False, "repeat", ""
        self.stalled = False
        self.advanced_wall = wall
        gap = number - (self.last_number if self.last_number is not None else number - 1)
        self.last_ms, self.last_number = ts_ms, number
        if gap != 1:
            self.frame_gaps += 1
            return True, "gap", f"{self.stream}: frame number jumped by {gap} (to {number}): frames lost on the way"
        return True, "", ""


def _intrinsics(profile: Any) -> Intrinsics:
    i = profile.as_video_stream_profile().get_intrinsics()
    return Intrinsics(int(i.width), int(i.height), float(i.fx), float(i.fy), float(i.ppx), float(i.ppy))


def build_filters(specs: list[tuple[str, dict[str, float]]]) -> list[Any]:
    """librealsense processing blocks in the given order, options set by their rs.option names."""
    out = []
    for name, opts in specs:
        if name == "disparity":
            out.append(rs.disparity_transform(True))
            continue
        if name == "depth":
            out.append(rs.disparity_transform(False))
            continue
        block = {"decimation": rs.decimation_filter, "spatial": rs.spatial_filter, "temporal": rs.temporal_filter,
                 "hole_filling": rs.hole_filling_filter, "threshold": rs.threshold_filter}[name]()  # fmt: skip
        for key, value in opts.items():
            block.set_option(getattr(rs.option, key), float(value))
        out.append(block)
    return out


class RealSenseSource(CameraSource):
    """One RealSense device as a robot camera mount; see the module docstring."""

    kind = "realsense"

    def __init__(self, robot: RobotDescription, camera: str = "ego", streams: tuple[str, ...] | None = None, **options: Any):
        mount = robot.cameras.get(camera)
        if mount is None:
            raise ConfigError(robot.source, "cameras", f"robot '{robot.name}' has no camera '{camera}' (cameras: {sorted(robot.cameras)})")
        super().__init__(mount, streams)
        self.options: RealSenseOptions = parse_options(mount, self.streams, options)
        o = self.options
        provider = o.device_provider
        if isinstance(provider, str):
            if provider not in _PROVIDERS:
                raise ConfigError(None, "camera.realsense.device_provider", f"unknown device provider '{provider}' (known: {sorted(_PROVIDERS)})")
            provider = _PROVIDERS[provider]()
        self.provider: DeviceProvider = provider
        self.clock: Callable[[], float] = options.get("clock") or time.time
        self.clock_map = ClockMap()
        self.checks = {s: StampCheck(s, 1e3 / o.streams[s].fps, o.stall_frames) for s in self.streams}
        self.serial = ""
        self.reconnects = 0
        self._removed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sensors: list[Any] = []
        self._queue: Any = None
        self._filters: list[Any] = []
        self._align: Any = None
        self._logged: set[str] = set()

    # ---- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Choose the device, start streaming, and fail loudly (by serial) if it cannot."""
        o = self.options
        serials = self.provider.serials()
        if o.serial:
            if o.serial not in serials:
                raise ConfigError(None, "camera.realsense.serial", f"no RealSense with serial '{o.serial}' is connected (connected: {serials})")
            self.serial = o.serial
        elif len(serials) == 1:
            self.serial = serials[0]
        else:
            why = "none is connected" if not serials else f"several are connected: {serials}"
            raise ConfigError(None, "camera.realsense.serial", f"set the camera's serial: {why}")
        self.provider.watch(lambda s: self._removed.set() if s == self.serial else None)
        self._start(self.provider.get(self.serial))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"realsense-{self.serial}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._stop_device()
        self.is_open = False

    def _start(self, device: Any) -> None:
        if device is None:
            raise ConfigError(None, "camera.realsense.serial", f"RealSense '{self.serial}' disappeared while opening")
        o = self.options
        by_sensor: dict[int, tuple[Any, list[Any]]] = {}
        for s in self.streams:
            sensor, profile = self._find_profile(device, s)
            by_sensor.setdefault(id(sensor), (sensor, []))[1].append(profile)
        self._queue = rs.syncer(4) if o.align else rs.frame_queue(8, keep_frames=True)
        self._filters = build_filters(o.filters)
        self._align = rs.align(rs.stream.color) if o.align else None
        self._sensors = []
        for sensor, profiles in by_sensor.values():
            sensor.open(profiles if len(profiles) > 1 else profiles[0])
            sensor.start(self._queue)
            self._sensors.append(sensor)
        self.clock_map.reset()
        for c in self.checks.values():
            c.last_ms = c.last_number = None
        self._removed.clear()
        self._last_frame = time.monotonic()
        self.is_open = True

    def _find_profile(self, device: Any, stream: str) -> tuple[Any, Any]:
        want = self.options.streams[stream]
        offered = []
        for sensor in device.query_sensors():
            for p in sensor.get_stream_profiles():
                if p.stream_type() != RS_STREAM[stream]:
                    continue
                v = p.as_video_stream_profile()
                offered.append(f"{v.width()}x{v.height()}@{v.fps()} {p.format()}")
                if (v.width(), v.height(), v.fps(), p.format()) == (want.width, want.height, want.fps, RS_FORMAT[stream]):
                    return sensor, p
        raise ConfigError(
            None, f"camera.realsense.{stream}",
            f"RealSense '{self.serial}' offers no {stream} {want.width}x{want.height}@{want.fps} {RS_FORMAT[stream]} (it offers {offered})",
        )  # fmt: skip

    def _stop_device(self) -> None:
        for sensor in self._sensors:
            for call in (sensor.stop, sensor.close):
                try:
                    call()
                except RuntimeError:  # an unplugged device refuses; nothing left to release
                    pass
        self._sensors = []

    # ---- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        o = self.options
        next_try = 0.0
        while not self._stop.is_set():
            if not self.is_open:
                now = time.monotonic()
                if now < next_try:
                    self._stop.wait(min(next_try - now, 0.1))
                    continue
                next_try = now + o.retry_s
                device = self.provider.get(self.serial)
                if device is None:
                    continue
                try:
                    self._start(device)
                except (RuntimeError, ConfigError) as exc:
                    self._report(f"reopen {self.serial}: {exc}")
                    self._stop_device()
                    continue
                self.reconnects += 1
                log.warning("RealSense %s is back (reconnect %d)", self.serial, self.reconnects)
                continue
            ok, frame = self._queue.try_wait_for_frame(100) if not o.align else self._queue.try_wait_for_frames(100)
            if ok:
                self._last_frame = time.monotonic()
                try:
                    self._process(frame)
                except Exception as exc:  # noqa: BLE001 - a bad frame is a health fault, never a dead thread
                    self._report(f"frame: {exc!r}")
            elif self._removed.is_set() or time.monotonic() - self._last_frame > o.lost_after_s:
                why = "was unplugged" if self._removed.is_set() else f"sent no frame for {o.lost_after_s:g} s"
                self._stop_device()
                self.is_open = False
                self._logged.discard("lost")
                self._report(f"RealSense {self.serial} {why}; retrying every {o.retry_s:g} s", key="lost")
                next_try = time.monotonic() + o.retry_s

    def _process(self, frame: Any) -> None:
        t0 = time.perf_counter()
        arrival = self.clock()
        frames = list(frame.as_frameset()) if frame.is_frameset() else [frame]
        if self._align is not None and len(frames) == 2:
            frames = list(self._align.process(frame.as_frameset()))
        elif self._align is not None and any(f.profile.stream_type() == rs.stream.depth for f in frames):
            self._checks_dropped += 1  # depth without its colour frame cannot be aligned
            frames = [f for f in frames if f.profile.stream_type() != rs.stream.depth]
        for f in frames:
            stream = "depth" if f.profile.stream_type() == rs.stream.depth else "color"
            if stream not in self.streams:
                continue
            use, kind, message = self.checks[stream].check(f.get_timestamp(), f.get_frame_number(), time.monotonic())
            if message:
                self._report(message, key=f"{stream}-{kind}")
            if not use:
                continue
            stamp = self.clock_map.stamp(f.get_timestamp(), arrival)
            if stream == "depth":
                for block in self._filters:
                    f = block.process(f)
                d = f.as_depth_frame()
                data = np.asanyarray(d.get_data()).astype(np.float32) * np.float32(d.get_units())
            else:
                data = np.array(np.asanyarray(f.get_data()), dtype=np.uint8, copy=True)
            mount = self.stream(stream)
            if data.shape[:2] != (mount.height, mount.width):
                self._report(
                    f"{stream}: frames are {data.shape[1]}x{data.shape[0]} after filters/alignment, the robot YAML's '{self.mount.name}' "
                    f"mount says {mount.width}x{mount.height} (set realsense.{stream} size or the decimation magnitude)", key=f"{stream}-size",
                )  # fmt: skip
                continue
            self._emit(stream, stamp, data, time.perf_counter() - t0, _intrinsics(f.profile))

    _checks_dropped = 0

    def _report(self, message: str, key: str | None = None) -> None:
        """Count every fault; log a kind of fault once (a 30 Hz camera would flood the log)."""
        self._fail(message)
        key = key or message
        if key not in self._logged:
            self._logged.add(key)
            log.error("camera '%s': %s", self.mount.name, message)

    def _checks(self) -> dict[str, int]:
        out: dict[str, int] = {"reconnects": self.reconnects, "unaligned_depth_dropped": self._checks_dropped}
        for s, c in self.checks.items():
            out |= {
                f"{s}_stamp_backwards": c.backwards,
                f"{s}_stamp_stalls": c.stalls,
                f"{s}_stamp_repeats": c.repeated,
                f"{s}_frame_gaps": c.frame_gaps,
            }
        return out


def _factory(robot: RobotDescription, camera: str, **options: Any) -> RealSenseSource:
    return RealSenseSource(robot, camera, options.pop("streams", None), **options)


register_source(
    "realsense", _factory, parameters=("serial", "depth", "color", "filters", "align", "device_provider", "stall_frames", "lost_after", "retry")
)
