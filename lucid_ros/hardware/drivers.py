"""The backends by name: the in-process driver of each (what a motor process runs) and its fake robot.

Apart from lucid_ros.hardware so that the motor-process client can build a driver without
importing the package that opens it (no import cycle; test/test_layout.py). The classes are
imported only when asked for: a backend's optional dependency (cyclonedds, lcm) is needed only by
whoever uses that backend."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from lucid_ros.hardware.interface import HardwareInterface

# backend -> (driver class, fake robot class), as "module:Class"
REGISTRY = {
    "go1_udp": ("lucid_ros.hardware.go1.driver:Go1UdpDriver", "lucid_ros.hardware.go1.fake:FakeGo1"),
    "unitree_sdk2": ("lucid_ros.hardware.sdk2.driver:Sdk2Driver", "lucid_ros.hardware.sdk2.fake:FakeSdk2Robot"),
    "mini_cheetah_lcm": ("lucid_ros.hardware.lcm.driver:LcmDriver", "lucid_ros.hardware.lcm.fake:FakeLcmRobot"),
}
BACKENDS = tuple(REGISTRY)


def _load(backend: str, which: int, what: str) -> type:
    if backend not in REGISTRY:
        raise ValueError(f"unknown {what} {backend!r}; expected one of {list(BACKENDS)}")
    module, cls = REGISTRY[backend][which].split(":")
    return getattr(import_module(module), cls)


def make_driver(backend: str, robot, **options: Any) -> HardwareInterface:
    return _load(backend, 0, "backend")(robot, **options)


def make_fake_robot(protocol: str, robot, **options: Any):
    return _load(protocol, 1, "protocol")(robot, **options)
