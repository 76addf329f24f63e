"""The Unitree wireless remote as it arrives in LowState.wirelessRemote[40], and what it means here.

Layout (hardware-and-models.md section 1): 0 head u8[2]; 2 buttons u16; 4 lx f32; 8 rx f32;
12 ry f32; 16 L2 (analog) f32; 20 ly f32; the rest reserved. Button bits from bit 0: R1, L1,
START, SELECT, R2, L2, F1, F2, A, B, X, Y, UP, RIGHT, DOWN, LEFT.

Mapping (docs/hardware.md says the same; only acted on while the driver is armed and active):

    left stick  up/down   ly -> cmd_vel.linear.x  = ly * max_vx   (forward positive)
    left stick  left/right lx -> cmd_vel.linear.y = -lx * max_vy  (stick left = move left)
    right stick left/right rx -> cmd_vel.angular.z = -rx * max_wz (stick left = turn left)
    L2 + B      -> e-stop (safety/estop true: damping, latched until safety/reset)
    L2 + Y      -> safety/stand
    L2 + X      -> safety/run
    L2 + SELECT -> safety/damp
    L2 + START  -> safety/reset

L2 is a shift key so a single stray press does nothing; actions fire once on the press edge of
the combination. Vendor combinations (L2+A, L1+L2+START) switch the vendor's own modes and
are deliberately unmapped so entering low-level mode never triggers a lucid_ros action.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

BUTTONS = ("R1", "L1", "START", "SELECT", "R2", "L2", "F1", "F2", "A", "B", "X", "Y", "UP", "RIGHT", "DOWN", "LEFT")
BIT = {name: 1 << i for i, name in enumerate(BUTTONS)}

# (buttons held) -> action; checked in this order, the first match wins (e-stop first).
COMBOS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"L2", "B"}), "estop"),
    (frozenset({"L2", "SELECT"}), "damp"),
    (frozenset({"L2", "Y"}), "stand"),
    (frozenset({"L2", "X"}), "run"),
    (frozenset({"L2", "START"}), "reset"),
)


@dataclass
class RemoteState:
    buttons: int
    lx: float
    rx: float
    ry: float
    l2: float
    ly: float

    def held(self) -> frozenset[str]:
        return frozenset(n for n in BUTTONS if self.buttons & BIT[n])


def decode_remote(raw: bytes) -> RemoteState:
    if len(raw) < 24:
        raise ValueError(f"wirelessRemote needs 24 bytes, got {len(raw)}")
    buttons, lx, rx, ry, l2, ly = struct.unpack_from("<H5f", raw, 2)
    return RemoteState(buttons, lx, rx, ry, l2, ly)


def encode_remote(buttons: frozenset[str] | set[str] = frozenset(), lx=0.0, rx=0.0, ry=0.0, l2=0.0, ly=0.0) -> bytes:
    """40 bytes as the remote sends them (the fake robot and the tests use this)."""
    bits = 0
    for b in buttons:
        bits |= BIT[b]
    return (b"\0\0" + struct.pack("<H5f", bits, lx, rx, ry, l2, ly)).ljust(40, b"\0")


def _axis(v: float, deadzone: float) -> float:
    if v != v or abs(v) <= deadzone:  # NaN or inside the dead zone
        return 0.0
    return max(-1.0, min(1.0, v))


class RemoteMapper:
    """Sticks -> (vx, vy, wz); button combinations -> safety actions on their press edge."""

    def __init__(self, max_vx: float = 1.0, max_vy: float = 0.5, max_wz: float = 1.0, deadzone: float = 0.05):
        self.max_vx, self.max_vy, self.max_wz, self.deadzone = max_vx, max_vy, max_wz, deadzone
        self._active: str | None = None

    def cmd_vel(self, r: RemoteState) -> tuple[float, float, float]:
        d = self.deadzone
        return (_axis(r.ly, d) * self.max_vx, -_axis(r.lx, d) * self.max_vy, -_axis(r.rx, d) * self.max_wz)

    def actions(self, r: RemoteState) -> list[str]:
        """The action whose combination was just pressed (at most one), else []."""
        held = r.held()
        current = next((a for combo, a in COMBOS if combo <= held), None)
        fired = [current] if current is not None and current != self._active else []
        self._active = current
        return fired
