"""The real graph (driver node, proprioception, policy runner, supervisor) against a fake robot
that runs as its own process behind the exact wire protocol (`lucid-ros fake-robot`), for each
backend: stand via safety/stand, run the policy, hold RUNNING, then the robot goes silent and
the supervisor must be in DAMPING within 50 ms + one tick. And the remote's L2+B e-stop.

The policy is a parameter: today the shipped go1_stand; a walking policy joins the list later
(LUCID_ROBOT_TEST_POLICY=go1_walk to try one now).
"""

import os
import signal
import time

import numpy as np
import pytest
from hw_tools import graph_starved, importable, realtime_threads, retry_once_if_starved, robot_priority

from lucid_ros.hardware.loopback import loopback_link, start_fake_robot, stop_fake_robot

pytest.importorskip("rclpy")

POLICIES = [os.environ.get("LUCID_ROBOT_TEST_POLICY", "go1_stand")]


BACKENDS = [
    "go1_udp",
    # Issue #5: with cyclonedds' Python (de)serializer and a listener per sample in the graph's process,
    # the runner's target stalled > 100 ms in about a quarter to half of the runs; the SDK2 path now
    # works on raw bytes (lucid_ros/hardware/sdk2/dds.py Layout).
    pytest.param("unitree_sdk2", marks=pytest.mark.skipif(not importable("cyclonedds"), reason="cyclonedds 0.10.2 not installed")),
    pytest.param("mini_cheetah_lcm", marks=pytest.mark.skipif(not importable("lcm"), reason="lcm not installed")),
]


@pytest.fixture
def fake_robot():
    procs = []

    def start(backend, robot="go1"):
        cli_args, opts = loopback_link(backend)
        proc = start_fake_robot(robot, backend, cli_args, preexec_fn=robot_priority)
        procs.append(proc)
        return proc, opts

    yield start
    for proc in procs:
        stop_fake_robot(proc, timeout=5)


class _Starved(Exception):
    """The fake robot or the graph stalled before we silenced the robot: the machine is overloaded.
    Retried once; twice on an idle machine fails the test (a graph that cannot keep its own 50 Hz
    stream inside the motor watchdog is a defect, not bad luck)."""


def _stand_run_hold_silence(fake_robot, backend, policy):
    from lucid_ros.nodes.robot_run import RobotGraph
    from lucid_ros.robots import load_robot

    proc, opts = fake_robot(backend)
    robot = load_robot("go1")
    over = {"robot_driver": {"remote_cmd_vel": False}}
    # the graph's threads at a low real-time priority, as on a robot computer (and as the walk test runs it)
    with realtime_threads(), RobotGraph("go1", backend, policy, arm=True, driver_options=opts, overrides=over) as g:

        def check(ok, what):
            if not ok and graph_starved(g):
                raise _Starved(f"{what}: a process of the test was starved > 50 ms: {g.monitor.events[-1:]}")
            assert ok, (what, g.monitor.events, g.driver.health())

        check(g.wait_active(10.0), f"activation: {g.driver.refusal}")
        check(g.wait_for_state("PASSIVE", 5.0), "PASSIVE")
        time.sleep(0.3)
        ok, msg = g.call("safety/stand")
        check(ok, msg)
        check(g.wait_for_state("STANDING", 2.0), "STANDING")
        time.sleep(robot.stand_duration + 0.3)
        check(g.wait_for(lambda: g.call("safety/run")[0], 5.0), "run")
        check(g.wait_for_state("RUNNING", 2.0), "RUNNING")
        time.sleep(2.0)
        check(g.state == "RUNNING", "held RUNNING")
        r = g.driver.latest()
        # standing (lying has thighs at 1.6 rad); MuJoCo settles within 0.4 rad of the default
        # pose under kp 20 from a lying start, in the sim graph as here
        assert np.max(np.abs(r.joints.q - robot.default_pose)) < 0.45 and np.all(r.joints.q[1::3] < 1.2)
        assert np.all(np.abs(r.imu.quat[1:3]) < 0.05)  # upright: roll, pitch within ~6 degrees
        h = g.driver.health()
        assert h.values["watchdog_trips"] == 0, h
        check(h.level == "OK", "health")

        # the robot goes silent: the driver reports it and the supervisor damps within 50 ms + one tick
        t_mute = time.monotonic()
        proc.send_signal(signal.SIGUSR1)
        assert g.wait_for_state("DAMPING", 2.0), g.monitor.events
        t_damp = next(t for t, s in g.monitor.states if s == "DAMPING")
        latency = t_damp - t_mute
        assert latency <= 0.050 + 1.0 / robot.rate_hz + 0.02, f"DAMPING {latency * 1e3:.0f} ms after the robot went silent"
        assert g.driver.health().level == "ERROR"
        print(f"{backend}: robot silence -> DAMPING in {latency * 1e3:.1f} ms")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_stand_run_hold_then_robot_silence_damps(fake_robot, backend, policy):
    retry_once_if_starved(lambda: _stand_run_hold_silence(fake_robot, backend, policy), _Starved, "timing")


def test_remote_l2_b_is_an_estop(fake_robot):
    from lucid_ros.nodes.robot_run import RobotGraph

    proc, opts = fake_robot("go1_udp")
    with RobotGraph("go1", "go1_udp", "go1_stand", arm=True, driver_options=opts, overrides={"robot_driver": {"remote_cmd_vel": False}}) as g:
        assert g.wait_active(10.0), g.driver.refusal
        assert g.wait_for_state("PASSIVE", 5.0)
        proc.send_signal(signal.SIGUSR2)  # the operator holds L2+B
        assert g.wait_for_state("ESTOP", 2.0), g.monitor.events


def test_dry_run_graph_sends_nothing_and_says_so(fake_robot):
    from lucid_ros.nodes.robot_run import RobotGraph

    proc, opts = fake_robot("go1_udp")
    with RobotGraph("go1", "go1_udp", "go1_stand", arm=False, driver_options={**opts, "state_timeout": 0.3}) as g:
        assert g.wait_for(lambda: g.driver.state == "active", 10.0)
        time.sleep(0.3)
        h = g.driver.health()
        assert h.values["sent"] == 0 and h.values["dry_run_encoded"] > 100 and "dry-run" in h.message
