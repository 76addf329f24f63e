"""The backends by name: the in-process driver of each (what a motor process runs) and its fake robot.

Apart from lucid_ros.hardware so that the motor-process client can build a driver without
importing the package that opens it (no import cycle; test/test_layout.py)."""

from __future__ import annotations

from typing import Any

from lucid_ros.hardware.interface import HardwareInterface

BACKENDS = ("go1_udp", "unitree_sdk2", "mini_cheetah_lcm")


def make_driver(backend: str, robot, **options: Any) -> HardwareInterface:
    if backend == "go1_udp":
        from lucid_ros.hardware.go1.driver import Go1UdpDriver

        return Go1UdpDriver(robot, **options)
    if backend == "unitree_sdk2":
        from lucid_ros.hardware.sdk2.driver import Sdk2Driver

        return Sdk2Driver(robot, **options)
    if backend == "mini_cheetah_lcm":
        from lucid_ros.hardware.lcm.driver import LcmDriver

        return LcmDriver(robot, **options)
    raise ValueError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")


def make_fake_robot(protocol: str, robot, **options: Any):
    if protocol == "go1_udp":
        from lucid_ros.hardware.go1.fake import FakeGo1

        return FakeGo1(robot, **options)
    if protocol == "unitree_sdk2":
        from lucid_ros.hardware.sdk2.fake import FakeSdk2Robot

        return FakeSdk2Robot(robot, **options)
    if protocol == "mini_cheetah_lcm":
        from lucid_ros.hardware.lcm.fake import FakeLcmRobot

        return FakeLcmRobot(robot, **options)
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {list(BACKENDS)}")
