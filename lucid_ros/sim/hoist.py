"""The elastic hoist a humanoid hangs from until it stands: the rope law and its lowering schedule.

A real H1 or G1 is never switched on lying on the floor or balanced on unpowered legs: it hangs
from a gantry by a harness while its motors are off (PASSIVE) and while it moves to its default
pose (STANDING); then the operator lowers the hoist until the feet carry the weight, unhooks it,
and only then starts the policy (RUNNING). This module is that hoist for the simulator.

The rope is a one-sided spring-damper between a fixed anchor above the robot and a hook on the base
body: it pulls along the rope with tension k*stretch + c*stretch_rate when stretched and never
pushes. Hung, the anchor sits where the rope holds the robot `height` above the ground at rest.
`lower(t0)` moves the anchor down over `lower_duration` seconds of sim time on a half-cosine
(zero speed at both ends, so no jolt) by the rope's stretch under the robot, the hang height and
SLACK more: at the end the rope is slack and the hook is removed (RELEASED). Everything is a
function of sim time alone, so a run is the same however fast the machine is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lucid_ros.robots.description import HoistSpec

HUNG, LOWERING, RELEASED = "HUNG", "LOWERING", "RELEASED"
SLACK = 0.10  # m the rope ends slack by, above the standing sag of the base (a few cm)


@dataclass(frozen=True)
class HoistStatus:
    """What the hoist reports on `hoist/state`: its phase and, once lowering, when it started and
    when it will be released (sim seconds), so a sequencer can plan in sim time."""

    phase: str
    lower_start: float | None = None
    released_at: float | None = None

    def to_text(self) -> str:
        if self.lower_start is None or self.released_at is None:
            return self.phase
        return f"{self.phase} {self.lower_start:.6f} {self.released_at:.6f}"

    @classmethod
    def parse(cls, text: str) -> HoistStatus:
        parts = text.split()
        if not parts or parts[0] not in (HUNG, LOWERING, RELEASED) or len(parts) not in (1, 3):
            raise ValueError(f"not a hoist status: {text!r}")
        if len(parts) == 1:
            return cls(parts[0])
        return cls(parts[0], float(parts[1]), float(parts[2]))


class Hoist:
    """One hoist: `hang()` at a hook position, `lower()` at a sim time, `force()` every physics step."""

    def __init__(self, spec: HoistSpec, mass: float, gravity: float = 9.81):
        self.spec = spec
        self.weight = float(mass) * float(gravity)
        self.anchor0 = np.zeros(3)  # the anchor while hung (world)
        self.drop = spec.height + self.weight / spec.stiffness + SLACK  # how far lowering moves the anchor
        self.lower_start: float | None = None
        self._released = True

    # ---- schedule ---------------------------------------------------------------------------
    def hang(self, hook_world: np.ndarray) -> None:
        """Hook the robot on, at rest: the anchor goes straight above the hook, the rope stretched by
        the robot's weight. The caller has lifted the robot `spec.height` off the ground."""
        hook = np.asarray(hook_world, dtype=np.float64).reshape(3)
        self.anchor0 = hook + np.array([0.0, 0.0, self.spec.rope_length + self.weight / self.spec.stiffness])
        self.lower_start = None
        self._released = False

    def release(self) -> None:
        """Unhook at once (a pose that is not upright is never hung)."""
        self.lower_start = None
        self._released = True

    def lower(self, t0: float) -> float:
        """Start lowering at sim time t0 (ignored unless HUNG); returns the release time."""
        if self.phase(t0) == HUNG:
            self.lower_start = float(t0)
        return self.released_at

    @property
    def released_at(self) -> float | None:
        return None if self.lower_start is None else self.lower_start + self.spec.lower_duration

    def phase(self, t: float) -> str:
        if self._released:
            return RELEASED
        if self.lower_start is None or t < self.lower_start:
            return HUNG
        return LOWERING if t < self.released_at else RELEASED

    def status(self, t: float) -> HoistStatus:
        return HoistStatus(self.phase(t), self.lower_start, self.released_at)

    def anchor(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Anchor position and velocity (world) at sim time t."""
        if self.lower_start is None or t <= self.lower_start:
            return self.anchor0.copy(), np.zeros(3)
        T = self.spec.lower_duration
        u = min((t - self.lower_start) / T, 1.0)
        s = 0.5 - 0.5 * math.cos(math.pi * u)  # 0 -> 1 with zero slope at both ends
        ds = 0.5 * math.pi * math.sin(math.pi * u) / T if u < 1.0 else 0.0
        return self.anchor0 - np.array([0.0, 0.0, self.drop * s]), np.array([0.0, 0.0, -self.drop * ds])

    # ---- law ---------------------------------------------------------------------------------
    def force(self, t: float, hook: np.ndarray, hook_vel: np.ndarray) -> np.ndarray:
        """Rope force on the hook (world, N): along the rope, pulling only; zero once released."""
        if self.phase(t) == RELEASED:
            return np.zeros(3)
        a, va = self.anchor(t)
        r = a - np.asarray(hook, dtype=np.float64)
        length = float(np.linalg.norm(r))
        stretch = length - self.spec.rope_length
        if stretch <= 0.0 or length < 1e-9:
            return np.zeros(3)
        u = r / length
        rate = float(u @ (va - np.asarray(hook_vel, dtype=np.float64)))  # d(length)/dt
        tension = max(0.0, self.spec.stiffness * stretch + self.spec.damping * rate)
        return tension * u
