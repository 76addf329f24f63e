"""camera: frames in, the policy's image tensors out (in process), images for operators.

Frames arrive through the graph's vision bus (lucid_ros.vision.bus): in sim from the sim bridge's
renderer (`attach_sim_cameras`), on a robot from a source this node opens (`source` parameter).
For every frame, in the producer's thread: `camera/depth/camera_info` is published (small; the
safety supervisor watches it for camera staleness when `require_camera` is true), each policy
image input on this camera is preprocessed with lucid_ros.vision.preprocess (the code training
uses) at its refresh rate and handed to the policy runner through the bus. Full images go out on
`camera/{depth,color}/image_raw` (32FC1 metres / rgb8) with `camera_info` at `publish_rate`
(operators; best-effort SENSOR QoS): large images over DDS are for people, not for the policy.
"""

from __future__ import annotations

import math
import sys
import threading
import time

from sensor_msgs.msg import CameraInfo, Image

from lucid_ros import paths
from lucid_ros.bringup import policy_reads_images  # noqa: F401 - its old home; SimGraph imports it here
from lucid_ros.errors import ConfigError
from lucid_ros.health import LatencyStats, RateMeter
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.common import Diagnostics, GraphNode, now_s, param
from lucid_ros.operator import policy_image
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots import load_robot
from lucid_ros.vision.bus import bus_for
from lucid_ros.vision.preprocess import ImageHistory, check_image_inputs, frame_due
from lucid_ros.vision.sources import STREAM_NAMES, Frame, SimCameraSource, open_source

ENCODINGS = {"depth": ("32FC1", 4), "color": ("rgb8", 3)}


def image_msg(frame: Frame) -> Image:
    enc, bpp = ENCODINGS[frame.stream]
    h, w = frame.data.shape[:2]
    msg = Image(height=h, width=w, encoding=enc, is_bigendian=int(sys.byteorder == "big"), step=w * bpp)
    msg.header.stamp = convert.to_time(frame.stamp)
    msg.header.frame_id = frame.frame_id
    msg.data = frame.data.tobytes()
    return msg


def array_image_msg(pixels, encoding: str, stamp: float, frame_id: str) -> Image:
    """A 32FC1 (h, w) float32 or rgb8 (h, w, 3) uint8 array as an Image."""
    h, w = pixels.shape[:2]
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=int(sys.byteorder == "big"), step=w * pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1))
    msg.header.stamp = convert.to_time(stamp)
    msg.header.frame_id = frame_id
    msg.data = pixels.tobytes()
    return msg


def camera_info_msg(frame: Frame) -> CameraInfo:
    k = frame.intrinsics
    msg = CameraInfo(height=k.height, width=k.width, distortion_model="plumb_bob", d=[0.0] * 5, k=k.k, p=k.p)
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.header.stamp = convert.to_time(frame.stamp)
    msg.header.frame_id = frame.frame_id
    return msg


def attach_sim_cameras(bridge) -> list[SimCameraSource]:
    """Render every camera mount of the bridge's robot in its sim thread, into the graph's bus.
    Only requested streams are rendered (nothing without a camera node); 'camera' in
    `bridge.muted` stops all frames (fault injection)."""
    bus = bus_for(bridge.context)
    sources = []
    for name in bridge.robot.cameras:
        src = SimCameraSource(bridge.robot, name, wanted=lambda n=name: bus.requested(n), latency=bridge.camera_latency)
        src.add_listener(bus.put_frame)
        src.open()
        sources.append(src)

    def render(_t: float, sim) -> None:
        if "camera" not in bridge.muted:
            for src in sources:
                src.on_tick(sim)

    bridge.on_tick.append(render)
    return sources


