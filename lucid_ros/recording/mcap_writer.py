"""MCAP files in the rosbag2 profile, written from the CDR bytes a subscription took off the wire.

Why the plain `mcap` writer and not `mcap_ros2.writer` or `rosbags`: both of those serialise
Python message objects, and the recorder never has objects — it subscribes with `raw=True` and
holds the CDR bytes exactly as DDS delivered them, so nothing is deserialised or re-encoded.
`mcap` gives chunking, zstd, message indexes and the summary; this module adds what makes the
file a rosbag2 file that `ros2 bag`, Foxglove, rosbags and mcap_ros2 read:
- header profile `ros2`;
- one schema per type, encoding `ros2msg`, named `pkg/msg/Type`, holding the *complete* .msg
  definition (the type's text, then each dependency after a line of 80 `=` and `MSG: pkg/msg/Type`,
  as rosbag2's docs/message_definition_encoding.md specifies);
- channels with message encoding `cdr` and the `offered_qos_profiles` metadata rosbag2 uses at
  playback (so latched topics replay latched).

The .msg texts come from the interface packages' `share/<pkg>/msg/` folders, which both a ROS
install (found through AMENT_PREFIX_PATH) and the ros-jazzy-* PyPI wheels (under sys.prefix)
ship: they are the definitions of exactly the types rclpy serialised. No rclpy import here.

Durability: the writer finishes the open chunk and flushes it to the OS on `flush()` (the recorder
calls it every `flush_seconds` and whenever a chunk fills). A process killed with SIGKILL loses at
most what arrived since the last flush; everything before it is whole chunks a streaming reader
(and `lucid_ros.recording.reader`) reads. With `fsync=True` it also survives power loss.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
from collections import Counter
from pathlib import Path

from mcap.writer import CompressionType, Writer

PRIMITIVES = frozenset("bool byte char float32 float64 int8 uint8 int16 uint16 int32 uint32 int64 uint64 string wstring".split())
DELIMITER = "=" * 80
PROFILE = "ros2"
LIBRARY = "lucid_ros recorder"
_ARRAY = re.compile(r"\[[^\]]*\]$")
_INFINITE = {"sec": 9223372036, "nsec": 854775807}  # rmw's "infinite" duration, as rosbag2 writes it


def share_dirs() -> list[Path]:
    """Where interface packages keep their .msg files: every AMENT_PREFIX_PATH entry, then this
    Python's prefix (the PyPI wheels install share/ there)."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes += [sys.prefix, sysconfig.get_paths()["data"]]
    out: list[Path] = []
    for prefix in prefixes:
        share = Path(prefix) / "share"
        if share not in out and share.is_dir():
            out.append(share)
    return out


def _msg_text(package: str, name: str) -> str | None:
    for share in share_dirs():
        path = share / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def _dependencies(text: str, package: str) -> list[tuple[str, str]]:
    """(package, Type) of every non-primitive field type in a .msg text, in order."""
    deps = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        base = _ARRAY.sub("", line.split()[0]).split("<=", 1)[0]
        if base in PRIMITIVES:
            continue
        if "/" in base:
            parts = base.split("/")
            dep = (parts[0], parts[-1])
        elif base == "Header":
            dep = ("std_msgs", "Header")
        else:
            dep = (package, base)
        if dep not in deps:
            deps.append(dep)
    return deps


def split_type(type_name: str) -> tuple[str, str]:
    """'sensor_msgs/msg/JointState' or 'sensor_msgs/JointState' -> ('sensor_msgs', 'JointState')."""
    parts = type_name.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"not a ROS message type name: {type_name!r} (expected pkg/msg/Type)")
    return parts[0], parts[-1]


@functools.cache
def message_definition(type_name: str) -> str:
    """The complete ros2msg definition of `type_name`, or '' if any part of it is not installed
    (an incomplete definition is worse than none: decoders would fail on it later)."""
    package, name = split_type(type_name)
    root = _msg_text(package, name)
    if root is None:
        return ""
    parts = [root.strip()]
    seen = {(package, name)}
    queue = _dependencies(root, package)
    while queue:
        dep = queue.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = _msg_text(*dep)
        if text is None:
            return ""
        parts.append(f"{DELIMITER}\nMSG: {dep[0]}/msg/{dep[1]}\n{text.strip()}")
        queue.extend(_dependencies(text, dep[0]))
    return "\n".join(parts) + "\n"


def offered_qos(reliable: bool = True, transient_local: bool = False, depth: int = 10) -> str:
    """The `offered_qos_profiles` channel metadata (rosbag2's YAML, v9 spelling) for one publisher."""
    inf = f"{{sec: {_INFINITE['sec']}, nsec: {_INFINITE['nsec']}}}"
    return (
        f"- history: keep_last\n  depth: {int(depth)}\n"
        f"  reliability: {'reliable' if reliable else 'best_effort'}\n"
        f"  durability: {'transient_local' if transient_local else 'volatile'}\n"
        f"  deadline: {inf}\n  lifespan: {inf}\n  liveliness: automatic\n"
        f"  liveliness_lease_duration: {inf}\n  avoid_ros_namespace_conventions: false"
    )


class McapFile:
    """One MCAP file being written. Not thread-safe: one thread owns it (the recorder's writer)."""

    def __init__(self, path: str | Path, chunk_size: int = 1 << 20, compression: str = "zstd", library: str = LIBRARY):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(self.path, "wb")  # noqa: SIM115 - closed in close(); lives as long as the recording
        kind = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}[compression]
        self._writer = Writer(self._stream, chunk_size=chunk_size, compression=kind)
        if not hasattr(self._writer, "flush"):
            raise RuntimeError("mcap >= 1.6 is needed (Writer.flush); pip install -U mcap")
        self._writer.start(profile=PROFILE, library=library)
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.counts: Counter[str] = Counter()
        self.bytes_written = 0
        self.missing_definitions: list[str] = []
        self.closed = False

    def add_channel(self, topic: str, type_name: str, qos: str = "") -> None:
        """Register a topic once (idempotent). Channels of silent topics still appear in the file."""
        if topic in self._channels:
            return
        if type_name not in self._schemas:
            text = message_definition(type_name)
            if text:
                self._schemas[type_name] = self._writer.register_schema(type_name, "ros2msg", text.encode())
            else:  # rosbag2 does the same: the type name without a definition
                self.missing_definitions.append(type_name)
                self._schemas[type_name] = self._writer.register_schema(type_name, "", b"")
        metadata = {"offered_qos_profiles": qos} if qos else {}
        self._channels[topic] = self._writer.register_channel(topic, "cdr", self._schemas[type_name], metadata)

    def has_channel(self, topic: str) -> bool:
        return topic in self._channels

    def write(self, topic: str, log_ns: int, data: bytes) -> None:
        """One message. publish_time = log_time: a single time base (the graph clock) per file."""
        self._writer.add_message(self._channels[topic], log_ns, data, publish_time=log_ns, sequence=self.counts[topic])
        self.counts[topic] += 1
        self.bytes_written += len(data)

    def add_metadata(self, name: str, values: dict[str, str]) -> None:
        self._writer.add_metadata(name, {str(k): str(v) for k, v in values.items()})

    def flush(self, fsync: bool = False) -> None:
        """Close the open chunk and hand every byte to the OS (and to the disk with fsync)."""
        self._writer.flush()
        if fsync:
            os.fsync(self._stream.fileno())

    def close(self, fsync: bool = False) -> None:
        """Write the summary (indexes, statistics) and the footer. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.finish()
            self._stream.flush()
            if fsync:
                os.fsync(self._stream.fileno())
        finally:
            self._stream.close()
