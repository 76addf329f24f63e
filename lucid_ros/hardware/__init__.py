"""Hardware backends behind one lifecycle interface (configure -> activate -> read/write -> deactivate).

Core code: no rclpy here. `make_driver(backend, robot, **options)` builds a driver by name;
`make_fake_robot(protocol, robot, **options)` builds the matching MuJoCo-backed fake robot.
`open_backend(backend, robot, own_process=True, **options)` is what the graph uses: the driver in a
motor process of its own (hardware/motor_process.py) behind a client with the same interface.
"""

from __future__ import annotations

from typing import Any

from lucid_ros.hardware.drivers import BACKENDS, make_driver, make_fake_robot
from lucid_ros.hardware.interface import ActivationRefused, HardwareInterface, Health, Reading


def open_backend(backend: str, robot, *, own_process: bool = True, **options: Any) -> HardwareInterface:
    """The backend for a graph: in a motor process of its own (default; lucid_ros/hardware/motor_client.py),
    or in this process (`own_process=False`: the protocol unit tests, the before/after bench).
    `command_timeout` defaults to 0.05 s in the motor process (0.1 s in process, where the send
    thread shares the graph's GIL); `orphan_passive_after` and `fifo_priority` are the motor
    process's own options."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
    if own_process:
        from lucid_ros.hardware.motor_client import MotorProcessDriver

        return MotorProcessDriver(backend, robot, **options)
    for key in ("orphan_passive_after", "fifo_priority", "ready_timeout", "stale_after"):
        options.pop(key, None)
    return make_driver(backend, robot, **options)


__all__ = ["ActivationRefused", "BACKENDS", "Health", "HardwareInterface", "Reading", "make_driver", "make_fake_robot", "open_backend"]
