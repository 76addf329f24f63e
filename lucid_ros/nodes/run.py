"""Entry points for running a node on its own (ros2 run / launch): init, spin, clean shutdown."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from lucid_ros.errors import ConfigError
from lucid_ros.gcpause import freeze_heap


def spin_single(node_cls, args=None) -> None:
    _spin(node_cls, args, worker=False)


def spin_with_thread(node_cls, args=None) -> None:
    """For nodes that own a worker thread (`start()`/`stop()`), e.g. the sim bridge."""
    _spin(node_cls, args, worker=True)


def _spin(node_cls, args, worker: bool) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_cls()
        freeze_heap()  # the node's imports and models are never walked by a full collection (gcpause)
        if worker:
            node.start()
        rclpy.spin(node)
    except ConfigError as exc:
        print(f"{node_cls.__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if worker:
                node.stop()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
