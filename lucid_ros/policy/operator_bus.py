"""The automatic operator's velocity command, handed to the policy runner in-process, per tick.

In a lockstep sim run the run monitor is the operator (forward at a fixed speed, steered to the
course line from ground truth). Over DDS its cmd_vel reached the runner at whichever tick delivery
order allowed, so two runs of a seed commanded different ticks differently and ended apart. Here
the sim thread puts the command for tick t before tick t's sensors go out (as the vision bus does
with camera tensors and privileged scans), and the runner takes the command keyed by its tick's
stamp: a function of sim time alone.

A human operator (teleop, `ros2 topic pub cmd_vel`) still goes over DDS: the runner uses this bus
only while the automatic operator is the only cmd_vel publisher it sees.

One bus per graph (`operator_bus_for(context)`), latest values only (a few ticks are kept).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from lucid_ros.vision.bus import bus_for

KEEP = 16  # ticks of commands kept: the runner asks for the tick it is on, a tick or two behind at most


class OperatorBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: dict[int, np.ndarray] = {}
        self.operator: str | None = None  # the automatic operator's node name (None: none in this graph)

    def attach(self, node_name: str) -> None:
        with self._lock:
            self.operator = node_name

    def put(self, stamp: float, command) -> None:
        """The command (vx, vy, wz) for the tick stamped `stamp` (sim thread, before the tick goes out)."""
        with self._lock:
            self._commands[_ns(stamp)] = np.asarray(command, dtype=float).copy()
            if len(self._commands) > KEEP:
                for k in sorted(self._commands)[:-KEEP]:
                    del self._commands[k]

    def command_at(self, stamp: float) -> np.ndarray | None:
        with self._lock:
            c = self._commands.get(_ns(stamp))
            return None if c is None else c.copy()


def _ns(t: float) -> int:
    return int(round(t * 1e9))


_LOCK = threading.Lock()


def operator_bus_for(key: Any) -> OperatorBus:
    """The bus of one graph (key: its rclpy Context), kept on the graph's vision bus so it lives
    and dies with it (lucid_ros.vision.bus.bus_for)."""
    vision = bus_for(key)
    with _LOCK:
        bus = getattr(vision, "operator_bus", None)
        if bus is None:
            bus = vision.operator_bus = OperatorBus()
        return bus