class CameraNode(GraphNode):
    def __init__(self, **kwargs):
        super().__init__("camera", **kwargs)
        self.robot = load_robot(param(self, "robot", str, required=True))
        # 'auto': the mount the policy's images name (a policy trained through the pitched-down
        # mount gets that mount's frames), else 'ego'
        self.camera = param(self, "camera", "auto")
        self.publish_rate = float(param(self, "publish_rate", 5.0))
        self.timeout = self.robot.safety.camera_timeout
        self.bus = bus_for(self.context)
        self.inputs: list[tuple[object, ImageHistory]] = []
        self.refusal = ""
        policy = param(self, "policy", "")
        spec, pres = None, []
        if policy:
            try:
                spec = load_spec(paths.resolve("policies", policy), self.robot)
                pres = check_image_inputs(spec, self.robot)
            except ConfigError as exc:
                spec, self.refusal = None, str(exc)
                self.get_logger().error(f"no images for the policy: {exc}")
        if self.camera == "auto":
            self.camera = (spec.camera if spec is not None else None) or "ego"
        mount = self.robot.cameras.get(self.camera)
        if mount is None:
            known = sorted(self.robot.cameras)
            raise ConfigError(self.robot.source, "cameras", f"camera node: robot '{self.robot.name}' has no camera '{self.camera}' (cameras: {known})")
        if spec is not None:
            self.inputs = [(img, ImageHistory(pre)) for img, pre in zip(spec.images, pres, strict=True) if img.camera == self.camera]
            if spec.images and not self.inputs:
                self.refusal = f"policy {spec.name} reads camera {sorted({i.camera for i in spec.images})}, this node serves camera '{self.camera}'"
                self.get_logger().error(f"no images for the policy: {self.refusal}")
        available = [s for s in STREAM_NAMES if getattr(mount, s) is not None]
        wanted = param(self, "streams", "auto")
        if wanted == "auto":  # what the policy reads, plus depth (its camera_info is the staleness signal)
            streams = ({img.stream for img, _ in self.inputs} | ({"depth"} & set(available))) if policy else set(available)
        else:
            streams = {s.strip() for s in wanted.split(",") if s.strip()}
        if not streams <= set(available):
            raise ConfigError(None, "camera.streams", f"camera '{self.camera}' has streams {available}, asked for {sorted(streams)}")
        self.streams = sorted(streams)
        self._lock = threading.Lock()  # the stats the diagnostics timer reads
        self._frame_lock = threading.Lock()  # one frame at a time, whichever thread delivers it
        self._slack = {s: 0.5 / getattr(mount, s).rate_hz for s in self.streams}  # half a camera frame interval
        self._last = {}  # stream -> newest frame
        self._published: dict[str, float] = {}
        self.rates = {s: RateMeter(window=50) for s in self.streams}
        self.publish_latency = LatencyStats(window=500)
        self.tensor_latency = LatencyStats(window=500)
        self.tensors = 0
        sensor = qos.SENSOR
        self.image_pub = {s: self.create_publisher(Image, f"camera/{s}/image_raw", sensor) for s in self.streams}
        self.info_pub = {s: self.create_publisher(CameraInfo, f"camera/{s}/camera_info", sensor) for s in self.streams}
        # what the policy receives, for operators (rviz): camera/policy/<input>/image at publish_rate
        self.policy_image_pub = {img.input: self.create_publisher(Image, policy_image.topic_for(img.input), sensor) for img, _ in self.inputs}
        self.diag = Diagnostics(self)
        self.source = None
        kind = param(self, "source", "sim")
        self.bus.request(self.get_fully_qualified_name(), self.camera, self.streams)
        self.bus.subscribe(self.camera, self._on_frame)
        if kind != "sim":
            from rcl_interfaces.msg import ParameterDescriptor

            from lucid_ros.vision.sources import source_parameters

            options = {}  # the driver's own options as `<kind>.<name>` parameters (any type; the driver validates)
            for name in source_parameters(kind):
                value = self.declare_parameter(f"{kind}.{name}", "", ParameterDescriptor(dynamic_typing=True)).value
                if value not in ("", None):
                    options[name] = value
            self.source = open_source(kind, self.robot, self.camera, streams=tuple(self.streams), clock=lambda: now_s(self), **options)
            self.source.add_listener(self.bus.put_frame)
        self.create_timer(1.0, self._report)
        names = ", ".join(f"{img.input} {h.pre.output_shape} @ {h.pre.rate_hz:g} Hz" for img, h in self.inputs) or "none"
        pose = f"frame {mount.frame} at {list(mount.position)} m, rpy {[round(math.degrees(a), 1) for a in mount.rpy]} deg"
        self.get_logger().info(f"camera '{self.camera}' ({kind}, {pose}): streams {self.streams}; policy inputs: {names}")

    def _on_frame(self, frame: Frame) -> None:
        """Runs in the producer's thread (the sim thread in sim)."""
        if frame.stream not in self.streams:
            return
        with self._frame_lock:
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        with self._lock:
            self._last[frame.stream] = frame
            self.rates[frame.stream].mark(frame.stamp)
        for img, hist in self.inputs:
            if img.stream == frame.stream and hist.due(frame.stamp, self._slack[frame.stream])[0]:
                hist.push(frame.data, frame.stamp)
                tensor, shown = hist.tensor(), float(hist.shown_stamps()[0, -1])
                self.bus.put_tensor(img.input, tensor, shown)
                self.tensor_latency.add(time.monotonic() - frame.wall)
                self.tensors += 1
                if frame_due(self._published.get(f"policy:{img.input}"), frame.stamp, self.publish_rate):
                    self._published[f"policy:{img.input}"] = frame.stamp
                    enc, pixels = policy_image.newest_frame(tensor, hist.pre)
                    self.policy_image_pub[img.input].publish(array_image_msg(pixels, enc, shown, frame.frame_id))
        info = camera_info_msg(frame)
        if frame.stream == "depth":
            self.info_pub["depth"].publish(info)
        if frame_due(self._published.get(frame.stream), frame.stamp, self.publish_rate):
            self._published[frame.stream] = frame.stamp
            self.image_pub[frame.stream].publish(image_msg(frame))
            if frame.stream != "depth":
                self.info_pub[frame.stream].publish(info)
            self.publish_latency.add(time.monotonic() - frame.wall)

    def _report(self) -> None:
        now = now_s(self)
        with self._lock:
            last = dict(self._last)
        values: dict[str, object] = {"camera": self.camera, "source": self.source.kind if self.source else "sim", "tensors": self.tensors}
        level, message = "OK", "streaming"
        for s in self.streams:
            f = last.get(s)
            age = now - f.stamp if f else float("inf")
            values |= {f"{s}_frames": f.seq if f else 0, f"{s}_rate_hz": self.rates[s].rate(), f"{s}_age_s": age}
            if not age <= self.timeout:
                level, message = "ERROR", f"{s}: no frame for {age:.2f} s" if f else f"{s}: no frame yet"
        for key, stats in (("capture_to_publish", self.publish_latency), ("capture_to_tensor", self.tensor_latency)):
            values |= {f"{key}_{k}": v for k, v in stats.percentiles_ms().items()}
        values["bus_listener_errors"] = self.bus.listener_errors
        if self.source is not None:
            h = self.source.health()
            values |= {"source_errors": h.errors, "source_last_error": h.last_error or "none", "source_open": h.open}
            values |= {f"source_{k}": v for k, v in h.checks.items()}
            if not h.open and level == "OK":
                level, message = "ERROR", f"camera source closed: {h.last_error or 'not open'} (retrying)"
        if self.refusal:
            level, message = "ERROR", f"policy images refused: {self.refusal}"
        self.diag.publish(level, message, values)

    def destroy_node(self) -> None:
        self.bus.unsubscribe(self.camera, self._on_frame)
        self.bus.withdraw(self.get_fully_qualified_name(), self.camera)
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(CameraNode, args)
