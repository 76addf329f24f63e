"""The ROS side of the operator lease (lucid_ros.safety.lease): who is on a channel, who holds it.

`OperatorLease` is what an operator tool (lucid-ros teleop, a rehearsal's command publisher)
runs: it asks for the lease, renews it while the tool lives, releases it on exit, and reports a
refusal naming the holder. `LeaseView` is what a consumer (the policy runner for `cmd_vel`, the
supervisor for its services) runs: the holder as the supervisor announces it, and the nodes the
graph shows on a topic or with a client of a service, checked against it (`admit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rclpy.node import Node
from std_msgs.msg import String

from lucid_ros.nodes import qos
from lucid_ros.safety.lease import HOLDER_TOPIC, LEASE_TOPIC, LeaseRequest, admit, intruders

RENEW_PERIOD = 0.1  # s: five renewals inside the supervisor's 0.5 s timeout
GRAPH_CACHE = 0.25  # s: how long a graph query's answer is reused (callbacks run at up to 50 Hz)


def steady_clock():
    """Operators live on the wall clock, whatever clock the node runs on (sim time in lockstep)."""
    from rclpy.clock import Clock, ClockType

    return Clock(clock_type=ClockType.STEADY_TIME)


def node_fqn(name: str, namespace: str) -> str:
    return f"{namespace.rstrip('/')}/{name}"


def publisher_nodes(node: Node, topic: str) -> list[str]:
    """Fully qualified names of the nodes publishing `topic` (as the graph shows them)."""
    return [node_fqn(i.node_name, i.node_namespace) for i in node.get_publishers_info_by_topic(topic)]


def client_nodes(node: Node, service: str) -> list[str]:
    """Fully qualified names of the nodes holding a client of `service` (resolved in `node`'s namespace)."""
    full = node.resolve_service_name(service)
    out = []
    for name, ns in node.get_node_names_and_namespaces():
        try:
            clients = node.get_client_names_and_types_by_node(name, ns)
        except Exception:  # noqa: BLE001 - the node left the graph between the two queries
            continue
        if any(c == full for c, _ in clients):
            out.append(node_fqn(name, ns))
    return out


class LeaseView:
    """A consumer's view: the announced holder, and whether a channel's participants are all it."""

    def __init__(self, node: Node, exempt: Iterable[str] = (), on_holder: Callable[[str | None], None] | None = None):
        self.node = node
        self.exempt = set(exempt)
        self.holder: str | None = None
        self.on_holder = on_holder
        self._cache: dict[str, tuple[float, list[str]]] = {}
        node.create_subscription(String, HOLDER_TOPIC, self._on_holder, qos.LATCHED)

    def _on_holder(self, msg: String) -> None:
        holder = msg.data or None
        if holder != self.holder:
            self.holder = holder
            if self.on_holder is not None:
                self.on_holder(holder)

    def _participants(self, key: str, query: Callable[[], list[str]]) -> list[str]:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or now - hit[0] > GRAPH_CACHE:
            hit = (now, query())
            self._cache[key] = hit
        return hit[1]

    def clients(self, service: str) -> list[str]:
        """The nodes with a client of `service` (cached GRAPH_CACHE s)."""
        return self._participants("s:" + service, lambda: client_nodes(self.node, service))

    def admit_topic(self, topic: str, holder: str | None = None) -> tuple[bool, str]:
        who = self._participants("t:" + topic, lambda: publisher_nodes(self.node, topic))
        return admit(self.holder if holder is None else holder, who, self.exempt)

    def admit_service(self, service: str, holder: str | None = None) -> tuple[bool, str]:
        return admit(self.holder if holder is None else holder, self.clients(service), self.exempt)


class OperatorLease:
    """An operator tool's lease: acquire (or take over) now, renew every RENEW_PERIOD, release on close.

    `granted` is None until the supervisor answers (via the holder topic), then True/False;
    `on_refused(holder)` runs once when another operator holds it."""

    def __init__(self, node: Node, take_over: bool = False, on_refused: Callable[[str], None] | None = None):
        self.node = node
        self.me = node.get_fully_qualified_name()
        self.on_refused = on_refused
        self.granted: bool | None = None
        self.holder: str | None = None
        self.first = "takeover" if take_over else "acquire"
        self.pub = node.create_publisher(String, LEASE_TOPIC, qos.STATE)
        node.create_subscription(String, HOLDER_TOPIC, self._on_holder, qos.LATCHED)
        self._send(self.first)
        self.timer = node.create_timer(RENEW_PERIOD, self._renew, clock=steady_clock())

    def _send(self, verb: str) -> None:
        self.pub.publish(String(data=LeaseRequest(verb, self.me).to_text()))

    def _renew(self) -> None:
        if self.granted:
            self._send("renew")
        elif self.granted is None:
            self._send(self.first)  # not answered yet: the supervisor may start after us
        elif self.holder is None:
            self._send("acquire")  # we had it and it came free (we were silent too long): ask again

    def _on_holder(self, msg: String) -> None:
        self.holder = msg.data or None
        was = self.granted
        self.granted = self.holder == self.me if self.holder is not None else (False if was else None)
        if self.holder is not None and self.holder != self.me and was is not False and self.on_refused is not None:
            self.on_refused(self.holder)

    def release(self) -> None:
        if self.granted and self.node.context.ok():
            self._send("release")
        self.granted = False


class LeaseKeeper:
    """The supervisor's side: the lease book, the holder announcement, the expiry, the service gate.

    Timing is on the wall clock (time.monotonic): the operator is a person with a laptop, and a
    lockstep sim's time can run faster than the renewals arrive. `require` False (sim, tests)
    keeps the book and announces the holder but gates nothing."""

    def __init__(self, node: Node, require: bool, timeout: float, say: Callable[[str], None], exempt: Iterable[str] = ()):
        from lucid_ros.safety.lease import Lease

        self.node, self.require, self.say = node, require, say
        self.lease = Lease(timeout)
        self.view = LeaseView(node, exempt=exempt)  # its holder follows our own announcements
        self.holder_pub = node.create_publisher(String, HOLDER_TOPIC, qos.LATCHED)
        self.holder_pub.publish(String(data=""))
        node.create_subscription(String, LEASE_TOPIC, self._on_request, qos.STATE)
        node.create_timer(min(0.05, timeout / 5), self._check, clock=steady_clock())

    @property
    def holder(self) -> str | None:
        return self.lease.holder

    def _announce(self) -> None:
        self.holder_pub.publish(String(data=self.lease.holder or ""))

    def _on_request(self, msg: String) -> None:
        try:
            req = LeaseRequest.parse(msg.data)
        except ValueError as exc:
            self.node.get_logger().error(f"operator/lease: {exc}", throttle_duration_sec=1.0)
            return
        before = self.lease.holder
        granted, text = self.lease.request(req, time.monotonic())
        if self.lease.holder != before or req.verb in ("acquire", "takeover"):
            # a change, and every acquire: the holder's repeated one (its first answer may be lost)
            # as well as a refused one (that operator learns who holds it); takeover is always granted
            self._announce()
        if text and (self.lease.holder != before or not granted):
            self.say(text)

    def _check(self) -> None:
        gone = self.lease.expire(time.monotonic())
        if gone is not None:
            self._announce()
            self.say(f"lease lost by {gone}: no renewal for {self.lease.timeout:.1f} s (velocity zero)")

    def gate(self, service: str) -> tuple[bool, str]:
        """May a call of safety/<service> be obeyed? damp and the e-stop never come here.

        Held: only if the holder is the only (non-exempt) client. Free: if one node is the only
        client (`ros2 service call` from one terminal works), refused when several compete."""
        if not self.require:
            return True, ""
        if self.lease.holder is not None:
            return self.view.admit_service(f"safety/{service}")
        who = intruders(None, self.view.clients(f"safety/{service}"), self.view.exempt)
        if len(who) > 1:
            return False, f"no operator holds the lease and {', '.join(who)} all have a client: take the lease (lucid-ros teleop)"
        return True, ""
