"""Run metrics: what counts as a fall, and tracking error only while RUNNING."""

import numpy as np

from lucid_ros.metrics import RunMetrics

LEVEL = np.array([1.0, 0, 0, 0])


def feed(m, heights, running=True, vx=0.5, cmd=(0.5, 0, 0)):
    for i, h in enumerate(heights):
        m.add_ground_truth(i * 0.02, [0, 0, h], LEVEL, [vx, 0, 0], [0, 0, 0], cmd, running)


def test_lying_start_is_not_a_fall_but_collapsing_is():
    m = RunMetrics(nominal_height=0.28)
    feed(m, [0.09] * 10 + [0.28] * 10 + [0.05] * 5)
    assert len(m.falls) == 1 and m.summary()["falls"] == 1


def test_tracking_error_counts_only_after_settling_in_running():
    m = RunMetrics(nominal_height=0.28, settle_time=0.1)
    feed(m, [0.28] * 50, running=True, vx=0.4)
    s = m.summary()
    assert abs(s["velocity_tracking"]["mean_abs_error_vx"] - 0.1) < 1e-9
    assert s["falls"] == 0


def test_sinking_unpowered_is_not_a_fall():
    m = RunMetrics(nominal_height=0.28)
    for i, h in enumerate([0.28] * 5 + [0.05] * 5):
        m.add_ground_truth(i * 0.02, [0, 0, h], LEVEL, [0, 0, 0], [0, 0, 0], (0, 0, 0), False, powered=False)
    assert m.falls == []


def test_a_lying_start_settling_lower_before_standing_is_not_a_fall():
    m = RunMetrics(nominal_height=0.28)
    feed(m, [0.15] * 5 + [0.12] * 5 + [0.28] * 10 + [0.10] * 3 + [0.28] * 5 + [0.05] * 2)
    assert len(m.falls) == 2  # the two collapses after standing, not the settling at the start
