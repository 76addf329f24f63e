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

Where the parts live: device providers in `realsense_devices`, option parsing and the filter chain in
`realsense_config`, timestamp checks and the clock map in `realsense_stamps`; this module holds the
source itself (streaming, the worker thread with its reconnect logic) and re-exports the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyrealsense2 as rs

from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import RobotDescription
from lucid_ros.vision.realsense_config import FILTERS, RealSenseOptions, StreamMode, build_filters, parse_filters, parse_options
from lucid_ros.vision.realsense_devices import _PROVIDERS, DeviceProvider, UsbDevices, register_device_provider
from lucid_ros.vision.realsense_stamps import ClockMap, StampCheck
from lucid_ros.vision.sources import CameraSource, Intrinsics, register_source

__all__ = [
    "FILTERS",
    "RS_FORMAT",
    "RS_STREAM",
    "ClockMap",
    "DeviceProvider",
    "RealSenseOptions",
    "RealSenseSource",
    "StampCheck",
    "StreamMode",
    "UsbDevices",
    "build_filters",
    "parse_filters",
    "parse_options",
    "register_device_provider",
]

log = logging.getLogger("lucid_ros.realsense")
RS_STREAM = {"depth": rs.stream.depth, "color": rs.stream.color}
RS_FORMAT = {"depth": rs.format.z16, "color": rs.format.rgb8}


def _intrinsics(profile: Any) -> Intrinsics:
    i = profile.as_video_stream_profile().get_intrinsics()
    return Intrinsics(int(i.width), int(i.height), float(i.fx), float(i.fy), float(i.ppx), float(i.ppy))


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
