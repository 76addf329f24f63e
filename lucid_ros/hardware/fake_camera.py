"""The fake robot's RealSense: its camera mount rendered in the fake's MuJoCo world, delivered
through librealsense's `software_device` as a D4xx delivers frames over USB.

Why: on a robot the camera path is the RealSense source (lucid_ros.vision.realsense) — sensor
profiles, frame queue, z16 depth units, device timestamps and their checks, unplug and reopen.
Rendering straight into the vision bus (as the sim bridge does) would skip all of it. Here the
frames are z16 depth (1 mm units) and rgb8 colour at the mount's size and rate, stamped on a
hardware clock (the fake process's monotonic clock in ms at capture: a camera's oscillator runs at
the wall's rate, while a loaded machine's fake physics may fall behind it) with frame
numbers, so the real source opens this device by serial like a USB camera.

Processes: a software_device lives in one process (librealsense cannot publish one to another, and
pyrealsense2 2.59 does not list it in an `rs.context`). So the cable is split as USB splits it: the
fake robot renders in its own process (`FakeCameraSender`, after its physics tick) and sends each
frame, as the device would put it on the wire (raw z16/rgb8 pixels, device timestamp, frame number),
and the mount it rendered, in one loopback UDP datagram to the graph's process, where `FakeRealSense`
receives it (refusing, loudly, frames of a mount other than the one the graph serves) and injects it
into its software_device, registered as the RealSense device provider `fake` (camera parameter
`realsense.device_provider: fake`). Mount-sized frames fit a datagram (go1: 12.7 kB depth); a mount
over 64 kB per frame is refused at start. Both sides take the sizes from the same robot YAML.

Rendering uses the sim's code (SimCameraSource.render: the mount's fovy, near plane, sensor model).
The fake's physics thread only copies the world when a frame is due (SimRobot.snapshot: MuJoCo's
data is not shared across threads); the sender's render thread draws that copy and sends it, so the
500 Hz physics never waits for a render, as a real camera never stalls its robot.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyrealsense2 as rs

from lucid_ros.robots.description import RobotDescription
from lucid_ros.vision.realsense_devices import register_device_provider
from lucid_ros.vision.sources import SimCameraSource

DEPTH_UNITS = 0.001  # m per z16 count: a D4xx's default
HEADER = struct.Struct("<4sBdI16s")  # magic, stream (0 depth, 1 color), device timestamp ms, frame number, mount name
MAGIC = b"LRS2"
_STREAM_ID = {"depth": 0, "color": 1}
log = logging.getLogger("lucid_ros.hardware")
_FORMAT = {"depth": (rs.stream.depth, rs.format.z16, 2), "color": (rs.stream.color, rs.format.rgb8, 3)}


def _pixels(stream: str, image: np.ndarray) -> np.ndarray:
    """A rendered image as the device puts it on the wire: z16 counts (0 = no measurement) or rgb8."""
    if stream == "depth":
        return np.clip(np.rint(image / DEPTH_UNITS), 0, 65535).astype(np.uint16)
    return np.ascontiguousarray(image, dtype=np.uint8)


class _Frozen:
    """The world as it was at a capture (SimRobot.snapshot), as SimCameraSource.render reads a SimRobot."""

    def __init__(self, sim: Any, data: Any):
        self.model, self.index, self._sim, self._data = sim.model, sim.index, sim, data

    def render(self, camera_name: str, width: int | None = None, height: int | None = None, depth: bool = False) -> np.ndarray:
        return self._sim.render(camera_name, width, height, depth, data=self._data)


class FakeCameraSender:
    """The fake robot's side: captures the mount's streams at their rate on the physics clock and
    sends each frame to `port` on loopback. The physics thread only takes a snapshot of the world
    (and the device timestamp) when a frame is due; a render thread draws and sends it, so the
    robot's physics never waits for a render, as a real camera never stalls the robot (rendered
    inline, 2 streams cost the 500 Hz loop 10-20 ms every 100 ms and the fake's physics fell to
    0.95x the wall clock). `mute()` stops the frames (a camera that stalls or is unplugged: the
    graph's source sees the silence); `dropped` counts captures the render thread could not take
    (it was two frames behind)."""

    def __init__(
        self, robot: RobotDescription, port: int, camera: str = "ego", streams: tuple[str, ...] | None = None, host: str = "127.0.0.1",
        clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the fake camera sends on loopback only (127.0.0.1)")
        self.renderer = SimCameraSource(robot, camera, streams)
        if len(camera.encode()) > 16:
            raise ValueError(f"camera '{camera}': the fake camera's frames name their mount in 16 bytes; use a shorter mount name")
        self.camera = camera  # named in every frame: the graph's side refuses another mount's frames
        self.streams = self.renderer.streams
        for s in self.streams:
            st = self.renderer.stream(s)
            size = HEADER.size + st.width * st.height * _FORMAT[s][2]
            if size > 65507:
                raise ValueError(f"camera '{camera}' {s} {st.width}x{st.height}: {size} B per frame does not fit one UDP datagram")
        self.clock = clock  # the device's hardware clock (s); stamps go out in ms
        self.addr = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.muted = False
        self.frames = dict.fromkeys(self.streams, 0)
        self.errors = 0
        self.dropped = 0
        self.last_error = ""
        self._next = dict.fromkeys(self.streams, -math.inf)
        self._jobs: queue.Queue = queue.Queue(maxsize=2)
        self._worker = threading.Thread(target=self._work, name="fake_camera_render", daemon=True)
        self._worker.start()

    def warm(self, sim: Any, timeout: float = 120.0) -> None:
        """Render each stream once now, in the render thread: the first render creates the GL
        renderer (up to seconds on EGL/CPU), which must not stall the fake's 500 Hz physics thread
        (the driver would see a silent robot), and its rasterizer threads (llvmpipe) are started by
        and inherit the scheduling of the thread that creates it (see _work)."""
        done: queue.Queue = queue.Queue()
        self._jobs.put(("warm", sim, done))
        try:
            error = done.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"fake camera: the first render took more than {timeout:.0f} s") from None
        if error is not None:
            raise RuntimeError(f"fake camera: the first render failed: {error!r}") from error

    def mute(self, muted: bool = True) -> None:
        self.muted = muted

    def on_tick(self, sim: Any) -> None:
        """Capture every stream that is due at the sim's time (the physics thread): a snapshot and
        the device timestamp now; the render thread draws and sends it."""
        if self.muted:
            return
        t = sim.time
        due = []
        for s in self.streams:
            if t < self._next[s] - 1e-9:
                continue
            period = 1.0 / self.renderer.stream(s).rate_hz
            self._next[s] = (math.floor(t / period + 1e-9) + 1) * period
            due.append(s)
        if not due:
            return
        try:
            self._jobs.put_nowait((_Frozen(sim, sim.snapshot()), due, self.clock()))
        except queue.Full:
            self.dropped += len(due)
            self.last_error = f"render thread two frames behind: dropped {', '.join(due)} at t={t:.3f}"
        except Exception as exc:  # noqa: BLE001 - a capture error must never stop the fake's physics
            self.errors += 1
            self.last_error = f"capture: {exc!r}"

    def _work(self) -> None:
        # The render stands in for the camera's own chip, not for the robot computer: it must never
        # take CPU from the graph under test. A fake started at real-time priority (the tests' and
        # benches' robot_priority: SCHED_RR 10, above the graph's 5) rendered its 10 Hz frames on
        # both cores at that priority, starving the graph's supervisor 30-85 ms every 100 ms and
        # tripping the motor process's 50 ms watchdog during the stand. This thread drops to normal
        # scheduling before it creates the GL renderer, so llvmpipe's threads inherit that too.
        try:
            if os.sched_getscheduler(0) != os.SCHED_OTHER:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # this thread only (Linux)
        except (OSError, AttributeError):
            pass
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if job[0] == "warm":
                    _, sim, done = job
                    try:
                        for s in self.streams:
                            self.renderer.render(sim, s)
                        done.put(None)
                    except Exception as exc:  # noqa: BLE001 - handed to warm()'s caller
                        done.put(exc)
                    continue
                frozen, due, captured = job
                for s in due:
                    try:
                        pixels = _pixels(s, self.renderer.render(frozen, s))
                        self.frames[s] += 1
                        head = HEADER.pack(MAGIC, _STREAM_ID[s], captured * 1e3, self.frames[s], self.camera.encode())
                        self.sock.sendto(head + pixels.tobytes(), self.addr)
                    except Exception as exc:  # noqa: BLE001 - one bad frame must not end the camera
                        self.errors += 1
                        self.last_error = f"{s}: {exc!r}"
            finally:
                self._jobs.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every captured frame has been rendered and sent (True), or `timeout` s."""
        end = time.monotonic() + timeout
        while self._jobs.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.002)
        return not self._jobs.unfinished_tasks

    def close(self) -> None:
        if self._worker.is_alive():
            self._jobs.put(None)
            self._worker.join(timeout=5.0)
        self.sock.close()


