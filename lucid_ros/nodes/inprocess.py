"""A graph's nodes in this process: one rclpy context, one executor thread (or one per launch process), one monitor node.

SimGraph (MuJoCo) and RobotGraph (a hardware driver) differ only in their nodes; bringing them up,
spinning, calling services, waiting for a safety state and shutting down cleanly live here once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import rclpy
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from lucid_ros.gcpause import GcPauses, freeze_heap, thaw
from lucid_ros.nodes.common import parameters
from lucid_ros.outputrelay import relay_output
from lucid_ros.stalls import StallProbe


def node_specs(values: dict[str, dict[str, Any]], first: tuple[str, ...]) -> list[tuple[str, type, dict[str, Any]]]:
    """(name, node class, values) for `_bring_up`, created in the order of `first`, the rest (the camera) after."""
    from lucid_ros.nodes.vision_policy import node_classes

    classes = node_classes()
    order = sorted(values, key=lambda n: first.index(n) if n in first else len(first))
    return [(name, classes[name], values[name]) for name in order]


class InProcessGraph:
    """Subclasses call `_bring_up`; `worker` names the node that owns a thread (start()/stop())."""

    worker = ""

    def _bring_up(self, specs: list[tuple[str, type, dict[str, Any]]], make_monitor, extra_nodes=None, executor: str = "single",
                  own_threads: tuple[tuple[str, ...], ...] = ()) -> None:  # fmt: skip
        """Create the nodes (name, class, parameter values) and the monitor, then the executor.

        `extra_nodes(graph)` may add nodes that need the others to exist first (recorders).
        `own_threads`: groups of node names that each spin in a single-threaded executor and a thread
        of their own, as the processes of a launch plan do (RobotGraph: the driver and the supervisor,
        so their ticks never queue behind the policy's); the rest and the monitor share `executor`."""
        # before rclpy logs a line: a stalled terminal must not stop this process (outputrelay)
        self._output = relay_output()
        self.nodes: dict[str, Node] = {}
        try:
            self.context = rclpy.Context()
            rclpy.init(context=self.context)
            for name, cls, values in specs:
                self.nodes[name] = cls(context=self.context, parameter_overrides=parameters(values))
            self.monitor = make_monitor(self.context)
            if extra_nodes is not None:
                extra_nodes(self)
        except BaseException:
            self.close()
            raise
        if executor == "multi":
            self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        elif executor == "single":
            self.executor = SingleThreadedExecutor(context=self.context)
        else:
            raise ValueError(f"executor must be 'single' or 'multi', got {executor!r}")
        grouped = {name for group in own_threads for name in group}
        for name, node in [*self.nodes.items(), ("", self.monitor)]:
            if name not in grouped:
                self.executor.add_node(node)
        self._spin_thread = threading.Thread(target=self._spin, args=(self.executor,), name="executor", daemon=True)
        self._group_threads: list[tuple[SingleThreadedExecutor, threading.Thread]] = []
        for group in own_threads:
            ex = SingleThreadedExecutor(context=self.context)
            for name in group:
                ex.add_node(self.nodes[name])
            self._group_threads.append((ex, threading.Thread(target=self._spin, args=(ex,), name=f"executor:{'+'.join(group)}", daemon=True)))
        self._started = False
        self.gc_pauses = GcPauses()  # every collection while the graph runs (gcpause: why it matters)
        self.stalls = StallProbe()  # every stop of this process of 20 ms or more, CPU or GIL (stalls)

    def _spin(self, executor) -> None:
        try:
            executor.spin()
        except Exception:  # noqa: BLE001 - shutdown races end the spin; anything else is re-raised
            if self.context.ok():
                raise

    def start(self):
        if not self._started:
            freeze_heap()  # what exists now is never walked by a full collection while the graph runs
            self.gc_pauses.install()
            self.stalls.install()
            for _ex, thread in self._group_threads:
                thread.start()
            self._spin_thread.start()
            self._before_worker()
            if self.worker in self.nodes:
                self.nodes[self.worker].start()
            self._started = True
        return self

    def _before_worker(self) -> None:
        """Runs once the executor spins, before the worker's thread starts (SimGraph: wiring)."""

    def close(self) -> None:
        nodes = getattr(self, "nodes", {})
        if self.worker in nodes:
            nodes[self.worker].stop()
        executors = [(getattr(self, "executor", None), getattr(self, "_spin_thread", None)), *getattr(self, "_group_threads", [])]
        for ex, spin in executors:
            if ex is not None:
                ex.shutdown(timeout_sec=2.0)
            if spin is not None and spin.is_alive():
                spin.join(timeout=5.0)  # a spinning executor thread at interpreter exit aborts the process
        for node in list(nodes.values()) + ([self.monitor] if hasattr(self, "monitor") else []):
            node.destroy_node()
        if hasattr(self, "context") and self.context.ok():
            rclpy.shutdown(context=self.context)
        if getattr(self, "_started", False):
            self.gc_pauses.remove()
            self.stalls.remove()
            thaw()
            self._started = False
        if hasattr(self, "_output"):
            self._output.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def foreign_publishers(self) -> list[str]:
        """Publishers from nodes outside this graph on topics this graph subscribes to: another
        graph (a second `lucid-ros sim`, a probe, a success-table worker) on the same ROS domain,
        whose commands would silently steer this one. ["/ns/node -> /topic", ...]; [] when alone."""
        nodes = [*self.nodes.values(), self.monitor]
        own = {(n.get_namespace(), n.get_name()) for n in nodes}
        ask = self.monitor
        out = []
        for topic, _types in ask.get_topic_names_and_types():
            if topic in ("/rosout", "/parameter_events"):
                continue
            subs = ask.get_subscriptions_info_by_topic(topic)
            if not any((i.node_namespace, i.node_name) in own for i in subs):
                continue
            for i in ask.get_publishers_info_by_topic(topic):
                if (i.node_namespace, i.node_name) not in own:
                    out.append(f"{i.node_namespace.rstrip('/')}/{i.node_name} -> {topic}")
        return sorted(set(out))

    @property
    def state(self) -> str:
        return self.monitor.state

    @staticmethod
    def wait_until(predicate, wall_timeout: float = 30.0, release: bool = True) -> bool:
        """Poll `predicate` on the wall clock. `release` matters only for a held lockstep sim (SimGraph)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < wall_timeout:
            if predicate():
                return True
            time.sleep(0.002)
        return False

    def wait_for_state(self, state: str, wall_timeout: float = 30.0) -> bool:
        return self.wait_until(lambda: self.monitor.state == state, wall_timeout)

    def call(self, service: str, wall_timeout: float = 10.0, release: bool = True) -> tuple[bool, str]:
        """Call a std_srvs/Trigger service of the graph (e.g. 'safety/stand') over ROS. `release=False`
        keeps a held lockstep sim at its tick while the call is answered (the answer is then a function
        of sim time, not of how long the call took)."""
        from std_srvs.srv import Trigger

        client = self.monitor.create_client(Trigger, service)
        try:
            if not client.wait_for_service(timeout_sec=wall_timeout):
                raise TimeoutError(f"service {service} not available")
            future = client.call_async(Trigger.Request())
            if not self.wait_until(future.done, wall_timeout, release=release):
                raise TimeoutError(f"service {service} did not answer in {wall_timeout} s")
            result = future.result()
            return bool(result.success), result.message
        finally:
            self.monitor.destroy_client(client)
