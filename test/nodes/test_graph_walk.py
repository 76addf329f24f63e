"""The shipped Go1 walking policy, through the whole ROS graph (every node, real rclpy, MuJoCo),
measured on sim/ground_truth/odom with fixed seeds. These are the issue's acceptance numbers."""

import numpy as np
import pytest

from lucid_ros.nodes.graph import SimGraph

SETTLE = 1.0  # s after RUNNING before anything is measured


def walk(cmd, seconds, course="flat", seed=0, during=None):
    """Run go1_walk under `cmd` for `seconds` after RUNNING + SETTLE; returns (t, pos, vel, falls)."""
    with SimGraph(robot="go1", policy="go1_walk", course=course, seed=seed, start_pose="lying", cmd_vel=cmd) as g:
        assert g.wait_for_state("RUNNING", wall_timeout=60)
        g.run_for(SETTLE)
        t0 = g.sim_time
        if during is None:
            g.run_until(t0 + seconds)
        else:
            during(g, t0, seconds)
        assert g.state == "RUNNING", g.monitor.events
    m = g.monitor.metrics  # read after the graph stopped: nothing appends any more
    t = np.array(m.t)
    win = (t >= t0) & (t <= t0 + seconds)
    assert win.sum() > 40 * seconds, "ground truth missing"
    return t[win], np.array(m.pos)[win], np.array(m.vel_body)[win], list(m.falls)


def test_forward_half_a_metre_per_second():
    _, pos, vel, falls = walk((0.5, 0.0, 0.0), 10.0)
    err = np.mean(np.abs(vel[:, 0] - 0.5))
    assert err < 0.1, f"mean |vx - 0.5| = {err:.3f} m/s"
    assert falls == []
    assert pos[-1, 0] - pos[0, 0] > 4.0


def test_yaw_rate_half_a_radian_per_second():
    _, _, vel, falls = walk((0.0, 0.0, 0.5), 10.0)
    err = np.mean(np.abs(vel[:, 2] - 0.5))
    assert err < 0.15, f"mean |wz - 0.5| = {err:.3f} rad/s"
    assert falls == []


def test_zero_command_does_not_drift():
    _, pos, _, falls = walk((0.0, 0.0, 0.0), 10.0)
    drift = float(np.linalg.norm(pos[-1, :2] - pos[0, :2]))
    assert drift < 0.1, f"drifted {drift:.3f} m in 10 s"
    assert falls == []


@pytest.mark.parametrize("seed", range(5))
def test_random_commands_on_rough_ground_never_fall(seed):
    rng = np.random.default_rng(seed)

    def schedule(g, t0, seconds):
        t = t0
        while t < t0 + seconds:
            g.monitor.set_cmd(rng.uniform(-0.5, 1.0), rng.uniform(-0.3, 0.3), rng.uniform(-1.0, 1.0))
            t = min(t + 3.0, t0 + seconds)
            g.run_until(t)

    _, _, _, falls = walk((0.0, 0.0, 0.0), 60.0, course="rough", seed=seed, during=schedule)
    assert falls == [], f"seed {seed}: fell at {falls}"


@pytest.mark.parametrize("side", [1.0, -1.0], ids=["left", "right"])
def test_a_40_newton_lateral_push_while_walking_does_not_topple_it(side):
    def push(g, t0, seconds):
        g.run_until(t0 + 2.0)
        g.sim.on_tick.append(_once(lambda t, sim: sim.apply_push(np.array([0.0, 40.0 * side, 0.0]), 0.3)))
        g.run_until(t0 + seconds)

    _, pos, _, falls = walk((0.5, 0.0, 0.0), 6.0, during=push)
    assert falls == []
    assert pos[-1, 0] - pos[0, 0] > 2.0  # and it kept walking


def _once(fn):
    """An on_tick hook (runs in the sim thread) that fires once."""
    fired = []

    def hook(t, sim):
        if not fired:
            fired.append(t)
            fn(t, sim)

    return hook
