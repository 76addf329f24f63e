"""Through the real graph (rclpy, every node, MuJoCo): the robots stand and hold."""

import numpy as np
import pytest
from graph_tools import heights

from lucid_ros.nodes.graph import SimGraph
from lucid_ros.nodes.sim_bridge import LOWER_LEAD
from lucid_ros.robots import load_robot


@pytest.mark.parametrize("name", ["go1", "mini_cheetah"])
def test_quadruped_stands_up_from_lying_and_holds_under_a_policy(hold_policy, name):
    """The policy holds with the robot's stand gains (the Mini Cheetah's kp 80; at a policy's usual
    kp 20 its 8.9 kg sag to 0.259 m, 2.4 cm under its nominal height)."""
    robot = load_robot(name)
    policy = hold_policy(name, "zeros", kp=robot.kp.tolist(), kd=robot.kd.tolist())
    with SimGraph(robot=name, policy=policy, start_pose="lying", auto_sequence=False) as g:
        g.run_for(0.5)
        assert g.wait_for_state("PASSIVE")
        start_height = g.monitor.metrics.pos[-1][2]
        assert start_height < robot.nominal_base_height - 0.08, "the robot should start lying down"
        ok, msg = g.call("safety/stand")
        assert ok, msg
        assert g.wait_for_state("STANDING")
        t_stand = g.sim_time
        g.run_until(t_stand + robot.stand_duration + 1.0)
        t0 = g.sim_time
        g.run_until(t0 + 10.0)
        h = heights(g, t0, t0 + 10.0)
        assert len(h) > 400
        assert max(abs(x - robot.nominal_base_height) for x in h) <= 0.02, (min(h), max(h))
        assert g.state == "STANDING"
        ok, msg = g.call("safety/run")
        assert ok, msg
        assert g.wait_for_state("RUNNING")
        t1 = g.sim_time
        g.run_until(t1 + 10.0)
        h = heights(g, t1, t1 + 10.0)
        assert max(abs(x - robot.nominal_base_height) for x in h) <= 0.02, (min(h), max(h))
        assert g.state == "RUNNING"
        assert g.monitor.metrics.falls == []


@pytest.mark.parametrize("name", ["h1", "g1"])
def test_humanoid_stands_in_its_default_pose(name):
    """The same graph as Go1's; only the robot name (and its shipped stand policy) changes.

    A humanoid starts as a real one does, hung from a hoist: PASSIVE and the stand happen hung, the
    auto sequence lowers it once the stand is done and runs after the release. Every step is
    decided on sim time, so the times below are exact whatever the machine's speed."""
    robot = load_robot(name)
    with SimGraph(robot=name, policy=f"{name}_stand", start_pose="default", auto_sequence=True) as g:
        assert g.wait_for_state("RUNNING", wall_timeout=60)
        hoist = g.sim.sim.hoist
        t0 = g.sim_time
        g.run_until(t0 + 10.0)
        events = {e["state"]: e["time"] for e in g.monitor.metrics.events}
        stand_done = events["STANDING"] + robot.stand_duration
        assert events["STANDING"] == pytest.approx(0.2)  # auto_stand_after: the first tick after every input has arrived
        assert hoist.lower_start == pytest.approx(stand_done + 0.5 + LOWER_LEAD)  # auto_run_after, then the request's lead
        assert hoist.released_at == pytest.approx(hoist.lower_start + robot.hoist.lower_duration)
        assert events["RUNNING"] == pytest.approx(hoist.released_at + 0.5)
        h_hung = heights(g, 0.0, hoist.lower_start)
        assert h_hung[0] >= robot.nominal_base_height + robot.hoist.height  # it starts hung...
        assert max(h_hung) - min(h_hung) <= 0.01, (min(h_hung), max(h_hung))  # ...and stays up while PASSIVE and standing
        h = heights(g, hoist.released_at, g.sim_time)
        assert max(abs(x - robot.nominal_base_height) for x in h) <= 0.02, (min(h), max(h))  # the feet carry it
        assert g.monitor.metrics.falls == []
        assert g.state == "RUNNING"


def test_unsafe_requests_are_refused_through_the_services(hold_policy):
    with SimGraph(robot="go1", policy=hold_policy(), auto_sequence=False) as g:
        # the calls are answered with the sim held at 0.2 s (release=False): what they see is a function
        # of sim time, not of how long a call took on this machine (a free-running sim had settled by
        # the reset on a fast run)
        g.run_until(0.2)
        assert g.wait_until(lambda: g.state == "PASSIVE", release=False)
        ok, msg = g.call("safety/run", release=False)
        assert not ok and "PASSIVE" in msg
        assert g.state == "PASSIVE"
        ok, _ = g.call("safety/damp", release=False)
        assert ok and g.wait_until(lambda: g.state == "DAMPING", release=False)
        # the robot (started standing, unpowered) is still sinking at 0.2 s: reset must wait for it
        ok, msg = g.call("safety/reset", release=False)
        assert not ok and "moving" in msg
        assert g.state == "DAMPING"
        g.run_for(3.0)
        ok, msg = g.call("safety/reset")
        assert ok, msg
        assert g.wait_for_state("PASSIVE")
        assert np.isfinite(g.monitor.metrics.pos[-1]).all()
