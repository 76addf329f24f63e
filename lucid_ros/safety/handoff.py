"""The one commander: the supervisor hands its command to the backend inside one process, not over DDS.

Any process on a robot's DDS domain can publish `joint_commands` (a forgotten test script, a
second operator laptop). So no backend obeys that topic: the safety supervisor shares a process
with the backend (the bring-up plan puts them together) and `deliver()`s each command here, and
the backend (sim bridge, robot driver) takes it from its sink. `joint_commands` on DDS is a
read-only mirror the supervisor publishes for rviz, recording and tests.

A backend still subscribes to `joint_commands` to notice intruders: every message it receives
that is not one of its own supervisor's mirrored commands (`is_own`) is foreign: ignored, counted
and reported, naming the publishing nodes the graph shows.

One hand-off per graph: `handoff_for(key, namespace)` with the graph's rclpy Context (any
weak-referenceable object) and the nodes' namespace, so two graphs in one test process (or two
robots in one process under different namespaces) never see each other's commands.
"""

from __future__ import annotations

import threading
import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterable

import numpy as np

from lucid_ros.types import JointCommand

Sink = Callable[[JointCommand], None]
OWN_KEEP = 512  # mirrored fingerprints remembered (10 s of commands at 50 Hz)


def stamp_ns(t: float) -> int:
    """A stamp in integer nanoseconds, as builtin_interfaces/Time carries it (lucid_ros.nodes.convert
    rounds to the nanosecond first the same way)."""
    return int(round(t * 1e9))


def fingerprint(mode: str, arrays: Iterable[np.ndarray], ns: int = 0) -> int:
    """A cheap identity of one command: its stamp (integer ns), mode and every value (crc32 of their
    float64 bytes).

    Computed the same way from a JointCommand the supervisor delivers and from the mirror
    message a backend decodes, so the backend recognises its supervisor's own mirror. The stamp
    is in: a foreign publisher sending the very values the supervisor sent a moment ago (passive
    zeros while it was PASSIVE) is still foreign. It is taken as the message's integer nanoseconds,
    never a float that came back through the message: a wall-clock stamp (1.8e9 s) has no
    nanosecond resolution as a float64."""
    h = zlib.crc32(mode.encode() + int(ns).to_bytes(16, "little", signed=True))
    for a in arrays:
        h = zlib.crc32(np.ascontiguousarray(a, dtype=np.float64).tobytes(), h)
    return h


def command_fingerprint(cmd: JointCommand, ns: int | None = None) -> int:
    """`ns`: the stamp as the mirror message carries it (header.stamp sec * 1e9 + nanosec); by
    default the one the supervisor's message gets (stamp_ns(cmd.stamp))."""
    return fingerprint(cmd.mode, (cmd.q, cmd.dq, cmd.tau, cmd.kp, cmd.kd), stamp_ns(cmd.stamp) if ns is None else ns)


