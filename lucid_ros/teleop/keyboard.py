"""Keyboard semantics for a terminal (which reports key presses and auto-repeats, never releases).

A motion key drives its axis at that axis's current speed; holding the key keeps it alive
through the terminal's auto-repeat, and an axis whose key has not been seen for `key_timeout`
goes back to zero: letting go stops the robot without a release event. `zero` (space) stops all
axes at once; any key the mapping does not know stops all axes too. `faster`/`slower` change
every axis's speed by `step` x its max, within [step x max, max]. Safety actions (stand, run,
damp, reset, estop) pass through; the e-stop key is required in every mapping.
"""

from __future__ import annotations

import math

from lucid_ros.teleop import ACTIONS
from lucid_ros.teleop.config import AXES, KeyboardConfig

MOTION = {"forward": ("vx", 1.0), "backward": ("vx", -1.0), "left": ("vy", 1.0), "right": ("vy", -1.0),
          "turn_left": ("wz", 1.0), "turn_right": ("wz", -1.0)}  # fmt: skip
SEQUENCES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right_arrow", "\x1b[D": "left_arrow", "\x1bOA": "up", "\x1bOB": "down",
             "\x1bOC": "right_arrow", "\x1bOD": "left_arrow"}  # fmt: skip
NAMED = {" ": "space", "\x1b": "esc", "\t": "tab", "\r": "enter", "\n": "enter", "\x7f": "backspace", "\x03": "ctrl-c"}


def key_names(data: bytes) -> list[str]:
    """Bytes read from a terminal in raw mode -> key names ('w', 'space', 'esc', 'up', ...).

    An escape byte followed by '[' or 'O' starts an arrow or function key; a lone escape is 'esc'.
    Unknown escape sequences are skipped whole, so they never read as 'esc'."""
    text = data.decode("utf-8", errors="replace")
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b" and i + 1 < len(text) and text[i + 1] in "[O":
            j = i + 2
            while j < len(text) and not (text[j].isalpha() or text[j] == "~"):
                j += 1
            seq = text[i : j + 1]
            if seq in SEQUENCES:
                out.append(SEQUENCES[seq])
            i = j + 1
            continue
        out.append(NAMED.get(text[i], text[i]))
        i += 1
    return out


class Keyboard:
    def __init__(self, config: KeyboardConfig):
        self.config = config
        self.speed = dict(config.speed)
        self.value = {a: 0.0 for a in AXES}
        self.seen = {a: -math.inf for a in AXES}

    def feed(self, keys: list[str], now: float) -> list[str]:
        """Apply key names pressed at `now`; return safety actions (and 'quit' for Ctrl-C)."""
        actions = []
        for key in keys:
            if key == "ctrl-c":
                self.stop()
                actions.append("quit")
                continue
            action = self.config.keys.get(key)
            if action in MOTION:
                axis, sign = MOTION[action]
                self.value[axis], self.seen[axis] = sign * self.speed[axis], now
            elif action in ("faster", "slower"):
                for a in AXES:
                    step = self.config.step * self.config.max[a]
                    self.speed[a] = min(self.config.max[a], max(step, self.speed[a] + (step if action == "faster" else -step)))
                    self.value[a] = math.copysign(self.speed[a], self.value[a]) if self.value[a] else 0.0
            elif action in ACTIONS:
                if action in ("damp", "estop"):
                    self.stop()
                actions.append(action)
            else:  # 'zero', or a key the mapping does not know: stop
                self.stop()
        return actions

    def stop(self) -> None:
        self.value = {a: 0.0 for a in AXES}

    def command(self, now: float) -> tuple[float, float, float]:
        out = [self.value[a] if now - self.seen[a] <= self.config.key_timeout else 0.0 for a in AXES]
        return (out[0], out[1], out[2])
