"""Black-box mode: the last N seconds in memory, written to a file when safety trips.

The ring holds the CDR bytes as they arrived (nothing is decoded except the two small safety
topics that decide when to write). When `safety/state` changes into DAMPING or ESTOP, a capture
opens a file named for the wall time, the graph time and the cause, writes the ring's contents
(the seconds before the trip, and the trip itself) and flushes at once, so the pre-trip history is
on disk before anything else can go wrong; it then keeps appending live messages until
`post_seconds` of graph time after the trip and closes the file.

What is never lost:
- a full ring: the ring is bounded by time and by bytes and drops its *oldest* messages; the
  trip and what follows go to the capture file directly, not through the ring. The newest message
  of every topic that left the window is kept, so a file starts with the last known value of
  slow and latched topics (policy/status, safety/state, cmd_vel) even when it is older than the
  window.
- a second trip: every trip opens its own capture; captures run side by side, each fed with every
  message, so a DAMPING followed by an ESTOP 0.3 s later gives two files, the second one holding
  the first trip too.
- a stalled graph: if the graph clock stops (no message advances it for `stall_seconds` of wall
  time) or the recorder is closed, open captures are finished with what they have.
"""

from __future__ import annotations

import re
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lucid_ros.recording.mcap_writer import McapFile
from lucid_ros.safety.states import TRIPS, Event

TRIP_STATES = TRIPS


def cdr_string(raw: bytes) -> str:
    """The `data` of a CDR-encoded std_msgs/String: encapsulation header (byte 1 odd = little
    endian), uint32 length including the NUL, the bytes."""
    if len(raw) < 8:
        return ""
    (n,) = struct.unpack_from("<I" if raw[1] & 1 else ">I", raw, 4)
    return bytes(raw[8 : 8 + n]).rstrip(b"\0").decode("utf-8", "replace")


@dataclass(frozen=True)
class SafetyEvent:
    """One `safety/event` text: `<time> <FROM> -> <TO>: <cause> (<detail>)`."""

    time: float
    src: str
    dst: str
    cause: str
    detail: str
    text: str


def parse_event(text: str) -> SafetyEvent | None:
    """A `safety/event` text as the recorder keeps it (lucid_ros.safety.states.Event.parse parses)."""
    ev = Event.parse(text)
    if ev is None:
        return None
    return SafetyEvent(ev.time, ev.from_state.value, ev.to_state.value, ev.cause, ev.detail, text)


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe form of a cause: 'stale joint_states (0.2 s)' -> 'stale_joint_states_0.2_s'."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")
    return (s[:limit].rstrip("_.") or "unknown").lower()