class FakeRealSense:
    """The graph's side: a software_device with the mount's depth (z16) and colour (rgb8) streams,
    fed from a FakeCameraSender's datagrams (`listen`) or directly (`inject`); a DeviceProvider.

    `unplug()` removes the device (a USB drop; `notify` as the devices-changed callback reports
    one), `replug()` brings a new device with the same serial back."""

    def __init__(self, robot: RobotDescription, camera: str = "ego", serial: str = "", streams: tuple[str, ...] | None = None):
        nominal = SimCameraSource(robot, camera, streams)  # the mount's streams and intrinsics, as the sender renders them
        self.mount, self.streams, self.intrinsics = nominal.mount, nominal.streams, nominal.intrinsics
        self.camera = camera
        self.wrong_mount: str | None = None  # the mount named by refused frames, when the fake renders another one
        self.serial = serial or f"FAKE-{robot.name}-{camera}"
        self.plugged = True
        self.received = dict.fromkeys(self.streams, 0)
        self.rejected = 0
        self._watchers: list[Any] = []
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._make()

    def _make(self) -> None:
        dev = rs.software_device()
        dev.register_info(rs.camera_info.name, "Intel RealSense D435 (lucid_ros fake robot)")
        dev.register_info(rs.camera_info.serial_number, self.serial)
        dev.create_matcher(rs.matchers.default)
        self.sensors, self.profiles = {}, {}
        for uid, s in enumerate(self.streams):
            sensor = dev.add_sensor("Stereo Module" if s == "depth" else "RGB Camera")
            st, k = getattr(self.mount, s), self.intrinsics[s]
            kind, fmt, bpp = _FORMAT[s]
            vs = rs.video_stream()
            vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = (
                kind,
                0,
                uid,
                st.width,
                st.height,
                int(round(st.rate_hz)),
                bpp,
                fmt,
            )
            i = rs.intrinsics()
            i.width, i.height, i.fx, i.fy, i.ppx, i.ppy = k.width, k.height, k.fx, k.fy, k.cx, k.cy
            i.model, i.coeffs = rs.distortion.none, [0.0] * 5
            vs.intrinsics = i
            self.profiles[s] = rs.video_stream_profile(sensor.add_video_stream(vs, True))
            if s == "depth":
                sensor.add_read_only_option(rs.option.depth_units, DEPTH_UNITS)
            self.sensors[s] = sensor
        if len(self.profiles) == 2:
            ex = rs.extrinsics()  # depth and colour share the mount's optical frame in the model
            ex.rotation, ex.translation = [1, 0, 0, 0, 1, 0, 0, 0, 1], [0.0, 0.0, 0.0]
            self.profiles["depth"].register_extrinsics_to(self.profiles["color"], ex)
        self.device = dev

    # ---- DeviceProvider --------------------------------------------------------------------------
    def serials(self) -> list[str]:
        return [self.serial] if self.plugged else []

    def get(self, serial: str) -> Any | None:
        return self.device if self.plugged and serial == self.serial else None

    def watch(self, removed) -> None:
        self._watchers.append(removed)

    def register(self, name: str = "fake") -> str:
        """Make this device the RealSense provider `name` (camera parameter realsense.device_provider)."""
        register_device_provider(name, lambda: self)
        return name

    # ---- faults ---------------------------------------------------------------------------------
    def unplug(self, notify: bool = True) -> None:
        with self._lock:
            self.plugged = False
        if notify:
            for fn in list(self._watchers):
                fn(self.serial)

    def replug(self) -> None:
        with self._lock:
            self._make()
            self.plugged = True

    # ---- frames ---------------------------------------------------------------------------------
    def inject(self, stream: str, pixels: np.ndarray, ts_ms: float, number: int) -> None:
        """One frame into the device, as its USB transport delivers it (dropped while nobody streams)."""
        with self._lock:
            sensor, profile = self.sensors[stream], self.profiles[stream]
            if not self.plugged or not sensor.get_active_streams():
                return
            f = rs.software_video_frame()
            f.pixels, f.bpp, f.stride = np.ascontiguousarray(pixels), _FORMAT[stream][2], pixels.shape[1] * _FORMAT[stream][2]
            f.timestamp, f.domain, f.frame_number, f.profile = float(ts_ms), rs.timestamp_domain.hardware_clock, int(number), profile
            if stream == "depth":
                f.depth_units = DEPTH_UNITS
            sensor.on_video_frame(f)
            self.received[stream] += 1

    def listen(self, port: int = 0) -> int:
        """Receive a FakeCameraSender's frames on loopback `port` (0: any free one) in a thread; returns the port."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", int(port)))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._receive, name=f"fake-realsense-{self.serial}", daemon=True)
        self._thread.start()
        return self._sock.getsockname()[1]

    def _receive(self) -> None:
        names = {v: k for k, v in _STREAM_ID.items()}
        while self._sock is not None:
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) < HEADER.size:
                self.rejected += 1
                continue
            magic, sid, ts_ms, number, sent_mount = HEADER.unpack_from(data)
            stream = names.get(sid)
            if magic != MAGIC or stream not in self.streams:
                self.rejected += 1
                continue
            sent = sent_mount.rstrip(b"\0").decode(errors="replace")
            if sent != self.camera:  # same sizes, another view: the policy would see the world from the wrong place
                self.rejected += 1
                if self.wrong_mount != sent:
                    self.wrong_mount = sent
                    log.error("fake camera %s: the fake robot renders mount '%s', this graph's policy reads '%s': frames refused "
                              "(start the fake with --camera-mount %s)", self.serial, sent, self.camera, self.camera)  # fmt: skip
                continue
            st = getattr(self.mount, stream)
            dtype = np.uint16 if stream == "depth" else np.uint8
            shape = (st.height, st.width) if stream == "depth" else (st.height, st.width, 3)
            body = np.frombuffer(data, dtype=dtype, offset=HEADER.size)
            if body.size != int(np.prod(shape)):
                self.rejected += 1
                continue
            self.inject(stream, body.reshape(shape), ts_ms, number)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def attach_fake_camera(fake: Any, port: int, camera: str = "ego", streams: tuple[str, ...] | None = None) -> FakeCameraSender:
    """Give a fake robot (FakeRobotBase) its camera: captured after every physics tick in the fake's
    own thread, rendered and sent to loopback `port` (a FakeRealSense listening there) by the
    sender's render thread. Call before `fake.start()`."""
    cam = FakeCameraSender(fake.robot, port, camera, streams)
    cam.warm(fake.sim)
    tick = fake._tick

    def tick_and_render() -> None:  # the fake's loop calls this at 500 Hz; frames are due at the mount's rate
        tick()
        cam.on_tick(fake.sim)

    fake._tick = tick_and_render  # instance attribute: FakeRobotBase.start() hands self._tick to its loop
    fake.camera = cam
    return cam
