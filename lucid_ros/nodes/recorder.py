"""recorder: the flight recorder. Subscribes with `raw=True` (the CDR bytes, never deserialised)
and hands each message to lucid_ros.recording.Recorder, whose writer thread writes MCAP in the
rosbag2 profile — every message to one file (`mode: full`) or the last `ring_seconds` in memory and
a file per safety trip (`mode: ring`). See docs/recording.md.

Log time is the message's receive time on this node's clock: the sim clock under `use_sim_time`
(in `lucid-ros sim`), wall time on a robot. The node does no file I/O in its callbacks.

Parameters: `mode` (full | ring), `path` (full: the .mcap file, required; ring: the directory,
default `blackbox`), `ring_seconds` (10), `post_trip_seconds` (2), `flush_seconds` (1),
`chunk_size_kb` (1024), `compression` (zstd | lz4 | none), `fsync` (false), `max_ring_mb` (256),
`topics` (names or fnmatch patterns, relative to the namespace; default: every topic of the graph),
`exclude` (patterns; default /clock), `run_info` (free text kept in the file's metadata).
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import time

from rclpy.clock import Clock, ClockType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from lucid_ros.diagnostics import ERROR, WARN, NodeHealth, Problem
from lucid_ros.errors import ConfigError
from lucid_ros.nodes.common import Diagnostics, GraphNode, param
from lucid_ros.recording import TOPICS, Recorder, offered_qos

# The recorder's own subscription profiles (lucid_ros.nodes.qos holds the publishers'): deeper than
# STATE so a busy executor never makes it skip a message; transient-local for latched topics so
# the current safety state and policy status are in the file even if published before it started.
RECORD = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
RECORD_LATCHED = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
RECORD_BEST_EFFORT = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


def message_class(type_name: str):
    """'sensor_msgs/msg/JointState' -> the rclpy message class (for its type support only)."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


