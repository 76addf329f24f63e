"""Gamepad semantics: sticks to a velocity command behind a dead-man button, buttons to safety
actions, and a lost device to a stop.

- No motion without the dead-man: every nonzero command needs it held; released, the command is
  zero at once (the same event frame), whatever the sticks say.
- Button actions fire on the press (value 1), never on the kernel's autorepeat (value 2).
  `needs_deadman` actions (stand, run, reset by default) fire only while the dead-man is held,
  so a knocked pad does not stand a robot up; damp and e-stop always fire.
- Events take effect at SYN_REPORT, as the kernel groups them. After SYN_DROPPED (the kernel lost
  events) the pad's state is unknown: the dead-man counts as released until it is pressed again.
- A lost device (unplugged, read error) is zero and a `damp` request: a robot walking on a
  command from a pad nobody can reach any more must not keep walking.
"""

from __future__ import annotations

from lucid_ros.teleop.config import GamepadConfig
from lucid_ros.teleop.evdev import EV_ABS, EV_KEY, EV_SYN, SYN_DROPPED, SYN_REPORT, AbsRange, InputEvent


def normalise(value: int, rng: AbsRange | tuple[int, int], dead_zone: float) -> float:
    """Raw axis value -> [-1, 1] about the range's centre, with a dead zone rescaled so the
    output starts at 0 at its edge (no jump) and reaches ±1 at full deflection."""
    lo, hi = (rng.minimum, rng.maximum) if isinstance(rng, AbsRange) else rng
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    x = max(-1.0, min(1.0, (value - centre) / half))
    if abs(x) <= dead_zone:
        return 0.0
    return (abs(x) - dead_zone) / (1.0 - dead_zone) * (1.0 if x > 0 else -1.0)


class Gamepad:
    def __init__(self, config: GamepadConfig, ranges: dict[int, AbsRange | tuple[int, int]] | None = None):
        """`ranges`: per axis code, what the device reported (EVIOCGABS); the YAML's `ranges`
        and `default_range` fill the rest."""
        self.config = config
        self.ranges: dict[int, AbsRange | tuple[int, int]] = {}
        for axis in config.axes.values():
            given = (ranges or {}).get(axis.code)
            self.ranges[axis.code] = given if given is not None else config.ranges.get(axis.code, config.default_range)
        self.raw: dict[int, int] = {}  # axis code -> value, as of the last SYN_REPORT
        self.deadman = False
        self.lost = ""
        self._pending: list[InputEvent] = []
        self._dropped = False

    def feed(self, events: list[InputEvent]) -> list[str]:
        """Apply events; return the safety actions they ask for, in order."""
        actions: list[str] = []
        for ev in events:
            if ev.type == EV_SYN and ev.code == SYN_DROPPED:
                self._pending.clear()
                self._dropped = True
                self.deadman = False
            elif ev.type == EV_SYN and ev.code == SYN_REPORT:
                if self._dropped:  # the frame after a drop is incomplete: skip it
                    self._dropped = False
                    self._pending.clear()
                    continue
                actions += self._apply(self._pending)
                self._pending = []
            elif ev.type in (EV_KEY, EV_ABS):
                self._pending.append(ev)
        return actions

    def _apply(self, events: list[InputEvent]) -> list[str]:
        actions = []
        for ev in events:
            if ev.type == EV_ABS:
                self.raw[ev.code] = ev.value
            elif ev.code == self.config.deadman:
                self.deadman = ev.value != 0
            elif ev.value == 1 and ev.code in self.config.buttons:
                actions.append(self.config.buttons[ev.code])
        # an action needing the dead-man fires only if it is held at the end of the frame
        return [a for a in actions if a not in self.config.needs_deadman or self.deadman]

    def command(self) -> tuple[float, float, float]:
        """(vx, vy, wz): zero unless the dead-man is held and the device is present."""
        if not self.deadman or self.lost:
            return (0.0, 0.0, 0.0)
        out = []
        for name in ("vx", "vy", "wz"):
            axis = self.config.axes.get(name)
            if axis is None or axis.code not in self.raw:
                out.append(0.0)
                continue
            v = normalise(self.raw[axis.code], self.ranges[axis.code], self.config.dead_zone) * axis.max
            out.append(-v if axis.invert else v)
        return (out[0], out[1], out[2])

    def on_lost(self, reason: str) -> list[str]:
        """The device is gone: zero from now on, and damp the robot (once)."""
        first = not self.lost
        self.lost = reason or "device lost"
        self.deadman = False
        return ["damp"] if first else []