class CommandHandoff:
    """One supervisor (source) and one backend (sink) per graph; newest command, synchronously."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sink: Sink | None = None
        self._sink_owner: str | None = None
        self._source_owner: str | None = None
        self._own: deque[int] = deque(maxlen=OWN_KEEP)
        self._own_set: set[int] = set()
        self.delivered = 0
        self.undelivered = 0  # deliveries with no backend attached (the backend damps on its own)
        self._states: list[tuple[float, str]] = []  # (tick stamp, safety state entered at it), the source's

    # ---- the safety state by tick (for a policy runner in this process) -------------------------
    def record_state(self, stamp: float, state: str) -> None:
        """Source: the supervisor entered `state` while answering the tick stamped `stamp`."""
        with self._lock:
            self._states.append((float(stamp), str(state)))

    def state_before(self, stamp: float) -> str | None:
        """The state entered at the newest transition stamped strictly before `stamp` (None: no source
        in this process, or none yet). Every such transition was made while answering an earlier
        tick, so for the tick stamped `stamp` the answer is the same whatever order the graph's
        messages arrived in; safety/state over DDS reached the policy runner a tick early or late."""
        with self._lock:
            if self._source_owner is None:
                return None
            out = None
            for t, state in self._states:
                if t < stamp - 1e-9:
                    out = state
            return out

    # ---- who is who ------------------------------------------------------------------------
    def attach_source(self, owner: str) -> None:
        """The supervisor. A second one in the same graph is a configuration error."""
        with self._lock:
            if self._source_owner is not None and self._source_owner != owner:
                raise RuntimeError(f"a second command source {owner!r} in one graph: {self._source_owner!r} already commands the backend")
            self._source_owner = owner

    def attach_sink(self, owner: str, sink: Sink) -> None:
        """The backend. A second one in the same graph is a configuration error."""
        with self._lock:
            if self._sink_owner is not None and self._sink_owner != owner:
                raise RuntimeError(f"a second backend {owner!r} in one graph: {self._sink_owner!r} already takes the commands")
            self._sink, self._sink_owner = sink, owner

    def detach(self, owner: str) -> None:
        with self._lock:
            if self._sink_owner == owner:
                self._sink, self._sink_owner = None, None
            if self._source_owner == owner:
                self._source_owner = None

    @property
    def source(self) -> str | None:
        return self._source_owner

    @property
    def sink(self) -> str | None:
        return self._sink_owner

    # ---- the path --------------------------------------------------------------------------
    def deliver(self, cmd: JointCommand) -> bool:
        """Supervisor: hand `cmd` to the backend (in the caller's thread). Remembers its fingerprint
        first, so the mirror of this command is recognised however fast DDS brings it back.
        False when no backend is attached."""
        self.remember(command_fingerprint(cmd))
        with self._lock:
            sink = self._sink
        if sink is None:
            self.undelivered += 1
            return False
        sink(cmd)
        self.delivered += 1
        return True

    def remember(self, key: int) -> None:
        with self._lock:
            if len(self._own) == self._own.maxlen:
                self._own_set.discard(self._own[0])
            self._own.append(key)
            self._own_set.add(key)

    def is_own(self, key: int) -> bool:
        """Was a command with this fingerprint delivered by this graph's supervisor (recently)?"""
        with self._lock:
            return key in self._own_set


_handoffs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_handoffs_lock = threading.Lock()


def handoff_for(key: object, namespace: str = "/") -> CommandHandoff:
    """The hand-off of the graph identified by `key` (its rclpy Context) and namespace."""
    with _handoffs_lock:
        per_ns = _handoffs.setdefault(key, {})
        return per_ns.setdefault(namespace, CommandHandoff())


FOREIGN_CAUSE = "foreign joint_commands"  # the `cause` of the safety/event a backend publishes
FOREIGN_RECENT = 5.0  # s: a backend's diagnostics stay ERROR this long after the last foreign command
LOOKUP_PERIOD = 0.5  # s between graph queries while foreign commands keep coming (a 500 Hz flood costs no more)
UNKNOWN_PUBLISHER = "an unknown node (gone from the graph, or not discovered yet)"


class ForeignCommands:
    """What a backend saw of `joint_commands` messages that were not its supervisor's mirror.

    The backend ignores them (it obeys only the hand-off); this keeps the count, the publishing
    nodes to name, and says when they changed, which is when the backend publishes a safety/event.
    Publishers are attributed by the graph's publisher list of the topic (less the supervisor),
    not per message: rclpy (Jazzy) gives a subscription callback no publisher GID."""

    def __init__(self) -> None:
        self.count = 0
        self.publishers: tuple[str, ...] = ()
        self.last_seen: float | None = None  # monotonic seconds of the newest foreign command
        self._looked_up: float | None = None  # when the publishers were last taken from the graph

    def lookup_due(self, now: float) -> bool:
        """Ask the graph who publishes? (first foreign message, then at most every LOOKUP_PERIOD)"""
        return self._looked_up is None or now - self._looked_up >= LOOKUP_PERIOD

    def observe(self, publishers: Iterable[str] | None, now: float, settled: bool = True) -> bool:
        """Count one foreign command; True when its publishers differ from the last ones reported.
        `publishers` None: not looked up for this message (a flood is counted, the graph is asked
        at most every LOOKUP_PERIOD: see `lookup_due`). `settled`: False while the graph lists a
        publisher it cannot name yet (DDS discovers an endpoint before its node's name): counted,
        reported with a later message."""
        self.count += 1
        self.last_seen = now
        if publishers is None or not settled:
            return False
        self._looked_up = now
        names = tuple(sorted(set(publishers))) or (UNKNOWN_PUBLISHER,)
        if names == self.publishers:
            return False
        self.publishers = names
        return True

    def named(self) -> str:
        return ", ".join(self.publishers)

    def problem(self, now: float) -> str | None:
        """An operator's message while foreign commands are recent (None otherwise)."""
        if self.last_seen is None or now - self.last_seen > FOREIGN_RECENT:
            return None
        return (f"{self.count} foreign joint_commands ignored, published by {self.named()}: the backend obeys only the "
                f"safety supervisor in its own process; stop that publisher")  # fmt: skip