class RecorderNode(GraphNode):
    def __init__(self, node_name: str = "recorder", **kwargs):
        super().__init__(node_name, **kwargs)
        mode = param(self, "mode", "full")
        if mode not in ("full", "ring"):
            raise ConfigError(None, f"{node_name}.mode", f"must be 'full' or 'ring', got {mode!r}")
        path = param(self, "path", "" if mode == "full" else "blackbox")
        if not path:
            raise ConfigError(None, f"{node_name}.path", "required in mode 'full': the .mcap file to write")
        self.patterns = list(param(self, "topics", list(TOPICS)))
        self.exclude = list(param(self, "exclude", ["/clock"]))
        state_topic, event_topic = self.resolve_topic_name("safety/state"), self.resolve_topic_name("safety/event")
        options = {
            "ring_seconds": float(param(self, "ring_seconds", 10.0)),
            "post_seconds": float(param(self, "post_trip_seconds", 2.0)),
            "flush_seconds": float(param(self, "flush_seconds", 1.0)),
            "chunk_size": int(param(self, "chunk_size_kb", 1024)) * 1024,
            "compression": param(self, "compression", "zstd"),
            "fsync": bool(param(self, "fsync", False)),
            "max_ring_bytes": int(param(self, "max_ring_mb", 256)) << 20,
            "metadata": {"node": self.get_fully_qualified_name(), "run_info": param(self, "run_info", "")},
        }
        try:
            self.recorder = Recorder(
                mode, path, state_topic=state_topic, event_topic=event_topic, log=lambda text: self.get_logger().info(text), **options
            )
        except (ValueError, KeyError, OSError) as exc:
            raise ConfigError(path, node_name, f"cannot record: {exc}") from exc
        self._clock = self.get_clock()
        self.health = NodeHealth(node_name, started=time.monotonic())  # wall clock: the recorder must report when the sim stops
        self.health.fault("dropped", WARN, "the writer cannot keep up and dropped messages: a slow disk? try compression lz4 or none")
        self.subscribed: dict[str, str] = {}
        self._subs: dict = {}
        wanted = [self._resolve(p) for p in self.patterns]
        if mode == "ring":  # trip detection needs these whatever the topic list says
            wanted += [t for t in (state_topic, event_topic) if t not in wanted]
        for name, (type_name, latched) in TOPICS.items():
            topic = self.resolve_topic_name(name)
            if any(fnmatch.fnmatchcase(topic, w) for w in wanted) and not self._excluded(topic):
                self._subscribe(topic, type_name, latched=latched, best_effort=False)
        self._pending = [p for p in wanted if p not in self.subscribed]
        steady = Clock(clock_type=ClockType.STEADY_TIME)  # wall timers: they must run when the sim clock stops
        if self._pending:
            self._discover()
            self.create_timer(1.0, self._discover, clock=steady)
        self.diag = Diagnostics(self)
        self.create_timer(1.0, self._report, clock=steady)
        where = path if mode == "full" else f"{path}/ on DAMPING/ESTOP (last {options['ring_seconds']:g} s + {options['post_seconds']:g} s after)"
        self.get_logger().info(f"recording {len(self.subscribed)} topics ({mode}) to {where}")

    def _resolve(self, pattern: str) -> str:
        if any(c in pattern for c in "*?["):
            return pattern if pattern.startswith("/") else self.resolve_topic_name("x")[:-1] + pattern
        return self.resolve_topic_name(pattern)

    def _excluded(self, topic: str) -> bool:
        return any(fnmatch.fnmatchcase(topic, self._resolve(p)) for p in self.exclude)

    def _subscribe(self, topic: str, type_name: str, latched: bool, best_effort: bool) -> None:
        profile = RECORD_BEST_EFFORT if best_effort else (RECORD_LATCHED if latched else RECORD)
        self.recorder.add_topic(topic, type_name, offered_qos(reliable=not best_effort, transient_local=latched))
        self._subs[topic] = self.create_subscription(message_class(type_name), topic, functools.partial(self._on_raw, topic), profile, raw=True)
        self.subscribed[topic] = type_name
        self.health.input(topic, None, None, "", required=False)  # rates are shown, not judged: any topic may be quiet

    def _on_raw(self, topic: str, raw: bytes) -> None:
        self.recorder.put(topic, self._clock.now().nanoseconds, raw)
        self.health.seen(topic, time.monotonic())

    def _discover(self) -> None:
        """Topics named by pattern or missing from the table: subscribe once a publisher shows
        its type, with its reliability and durability."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self.subscribed or self._excluded(topic) or len(types) != 1:
                continue
            if not any(fnmatch.fnmatchcase(topic, p) for p in self._pending):
                continue
            pubs = self.get_publishers_info_by_topic(topic)
            best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in pubs)
            latched = bool(pubs) and all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in pubs)
            try:
                self._subscribe(topic, types[0], latched, best_effort)
                self.get_logger().info(f"recording {topic} ({types[0]})")
            except (ImportError, AttributeError, ValueError) as exc:
                self.get_logger().warning(f"cannot record {topic}: {exc}", throttle_duration_sec=60.0)

    def wait_matched(self, timeout: float = 3.0, settle: float = 0.2) -> list[str]:
        """Block until every subscribed topic is matched to all its publishers and the set of
        publishers has not grown for `settle` s (discovery is asynchronous), so a graph started
        next loses none of its first messages. Returns the topics still unmatched."""
        start = time.monotonic()
        known, stable_since = -1, start
        while True:
            now = time.monotonic()
            counts = {t: self.count_publishers(t) for t in self._subs}
            if sum(counts.values()) != known:
                known, stable_since = sum(counts.values()), now
            late = [t for t, sub in self._subs.items() if sub.get_publisher_count() < counts[t]]
            if (not late and now - stable_since >= settle) or now - start > timeout:
                return late
            time.sleep(0.01)

    def _report(self) -> None:
        s = self.recorder.stats()
        self.health.set_count("dropped", s.pop("dropped"))
        extra = [Problem(ERROR, f"recording stopped: {self.recorder.error}: check the disk (space, permissions) and restart")] if self.recorder.error else []
        ok = f"{s['mode']}: {s['processed']} messages, {s['files']} file(s)"
        self.diag.report(self.health.evaluate(time.monotonic(), extra, ok, values={**s, "topics": len(self.subscribed)}))

    def destroy_node(self) -> None:
        """Finish the files (summary and footer) before the node goes."""
        self.recorder.close()
        for path in self.recorder.files:
            self.get_logger().info(f"recording written: {path}")
        super().destroy_node()


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_single

    spin_single(RecorderNode, args)


if __name__ == "__main__":  # python -m lucid_ros.nodes.recorder --ros-args -p path:=run.mcap
    main()
