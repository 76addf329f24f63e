"""Operator authority: `cmd_vel` and the stand/run/reset services from one operator at a time.

A lease, held by one named operator (its node's fully qualified name), kept by the supervisor:
acquire (granted when free or already held), renew (the heartbeat: at least every `timeout`),
release, and an explicit take-over (always granted, and said). A holder silent for more than
`timeout` loses the lease, and the velocity command drops to zero. The e-stop and safety/damp are
accepted from anyone, always: authority only ever gates what makes the robot move.

The messages are text on `operator/lease` (std_msgs/String, "<verb> <operator>"), the holder is
said on the latched `operator/lease/holder` ("" when free). Standard interfaces carry no caller
identity: rclpy on Jazzy gives a subscriber no publisher GID per message and a service no caller.
So authority is checked against the graph: while a lease is held, `cmd_vel` is obeyed only if
every node publishing it is the holder (or exempt), and a service call only if every node with a
client for it is the holder (or exempt). A second operator's publisher or client makes the
command zero / the call refused, and is named: it cannot steer the robot, and it is loud.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VERBS = ("acquire", "renew", "release", "takeover")
LEASE_TOPIC = "operator/lease"
HOLDER_TOPIC = "operator/lease/holder"
DEFAULT_TIMEOUT = 0.5  # s without a renewal -> the lease is lost, velocity zero


@dataclass(frozen=True)
class LeaseRequest:
    verb: str
    operator: str

    @classmethod
    def parse(cls, text: str) -> LeaseRequest:
        """'<verb> <operator>'; ValueError naming what is wrong."""
        parts = text.split()
        if len(parts) != 2 or parts[0] not in VERBS:
            raise ValueError(f"lease request {text!r}: expected '<verb> <operator>' with verb one of {list(VERBS)}")
        if not parts[1].startswith("/"):
            raise ValueError(f"lease request {text!r}: the operator is a node's fully qualified name (starting with '/')")
        return cls(parts[0], parts[1])

    def to_text(self) -> str:
        return f"{self.verb} {self.operator}"


class Lease:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        if timeout <= 0:
            raise ValueError("lease timeout must be > 0")
        self.timeout = timeout
        self.holder: str | None = None
        self.last_heard = float("-inf")

    def request(self, req: LeaseRequest, now: float) -> tuple[bool, str]:
        """Apply one request; (granted, what happened) — the text goes to safety/event."""
        who, held = req.operator, self.holder
        if req.verb == "takeover":
            self.holder, self.last_heard = who, now
            return True, f"lease taken over by {who}" + (f" from {held}" if held and held != who else "")
        if req.verb == "acquire":
            if held is None or held == who:
                self.holder, self.last_heard = who, now
                return True, f"lease granted to {who}"
            return False, f"lease refused to {who}: held by {held} (take over explicitly to replace it)"
        if held != who:
            return False, f"lease {req.verb} from {who} ignored: " + (f"held by {held}" if held else "no lease is held")
        if req.verb == "renew":
            self.last_heard = now
            return True, ""
        self.holder = None
        return True, f"lease released by {who}"

    def expire(self, now: float) -> str | None:
        """The holder that just went silent (the lease is now free), else None."""
        if self.holder is not None and now - self.last_heard > self.timeout:
            gone, self.holder = self.holder, None
            return gone
        return None


def intruders(holder: str | None, participants: Iterable[str], exempt: Iterable[str] = ()) -> list[str]:
    """The nodes among `participants` (publishers of cmd_vel, clients of a service) that are
    neither the lease holder nor exempt, sorted: their presence makes the command untrusted."""
    skip = set(exempt) | ({holder} if holder else set())
    return sorted(set(participants) - skip)


def admit(holder: str | None, participants: Iterable[str], exempt: Iterable[str] = ()) -> tuple[bool, str]:
    """May a command on a channel with these participants be obeyed? (ok, why not)."""
    if holder is None:
        return False, "no operator holds the lease (lucid-ros teleop takes it)"
    others = intruders(holder, participants, exempt)
    if others:
        return False, f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} on it without the lease (held by {holder})"
    return True, ""
