"""The real graph (driver node, proprioception, policy runner, supervisor) against a fake robot
that runs as its own process behind the exact wire protocol (`lucid-ros fake-robot`).

The policy is a parameter: today the shipped go1_stand; a walking policy joins the list later.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")

POLICIES = [os.environ.get("LUCID_ROBOT_TEST_POLICY", "go1_stand")]


def _free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def fake_go1_process():
    port = _free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lucid_ros.cli", "fake-robot", "--robot", "go1", "--protocol", "go1_udp", "--port", str(port)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stderr.readline()  # "... ready ..." once the socket is bound
    assert "ready" in line, line
    yield proc, port
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("policy", POLICIES)
def test_stand_run_hold_then_robot_silence_damps(fake_go1_process, policy):
    from lucid_ros.nodes.robot_run import RobotGraph
    from lucid_ros.robots import load_robot

    proc, port = fake_go1_process
    robot = load_robot("go1")
    opts = {"host": "127.0.0.1", "port": port, "local_ip": "127.0.0.1", "local_port": 0}
    with RobotGraph("go1", "go1_udp", policy, arm=True, driver_options=opts, overrides={"robot_driver": {"remote_cmd_vel": False}}) as g:
        assert g.wait_active(10.0), g.driver.refusal
        assert g.wait_for_state("PASSIVE", 5.0)
        time.sleep(0.3)
        ok, msg = g.call("safety/stand")
        assert ok, msg
        assert g.wait_for_state("STANDING", 2.0)
        time.sleep(robot.stand_duration + 0.3)
        assert g.wait_for(lambda: g.call("safety/run")[0], 5.0)
        assert g.wait_for_state("RUNNING", 2.0)
        time.sleep(2.0)
        assert g.state == "RUNNING", g.monitor.events
        q = g.driver.read().joints.q
        # standing (lying has thighs at 1.6 rad); MuJoCo settles within 0.4 rad of the default
        # pose under kp 20 from a lying start, in the sim graph as here
        assert np.max(np.abs(q - robot.default_pose)) < 0.45 and np.all(q[1::3] < 1.2)
        roll, pitch = g.driver.read().imu.quat[1:3] * 2
        assert abs(roll) < 0.1 and abs(pitch) < 0.1
        h = g.driver.health()
        assert h.level == "OK" and h.values["watchdog_trips"] == 0 and h.values["rx_rejected_crc"] == 0

        # the robot goes silent: the driver reports it and the supervisor damps within 50 ms + one tick
        t_mute = time.monotonic()
        proc.send_signal(signal.SIGUSR1)
        assert g.wait_for_state("DAMPING", 2.0), g.monitor.events
        t_damp = next(t for t, s in g.monitor.states if s == "DAMPING")
        latency = t_damp - t_mute
        assert latency <= 0.050 + 1.0 / robot.rate_hz + 0.02, f"DAMPING {latency * 1e3:.0f} ms after the robot went silent"
        assert g.driver.health().level == "ERROR"
        print(f"robot silence -> DAMPING in {latency * 1e3:.1f} ms")
