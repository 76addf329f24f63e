"""Safety states, the transition table, and the event record of every transition.

The state names are a public contract (`safety/state` topic, docs/INTERFACES): PASSIVE, STANDING,
RUNNING, DAMPING, ESTOP. The table below is the whole state machine: a transition that is not
in it cannot happen. The supervisor adds the guards (conditions) listed in GUARDS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_EVENT_TEXT = re.compile(r"^\s*(?P<time>[-+0-9.eE]+)\s+(?P<src>\w+)\s*->\s*(?P<dst>\w+)\s*(?::\s*(?P<rest>.*))?$", re.DOTALL)


class SafetyState(str, Enum):
    """A str enum so `state.value` (and `str(state)`) is the wire name on `safety/state`."""

    PASSIVE = "PASSIVE"  # zero torque: the robot is limp (boot state, after reset)
    STANDING = "STANDING"  # PD towards the default pose along an interpolation
    RUNNING = "RUNNING"  # the policy's targets, clipped and rate-limited
    DAMPING = "DAMPING"  # kp = 0, kd = damping_kd: the robot sinks slowly
    ESTOP = "ESTOP"  # damping as well, but latched: only `reset` leaves it

    def __str__(self) -> str:
        return self.value


P, S, R, D, E = SafetyState.PASSIVE, SafetyState.STANDING, SafetyState.RUNNING, SafetyState.DAMPING, SafetyState.ESTOP
TRIPS = (D, E)  # the states a run should never reach by itself: a safety trip (or the e-stop)
POWERED = (S, R)  # the states in which the motors hold the robot up

# (state, trigger) -> next state. Triggers: the four requests (services), "estop" (topic) and
# "trip" (a failed check found by tick). Anything not listed is refused.
TRANSITIONS: dict[tuple[SafetyState, str], SafetyState] = {
    (P, "stand"): S,
    (S, "run"): R,
    (P, "damp"): D,
    (S, "damp"): D,
    (R, "damp"): D,
    (D, "reset"): P,
    (E, "reset"): P,
    (P, "estop"): E,
    (S, "estop"): E,
    (R, "estop"): E,
    (D, "estop"): E,
    (S, "trip"): D,
    (R, "trip"): D,
}

# The conditions the supervisor checks before taking a transition (human-readable, for review).
GUARDS: dict[str, str] = {
    "stand": "a joint sample exists; no active fault (inputs fresh and finite, attitude and joints in range)",
    "run": "stand interpolation finished; no active fault (the policy target is checked from the next tick)",
    "damp": "none (always allowed, except out of ESTOP, which is latched)",
    "reset": "joint_states and imu fresh and finite; every |dq| below the reset speed",
    "estop": "none: engages immediately and latches",
    "trip": "any active fault while STANDING or RUNNING",
}

REQUESTS = ("stand", "run", "damp", "reset")


def allowed(state: SafetyState, trigger: str) -> SafetyState | None:
    """The state `trigger` leads to from `state`, or None if the table has no such transition."""
    return TRANSITIONS.get((state, trigger))


@dataclass(frozen=True)
class Event:
    """One transition, as reported in the sim summary and diagnostics.

    `cause` is short and stable (a request name, "estop", or the fault that tripped);
    `detail` is free text for a human (every active fault, the request's message).
    """

    time: float
    from_state: SafetyState
    to_state: SafetyState
    cause: str
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for `--summary`."""
        return {"time": self.time, "from": self.from_state.value, "to": self.to_state.value, "cause": self.cause, "detail": self.detail}

    def to_text(self) -> str:
        """The `safety/event` text: `<time> <FROM> -> <TO>: <cause> (<detail>)` (parsed by
        lucid_ros.recording.ring.parse_event and the sim's run monitor). The supervisor publishes
        one per transition; a backend publishes FROM == TO for a foreign joint_commands publisher."""
        text = f"{self.time:.3f} {self.from_state.value} -> {self.to_state.value}: {self.cause}"
        return text + (f" ({self.detail})" if self.detail and self.detail != self.cause else "")

    @classmethod
    def parse(cls, text: str) -> Event | None:
        """The inverse of `to_text` (None for text that is not an event): the one parser of
        `safety/event`, used by the recorder's black box, the report and the sim's run monitor."""
        m = _EVENT_TEXT.match(text)
        if not m:
            return None
        try:
            src, dst = SafetyState(m.group("src")), SafetyState(m.group("dst"))
        except ValueError:
            return None
        rest = (m.group("rest") or "").strip()
        cause, detail = rest, ""
        if rest.endswith(")") and " (" in rest:
            cause, _, detail = rest.partition(" (")
            detail = detail[:-1]
        return cls(float(m.group("time")), src, dst, cause.strip(), detail.strip())
