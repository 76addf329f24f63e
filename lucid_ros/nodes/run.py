"""Entry points for running a node on its own (ros2 run / launch): init, spin, clean shutdown."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from lucid_ros.errors import ConfigError, exit_status
from lucid_ros.gcpause import freeze_heap
from lucid_ros.outputrelay import relay_output


def spin_single(node_cls, args=None) -> None:
    _spin(node_cls, args, worker=False)


def spin_with_thread(node_cls, args=None) -> None:
    """For nodes that own a worker thread (`start()`/`stop()`), e.g. the sim bridge."""
    _spin(node_cls, args, worker=True)


def _spin(node_cls, args, worker: bool) -> None:
    spin_nodes(node_cls.__name__, lambda add: add(node_cls(), worker), args)


def spin_nodes(label: str, build: Callable[[Callable[[Node, bool], None]], None], args=None) -> None:
    """Init rclpy, let `build(add)` create the nodes (`add(node, worker)`, in start order) and spin
    them on one SingleThreadedExecutor. A ConfigError while building exits 2 naming `label`; on any
    exit the workers' threads stop and every node built so far is destroyed."""
    with relay_output():  # a stalled terminal or launch pipe must not stop this process (outputrelay)
        _spin_nodes(label, build, args)


def _spin_nodes(label: str, build: Callable[[Callable[[Node, bool], None]], None], args) -> None:
    rclpy.init(args=args)
    nodes: list[tuple[Node, bool]] = []
    executor = SingleThreadedExecutor()

    def add(node: Node, worker: bool = False) -> None:
        nodes.append((node, worker))
        executor.add_node(node)

    try:
        build(add)
        freeze_heap()  # the nodes' imports and models are never walked by a full collection (gcpause)
        for node, worker in nodes:
            if worker:
                node.start()
        executor.spin()
    except ConfigError as exc:
        sys.exit(exit_status(exc, label))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node, worker in nodes:
            if worker:
                node.stop()
        for node, _ in nodes:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
