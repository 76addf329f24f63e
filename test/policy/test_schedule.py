"""The policy runner's timing rules (lucid_ros.policy.schedule): what the robot gets on every tick."""

import numpy as np
import pytest

from lucid_ros.policy.schedule import PolicySchedule

TICK = 0.02  # Go1: 50 Hz ticks


def ticks(n, t0=0.0):
    return [t0 + k * TICK for k in range(n)]  # sums of floats, as the sim's stamps are


def test_a_25hz_policy_runs_every_other_tick_and_the_target_is_held_and_restamped_between():
    s = PolicySchedule(1 / 25, cmd_timeout=0.5, n_joints=3)
    runs = []
    for k, t in enumerate(ticks(10)):
        if s.due(t):
            runs.append(k)
            s.ran(t, np.full(3, k), np.ones(3), np.ones(3))
        target = s.target(t)
        assert target.stamp == t and target.q[0] == runs[-1]  # the newest run's target, for this tick
    assert runs == [0, 2, 4, 6, 8]


def test_a_policy_at_the_tick_rate_runs_every_tick_despite_float_stamps():
    s = PolicySchedule(1 / 50, cmd_timeout=0.5, n_joints=1)
    due = [s.due(t) or s.ran(t, [0.0], [1.0], [1.0]) is None for t in ticks(500, t0=0.1)]
    assert all(due)


def test_entering_running_runs_the_network_on_the_next_tick():
    s = PolicySchedule(1 / 10, cmd_timeout=0.5, n_joints=1)
    s.ran(1.00, [0.0], [1.0], [1.0])
    assert not s.due(1.02)
    s.start()
    assert s.due(1.02)


def test_the_velocity_command_times_out_to_zero_and_can_be_dropped_at_once():
    s = PolicySchedule(1 / 50, cmd_timeout=0.5, n_joints=1)
    assert np.all(s.command(0.0) == 0)  # never heard: stand still
    s.set_command(0.5, 0.0, 0.2, now=1.0)
    assert np.allclose(s.command(1.4), [0.5, 0.0, 0.2])
    assert np.all(s.command(1.51) == 0)  # silent operator: stand still, not "keep going"
    s.set_command(0.5, 0.0, 0.0, now=2.0)
    s.zero_command()  # the operator lease was lost
    assert np.all(s.command(2.01) == 0)


def test_nothing_to_hold_before_the_first_run_and_bad_periods_are_refused():
    assert PolicySchedule(0.02, 0.5, 2).target(0.0) is None
    with pytest.raises(ValueError):
        PolicySchedule(0.0, 0.5, 2)


@pytest.mark.parametrize("policy_hz, every", [(50, 1), (25, 2)])
def test_on_a_robot_jittery_tick_stamps_keep_the_policy_at_its_rate(policy_hz, every):
    """A robot's tick stamps are reception times: go1_udp through its fake puts them 15.9-24.7 ms
    apart (p1-p99) for 50 Hz ticks. Compared exactly, every early tick was skipped: 32 runs/s."""
    rng = np.random.default_rng(0)
    stamps = np.arange(1000) * TICK + rng.uniform(-0.0045, 0.0045, 1000)  # each tick up to 4.5 ms early or late
    s = PolicySchedule(1 / policy_hz, cmd_timeout=0.5, n_joints=1, tick_period=TICK)
    runs = [k for k, t in enumerate(stamps) if s.due(t) and s.ran(t, [0.0], [1.0], [1.0]) is None]
    assert np.all(np.diff(runs) == every), f"the network ran on other than every {every}-th tick"
    exact = PolicySchedule(1 / policy_hz, cmd_timeout=0.5, n_joints=1)  # sim's stamps: no slack
    assert sum(exact.due(t) and exact.ran(t, [0.0], [1.0], [1.0]) is None for t in stamps) < 0.8 * len(runs)  # the bug it mends