class RingBuffer:
    """The last `seconds` of messages (by log time), at most `max_bytes` of payload."""

    def __init__(self, seconds: float, max_bytes: int = 256 << 20):
        if seconds <= 0:
            raise ValueError(f"ring_seconds must be > 0, got {seconds}")
        self.window_ns = int(seconds * 1e9)
        self.max_bytes = int(max_bytes)
        self._items: deque[tuple[str, int, bytes]] = deque()
        self._before: dict[str, tuple[str, int, bytes]] = {}  # newest message per topic that left the window
        self.bytes = 0
        self.newest_ns = 0
        self.dropped_for_size = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, topic: str, t_ns: int, data: bytes) -> None:
        if self._items and t_ns < self.newest_ns - self.window_ns:
            self.clear()  # the clock went back by more than the window (a new sim): start over
        self._items.append((topic, t_ns, data))
        self.bytes += len(data)
        self.newest_ns = max(self.newest_ns, t_ns)
        horizon = self.newest_ns - self.window_ns
        items = self._items
        while items and (items[0][1] < horizon or (self.bytes > self.max_bytes and len(items) > 1)):
            old = items.popleft()
            self.bytes -= len(old[2])
            if old[1] >= horizon:
                self.dropped_for_size += 1
            self._before[old[0]] = old

    def snapshot(self) -> list[tuple[str, int, bytes]]:
        """Everything a file written now should hold, oldest first."""
        return sorted(self._before.values(), key=lambda m: m[1]) + list(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._before.clear()
        self.bytes = 0
        self.newest_ns = 0


@dataclass
class Trip:
    t_ns: int
    state: str
    cause: str
    event: str
    wall: float = field(default_factory=time.time)


class Capture:
    """One trip's file: the ring's snapshot, then live messages until trip + post_seconds."""

    def __init__(self, trip: Trip, path: Path, channels: dict, snapshot: list, post_ns: int, file_kw: dict, now: float):
        self.trip = trip
        self.cause_known = bool(trip.event)
        self.file = McapFile(path, **file_kw)
        for topic, (type_name, qos) in channels.items():
            self.file.add_channel(topic, type_name, qos)
        for topic, t_ns, data in snapshot:
            if self.file.has_channel(topic):
                self.file.write(topic, t_ns, data)
        self.end_ns = trip.t_ns + post_ns
        self.newest_ns = trip.t_ns
        self.last_advance = now  # wall time the graph clock last moved forward

    def write(self, topic: str, t_ns: int, data: bytes, now: float) -> None:
        if self.file.has_channel(topic):
            self.file.write(topic, t_ns, data)
        if t_ns > self.newest_ns:  # wall-timer diagnostics keep coming when the sim stops: not progress
            self.newest_ns = t_ns
            self.last_advance = now

    def learn(self, ev: SafetyEvent, name) -> None:
        """The event naming the cause came after the state: rename the (open) file to say it."""
        if self.cause_known or ev.dst != self.trip.state or abs(ev.time * 1e9 - self.trip.t_ns) > 1e9:
            return
        self.cause_known = True
        self.trip.cause, self.trip.event = ev.cause or self.trip.cause, ev.text
        target = BlackBox._unique(self.file.path.with_name(name(self.trip)))
        self.file.path.rename(target)  # POSIX: the open descriptor follows the file
        self.file.path = target

    def finish(self, fsync: bool) -> None:
        t = self.trip
        self.file.add_metadata(
            "lucid_ros.trip",
            {
                "graph_time_s": f"{t.t_ns * 1e-9:.3f}",
                "state": t.state,
                "cause": t.cause,
                "event": t.event,
                "wall_time": datetime.fromtimestamp(t.wall).isoformat(timespec="seconds"),
            },
        )
        self.file.close(fsync)


class BlackBox:
    """Ring + trip detection + captures. Single-threaded: the recorder's writer thread drives it."""

    def __init__(
        self,
        directory: str | Path,
        ring_seconds: float = 10.0,
        post_seconds: float = 2.0,
        state_topic: str = "/safety/state",
        event_topic: str = "/safety/event",
        max_bytes: int = 256 << 20,
        stall_seconds: float = 1.0,
        file_kw: dict | None = None,
        fsync: bool = False,
        clock=time.monotonic,
        log=None,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ring = RingBuffer(ring_seconds, max_bytes)
        self.post_ns = int(post_seconds * 1e9)
        self.state_topic, self.event_topic = state_topic, event_topic
        self.stall_seconds = stall_seconds
        self.file_kw = file_kw or {}
        self.fsync = fsync
        self.clock = clock
        self.log = log or (lambda text: None)
        self.channels: dict[str, tuple[str, str]] = {}
        self.open: list[Capture] = []
        self.files: list[Path] = []
        self.trips: list[Trip] = []
        self.state: str | None = None
        self._events: deque[SafetyEvent] = deque(maxlen=8)

    def add_channel(self, topic: str, type_name: str, qos: str = "") -> None:
        self.channels[topic] = (type_name, qos)
        for cap in self.open:
            cap.file.add_channel(topic, type_name, qos)

    def on_message(self, topic: str, t_ns: int, data: bytes) -> None:
        now = self.clock()
        self.ring.push(topic, t_ns, data)
        for cap in self.open:
            cap.write(topic, t_ns, data, now)
        if topic == self.event_topic:
            ev = parse_event(cdr_string(data))
            if ev is not None:
                self._events.append(ev)
                for cap in self.open:
                    cap.learn(ev, self._name)
        elif topic == self.state_topic:
            state = cdr_string(data)
            previous, self.state = self.state, state
            if previous is not None and state != previous and state in TRIP_STATES:
                self._trip(t_ns, state, now)
        self._finish(lambda cap: t_ns >= cap.end_ns)

    def _trip(self, t_ns: int, state: str, now: float) -> None:
        # The supervisor publishes the event before the state: the newest event into this state,
        # from about now (not one left over from an earlier trip into the same state).
        ev = next((e for e in reversed(self._events) if e.dst == state and abs(e.time * 1e9 - t_ns) <= 1e9), None)
        cause = ev.cause if ev and ev.cause else state.lower()
        trip = Trip(t_ns, state, cause, ev.text if ev else "")
        self.trips.append(trip)
        path = self._unique(self.directory / self._name(trip))
        try:
            cap = Capture(trip, path, self.channels, self.ring.snapshot(), self.post_ns, self.file_kw, now)
            cap.file.flush(self.fsync)
            self.open.append(cap)
            self.log(f"safety tripped to {state} ({cause}) at t={t_ns * 1e-9:.3f} s: writing {path}")
        except OSError as exc:
            self.log(f"safety tripped to {state} ({cause}) but {path} could not be written: {exc}")

    @staticmethod
    def _name(trip: Trip) -> str:
        stamp = datetime.fromtimestamp(trip.wall).strftime("%Y%m%d-%H%M%S")
        return f"blackbox_{stamp}_t{trip.t_ns * 1e-9:.2f}s_{trip.state}_{slug(trip.cause)}.mcap"

    @staticmethod
    def _unique(path: Path) -> Path:
        n, out = 1, path
        while out.exists():
            n += 1
            out = path.with_name(f"{path.stem}-{n}{path.suffix}")
        return out

    def _finish(self, done) -> None:
        for cap in [c for c in self.open if done(c)]:
            self.open.remove(cap)
            cap.finish(self.fsync)
            self.files.append(cap.file.path)
            self.log(f"black box written: {cap.file.path} ({sum(cap.file.counts.values())} messages)")

    def poll(self, now: float) -> None:
        """Finish captures whose graph clock stopped (it did not advance for stall_seconds of wall time)."""
        self._finish(lambda cap: now - cap.last_advance >= self.stall_seconds)

    def flush(self, fsync: bool = False) -> None:
        for cap in self.open:
            cap.file.flush(fsync)

    def close(self) -> None:
        self._finish(lambda cap: True)
