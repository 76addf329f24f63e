"""In-process hand-off of camera frames and preprocessed tensors (no DDS on the image path).

Large images over DDS drop frames (docs: environment.md), so the camera -> policy path stays in
one process: a source (the sim bridge's renderer, later a RealSense reader thread) puts frames
here, the camera node preprocesses them, and the policy runner takes the newest tensor. Only
small messages (camera_info) and operator images at a low rate go over ROS.

Latest-value semantics: a consumer always gets the newest frame or tensor, never a queue.
Frame listeners run synchronously in the producer's thread, so in the lockstep sim a tensor is in
place before the tick it belongs to is published (the run stays deterministic). A listener that
raises is counted and logged on the bus, never propagated into the producer (the sim thread).

One bus per graph: `bus_for(key)` with the graph's rclpy Context (any weak-referenceable object),
so two SimGraphs in one test process never see each other's frames.
"""

from __future__ import annotations

import threading
import traceback
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lucid_ros.vision.sources import Frame

FrameListener = Callable[[Frame], None]


@dataclass(frozen=True)
class ImageTensor:
    """A preprocessed network input: (1, stack * C, h, w) float32 and where it came from."""

    name: str  # the ONNX input
    data: np.ndarray
    stamp: float  # capture time of the newest frame the tensor holds (graph clock)
    seq: int  # 1, 2, ... per input: a new value is a new tensor


class VisionBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: dict[tuple[str, str], Frame] = {}
        self._listeners: dict[str, list[FrameListener]] = {}
        self._tensors: dict[str, ImageTensor] = {}
        self._requests: dict[tuple[str, str], frozenset[str]] = {}
        self._scans: dict[str, np.ndarray] = {}
        self.listener_errors = 0
        self.last_listener_error = ""

    # ---- frames -------------------------------------------------------------------------------
    def put_frame(self, frame: Frame) -> None:
        """Store as the newest frame of (camera, stream) and hand it to that camera's listeners."""
        with self._lock:
            self._frames[(frame.camera, frame.stream)] = frame
            listeners = list(self._listeners.get(frame.camera, ()))
        for fn in listeners:
            try:
                fn(frame)
            except Exception:  # noqa: BLE001 - a consumer's bug must not stop the producer (the sim thread)
                with self._lock:
                    self.listener_errors += 1
                    self.last_listener_error = traceback.format_exc(limit=3)

    def frame(self, camera: str, stream: str) -> Frame | None:
        with self._lock:
            return self._frames.get((camera, stream))

    def subscribe(self, camera: str, fn: FrameListener) -> None:
        with self._lock:
            self._listeners.setdefault(camera, []).append(fn)

    def unsubscribe(self, camera: str, fn: FrameListener) -> None:
        with self._lock:
            fns = self._listeners.get(camera, [])
            if fn in fns:
                fns.remove(fn)

    # ---- which streams anyone consumes (a source renders or enables only these) ---------------
    def request(self, consumer: str, camera: str, streams: Iterable[str]) -> None:
        with self._lock:
            self._requests[(consumer, camera)] = frozenset(streams)

    def withdraw(self, consumer: str, camera: str) -> None:
        with self._lock:
            self._requests.pop((consumer, camera), None)

    def requested(self, camera: str) -> frozenset[str]:
        with self._lock:
            out: set[str] = set()
            for (_, cam), streams in self._requests.items():
                if cam == camera:
                    out |= streams
            return frozenset(out)

    # ---- privileged terrain scans (sim only: lucid_ros.policy.privileged) ------------------------
    def request_scan(self, name: str, offsets: np.ndarray) -> None:
        """Ask the simulator for tensor `name`: base height above the terrain at yaw-frame offsets (N, 2)."""
        with self._lock:
            self._scans[name] = np.array(offsets, dtype=np.float64).reshape(-1, 2)

    def scan_requests(self) -> dict[str, np.ndarray]:
        with self._lock:
            return dict(self._scans)

    # ---- tensors ------------------------------------------------------------------------------
    def put_tensor(self, name: str, data: np.ndarray, stamp: float) -> ImageTensor:
        """Publish a new tensor for input `name`; the caller must not modify `data` afterwards."""
        with self._lock:
            prev = self._tensors.get(name)
            t = ImageTensor(name, data, float(stamp), (prev.seq + 1) if prev else 1)
            self._tensors[name] = t
            return t

    def tensor(self, name: str) -> ImageTensor | None:
        with self._lock:
            return self._tensors.get(name)

    def images(self, names: Iterable[Any]) -> dict[str, np.ndarray] | None:
        """{input: array} for the policy, or None while any input has no tensor yet. Accepts input
        names or the spec's ImageInput entries (anything with `.input`)."""
        out = {}
        with self._lock:
            for n in names:
                key = getattr(n, "input", n)
                t = self._tensors.get(key)
                if t is None:
                    return None
                out[key] = t.data
        return out

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._tensors.clear()


_BUSES: weakref.WeakKeyDictionary[Any, VisionBus] = weakref.WeakKeyDictionary()
_BUSES_LOCK = threading.Lock()


def bus_for(key: Any) -> VisionBus:
    """The bus of one graph, created on first use and dropped with its key (an rclpy Context)."""
    with _BUSES_LOCK:
        bus = _BUSES.get(key)
        if bus is None:
            bus = _BUSES[key] = VisionBus()
        return bus
