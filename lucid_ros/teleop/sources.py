"""Where teleop input comes from, polled from the node's timer (no threads): a gamepad's evdev
device or a terminal's stdin. Each poll returns a `Tick`; `CmdGate` decides what goes on cmd_vel.
"""

from __future__ import annotations

import os
import select
from dataclasses import dataclass, field

from lucid_ros.teleop.config import GamepadConfig, KeyboardConfig
from lucid_ros.teleop.evdev import DeviceLost, EvdevReader, query_abs
from lucid_ros.teleop.gamepad import Gamepad
from lucid_ros.teleop.keyboard import Keyboard, key_names

ZERO = (0.0, 0.0, 0.0)


@dataclass
class Tick:
    cmd: tuple[float, float, float] = ZERO
    actions: list[str] = field(default_factory=list)
    active: bool = False  # the operator is commanding (dead-man held / a motion key alive)
    lost: str = ""  # set once, on the tick the device was lost


class GamepadSource:
    def __init__(self, path: str, config: GamepadConfig):
        self.path = path
        self.reader = EvdevReader.open(path)
        ranges = {a.code: r for a in config.axes.values() if (r := query_abs(self.reader.fd, a.code)) is not None}
        self.reported = sorted(ranges)  # axes whose range came from the device
        self.pad = Gamepad(config, ranges)

    def poll(self, now: float) -> Tick:
        if self.pad.lost:
            return Tick()
        try:
            actions = self.pad.feed(self.reader.read())
        except DeviceLost as exc:
            return Tick(actions=self.pad.on_lost(f"{self.path}: {exc.strerror or exc}"), lost=self.pad.lost)
        return Tick(self.pad.command(), actions, self.pad.deadman)

    def close(self) -> None:
        self.reader.close()


class KeyboardSource:
    """Reads whatever bytes are waiting on `fd` (a terminal in raw mode, or a pipe in tests)."""

    def __init__(self, fd: int, config: KeyboardConfig):
        self.fd = fd
        self.keys = Keyboard(config)
        self.closed = False

    def poll(self, now: float) -> Tick:
        actions: list[str] = []
        while not self.closed and select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 64)
            if not data:  # stdin closed: stop, and let the node quit
                self.closed = True
                self.keys.stop()
                actions.append("quit")
                break
            actions += self.keys.feed(key_names(data), now)
        cmd = self.keys.command(now)
        return Tick(cmd, actions, any(v != 0.0 for v in cmd))

    def close(self) -> None:
        pass


class CmdGate:
    """Publish while the operator commands; then `zero_repeats` zero twists, then stay silent,
    so an idle teleop does not hold down every other cmd_vel source on the graph."""

    def __init__(self, zero_repeats: int = 3):
        self.zero_repeats = zero_repeats
        self._zeros_left = 0

    def __call__(self, tick: Tick) -> tuple[float, float, float] | None:
        if tick.active:
            self._zeros_left = self.zero_repeats
            return tick.cmd
        if self._zeros_left > 0:
            self._zeros_left -= 1
            return ZERO
        return None
