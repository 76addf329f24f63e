"""`lucid-ros robot` keeps DDS discovery on its own host unless the operator opts in (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys

from lucid_ros.discovery import RANGE_VAR, robot_discovery


def test_robot_bringup_limits_discovery_to_localhost_by_default():
    env, line = robot_discovery(False, {})
    assert env == {RANGE_VAR: "LOCALHOST"}
    assert "LOCALHOST" in line and "--expose" in line


def test_an_inherited_subnet_range_is_overridden_and_the_override_is_said():
    env, line = robot_discovery(False, {RANGE_VAR: "SUBNET"})
    assert env == {RANGE_VAR: "LOCALHOST"}
    assert "overriding ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET" in line


def test_static_peers_are_kept_and_named():
    env, line = robot_discovery(False, {"ROS_STATIC_PEERS": "192.168.123.50"})
    assert env == {RANGE_VAR: "LOCALHOST"}  # Jazzy: static peers are reached even with LOCALHOST
    assert "192.168.123.50" in line


def test_expose_keeps_the_environment_and_warns_who_can_command():
    env, line = robot_discovery(True, {"ROS_DOMAIN_ID": "7"})
    assert env == {}
    assert "SUBNET" in line and "ROS_DOMAIN_ID=7" in line and "cmd_vel" in line


def test_the_robot_command_says_its_discovery_range_before_anything_else():
    # a robot that does not exist: the command exits 2 naming it, after saying the discovery range
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "robot", "--robot", "no_such_robot", "--backend", "go1_udp"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, RANGE_VAR: "SUBNET"})  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "DDS discovery: LOCALHOST" in r.stderr and "overriding" in r.stderr
