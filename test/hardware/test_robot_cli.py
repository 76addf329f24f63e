"""`lucid-ros robot` / `fake-robot` on the command line, and robot.launch.py where `launch` exists."""

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _unused_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_armed_robot_with_no_robot_exits_1_naming_the_problem():
    port = _unused_udp_port()
    r = subprocess.run(
        [sys.executable, "-m", "lucid_ros.cli", "robot", "--robot", "go1", "--backend", "go1_udp", "--arm",
         "--host", "127.0.0.1", "--port", str(port), "--local-ip", "127.0.0.1", "--local-port", "0", "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr[-2000:]
    assert "no valid state from the robot" in r.stderr and f"127.0.0.1:{port}" in r.stderr


def test_fake_robot_rejects_an_unknown_protocol():
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "fake-robot", "--protocol", "can_bus"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None, reason="launch_ros is not installed (no ROS 2 install; PyPI has no wheel)")
def test_robot_launch_file_describes_the_graph():
    spec = importlib.util.spec_from_file_location("robot_launch", ROOT / "launch" / "robot.launch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.generate_launch_description() is not None
