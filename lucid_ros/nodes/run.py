"""Entry points for running a node on its own (ros2 run / launch): init, spin, clean shutdown."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from lucid_ros.errors import ConfigError


def spin_single(node_cls, args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_cls()
        rclpy.spin(node)
    except ConfigError as exc:
        print(f"{node_cls.__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


def spin_with_thread(node_cls, args=None) -> None:
    """For nodes that own a worker thread (`start()`/`stop()`), e.g. the sim bridge."""
    rclpy.init(args=args)
    node = None
    try:
        node = node_cls()
        node.start()
        rclpy.spin(node)
    except ConfigError as exc:
        print(f"{node_cls.__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
