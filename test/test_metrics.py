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
