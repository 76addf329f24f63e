"""Flight recorder core: MCAP files in the rosbag2 profile from raw CDR bytes; full or black-box.

No rclpy here. The recorder node (`lucid_ros.nodes.recorder`) subscribes with `raw=True` and hands
`(topic, graph time in ns, bytes)` to `Recorder.put`, which only appends to a queue: a writer
thread does the file work (chunking, zstd, flushing, fsync, ring captures), so the executor that
runs the control loop never waits on a disk.

- mode `full`: every message to one file (`McapFile`), flushed every `flush_seconds`.
- mode `ring`: the last `ring_seconds` in memory (`ring.BlackBox`); a file per safety trip.
- `reader.open_recording(path)` reads either back, including a file cut short by a crash.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path

from lucid_ros.recording.mcap_writer import McapFile, message_definition, offered_qos
from lucid_ros.recording.ring import BlackBox, RingBuffer, cdr_string, parse_event

__all__ = ["TOPICS", "Recorder", "McapFile", "BlackBox", "RingBuffer", "message_definition", "offered_qos", "cdr_string", "parse_event"]

# Every topic of the graph (README), relative so a robot namespace applies: name -> (type, latched).
# /clock is left out: under use_sim_time every message's log time already is the sim clock.
TOPICS: dict[str, tuple[str, bool]] = {
    "joint_states": ("sensor_msgs/msg/JointState", False),
    "imu/data": ("sensor_msgs/msg/Imu", False),
    "odom": ("nav_msgs/msg/Odometry", False),
    "sim/ground_truth/odom": ("nav_msgs/msg/Odometry", False),
    "cmd_vel": ("geometry_msgs/msg/Twist", False),
    "proprioception/joint_states": ("sensor_msgs/msg/JointState", False),
    "proprioception/feet": ("sensor_msgs/msg/JointState", False),
    "policy/joint_targets": ("trajectory_msgs/msg/JointTrajectory", False),
    "policy/status": ("std_msgs/msg/String", True),
    "joint_commands": ("trajectory_msgs/msg/JointTrajectory", False),
    "safety/estop": ("std_msgs/msg/Bool", False),
    "safety/event": ("std_msgs/msg/String", True),  # before safety/state: the executor then hands
    "safety/state": ("std_msgs/msg/String", True),  # the recorder the cause before the trip
    "diagnostics": ("diagnostic_msgs/msg/DiagnosticArray", False),
}

_CHANNEL = object()  # queue marker: ("channel", topic, type, qos) items travel in order with messages


class FullSink:
    """Mode `full`: everything to one file."""

    def __init__(self, path: str | Path, file_kw: dict, metadata: dict[str, str], fsync: bool = False):
        self.file = McapFile(path, **file_kw)
        self.fsync = fsync
        self.file.add_metadata("lucid_ros.run", metadata)
        self.files = [self.file.path]
        self.trips: list = []

    def add_channel(self, topic: str, type_name: str, qos: str = "") -> None:
        self.file.add_channel(topic, type_name, qos)

    def on_message(self, topic: str, t_ns: int, data: bytes) -> None:
        if self.file.has_channel(topic):
            self.file.write(topic, t_ns, data)

    def poll(self, now: float) -> None:
        pass

    def flush(self, fsync: bool = False) -> None:
        self.file.flush(fsync)

    def close(self) -> None:
        self.file.close(self.fsync)


class Recorder:
    """Thread-safe front of a sink. `put` is cheap (a deque append); files are written elsewhere.

    Bounded: when the writer falls more than `max_queue` messages behind (a disk that stalls), new
    messages are dropped and counted, rather than memory growing until the robot's computer dies.
    """

    def __init__(
        self,
        mode: str,
        path: str | Path,
        *,
        ring_seconds: float = 10.0,
        post_seconds: float = 2.0,
        flush_seconds: float = 1.0,
        chunk_size: int = 1 << 20,
        compression: str = "zstd",
        fsync: bool = False,
        max_ring_bytes: int = 256 << 20,
        max_queue: int = 200_000,
        state_topic: str = "/safety/state",
        event_topic: str = "/safety/event",
        metadata: dict[str, str] | None = None,
        log=None,
    ):
        if mode not in ("full", "ring"):
            raise ValueError(f"mode must be 'full' or 'ring', got {mode!r}")
        if flush_seconds <= 0:
            raise ValueError(f"flush_seconds must be > 0, got {flush_seconds}")
        self.mode = mode
        self.log = log or (lambda text: None)
        self.flush_seconds = float(flush_seconds)
        self.fsync = bool(fsync)
        file_kw = {"chunk_size": int(chunk_size), "compression": compression}
        meta = {"mode": mode, "started": datetime.now().isoformat(timespec="seconds"), **(metadata or {})}
        if mode == "full":
            self.sink = FullSink(path, file_kw, meta, fsync)
        else:
            self.sink = BlackBox(
                path, ring_seconds, post_seconds, state_topic, event_topic, max_ring_bytes, file_kw=file_kw, fsync=fsync, log=self.log
            )
        self.max_queue = int(max_queue)
        self._queue: deque = deque()
        self.received = 0
        self.dropped = 0
        self.processed = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recorder-{mode}", daemon=True)
        self._thread.start()

    # -- any thread --------------------------------------------------------------------------
    def add_topic(self, topic: str, type_name: str, qos: str = "") -> None:
        self._queue.append((_CHANNEL, topic, type_name, qos))

    def put(self, topic: str, t_ns: int, data: bytes) -> None:
        self.received += 1
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        self._queue.append((topic, t_ns, data))

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, finish every file (summary, footer) and stop the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self.log(f"recorder: the writer is still busy after {timeout:g} s; {len(self._queue)} messages not yet written")

    @property
    def files(self) -> list[Path]:
        return list(self.sink.files)

    @property
    def trips(self) -> list:
        return list(self.sink.trips)

    def stats(self) -> dict:
        return {
            "mode": self.mode,
            "received": self.received,
            "processed": self.processed,
            "dropped": self.dropped,
            "queued": len(self._queue),
            "files": len(self.sink.files),
            "trips": len(self.sink.trips),
            "error": self.error or "none",
        }

    # -- writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        last_flush = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            n = self._drain()
            now = time.monotonic()
            if self.error is None:
                try:
                    if now - last_flush >= self.flush_seconds:
                        self.sink.flush(self.fsync)
                        last_flush = now
                    self.sink.poll(now)
                except Exception as exc:  # noqa: BLE001 - a disk error must not kill the graph; reported in stats
                    self._fail(exc)
            if stopping and not self._queue:
                break
            if n == 0:
                time.sleep(0.01)
        try:
            self.sink.close()
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)

    def _drain(self, limit: int = 5000) -> int:
        q, sink, n = self._queue, self.sink, 0
        while q and n < limit:
            item = q.popleft()
            n += 1
            if self.error is not None:
                continue
            try:
                if item[0] is _CHANNEL:
                    sink.add_channel(*item[1:])
                else:
                    sink.on_message(*item)
                    self.processed += 1
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)
        return n

    def _fail(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        self.log(f"recording stopped: {self.error}")
