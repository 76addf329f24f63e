"""One definition of success: crossed every obstacle and reached goal_x without falling."""

import numpy as np
import pytest

from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.sim.courses import load_course, randomize
from lucid_ros.sim.outcome import Criteria, judge, obstacles_crossed


def walk(x0, x1, seconds, y=0.0, z=0.3, rate=50):
    t = np.arange(int(seconds * rate)) / rate
    x = np.linspace(x0, x1, len(t))
    return t, np.stack([x, np.full_like(x, y), np.full_like(x, z)], axis=1)


def test_crossing_to_the_goal_succeeds_when_the_goal_is_reached():
    hurdle = load_course("hurdle")
    t, pos = walk(0.0, hurdle.goal_x + 1.0, 30.0)
    out = judge(hurdle, t, pos)
    assert out.succeeded and out.obstacles_crossed == out.obstacles_total == 5 and out.fraction_crossed == 1.0
    assert out.time_s == pytest.approx(t[np.argmax(pos[:, 0] >= hurdle.goal_x)])  # decided on arrival, not at the end


def test_falling_into_a_gap_fails_with_the_obstacles_crossed_so_far():
    gaps = load_course("gaps")
    second_gap = gaps.obstacles[1]
    t, pos = walk(0.0, 0.5 * (second_gap.x0 + second_gap.x1), 10.0)
    pos[-20:, 2] = np.linspace(0.3, -0.6, 20)  # drops into the pit at the end
    out = judge(gaps, t, pos)
    assert out.status == "fell" and "pit" in out.reason
    assert out.obstacles_crossed == 1 and out.fraction_crossed == pytest.approx(1 / 6)
    first_below = np.argmax(pos[:, 2] < gaps.fall_z)
    assert out.distance_m == pytest.approx(pos[first_below - 1, 0]) and out.time_s == pytest.approx(t[first_below])


def test_tipping_over_and_callers_signal_are_falls():
    flat_hurdle = load_course("hurdle")
    t, pos = walk(0.0, 3.0, 4.0)
    quat = np.tile(rpy_to_quat(np.array([0.0, 0.0, 0.3])), (len(t), 1))
    assert judge(flat_hurdle, t, pos, quat=quat).status == "timed_out"  # yaw alone is not a fall
    quat[100:] = rpy_to_quat(np.array([1.4, 0.0, 0.0]))
    out = judge(flat_hurdle, t, pos, quat=quat)
    assert out.status == "fell" and out.time_s == pytest.approx(t[100])
    fell = np.zeros(len(t), dtype=bool)
    fell[50] = True
    assert judge(flat_hurdle, t, pos, fell=fell).time_s == pytest.approx(t[50])


def test_lying_low_is_a_fall_only_when_asked():
    hurdle = load_course("hurdle")
    t, pos = walk(0.0, 1.0, 2.0, z=0.08)
    assert judge(hurdle, t, pos).status == "timed_out"
    assert judge(hurdle, t, pos, criteria=Criteria(min_base_height=0.12)).status == "fell"


def test_stuck_versus_timed_out():
    hurdle = load_course("hurdle")
    t, pos = walk(0.0, 1.5, 10.0)
    pos[t > 3.0, 0] = pos[np.argmax(t > 3.0), 0]  # stops in front of the first hurdle after 3 s
    out = judge(hurdle, t, pos)
    assert out.status == "stuck" and out.obstacles_crossed == 0
    t, pos = walk(0.0, 5.0, 10.0)  # still moving when time runs out
    out = judge(hurdle, t, pos)
    assert out.status == "timed_out" and out.obstacles_crossed == 2 and out.distance_m == pytest.approx(5.0)


def test_going_around_an_obstacle_is_not_a_success():
    hurdle = load_course("hurdle")
    t, pos = walk(0.0, hurdle.goal_x + 0.5, 30.0, y=1.5)  # parallel to the hurdles, beside them
    out = judge(hurdle, t, pos)
    assert out.status == "bypassed" and not out.succeeded and "hurdles_0" in out.reason


def test_success_follows_the_variant_geometry():
    course = load_course("hurdle")
    variant = randomize(course, 5)
    assert variant.goal_x != course.goal_x
    t, pos = walk(0.0, min(course.goal_x, variant.goal_x) + 0.01, 20.0)
    shorter = course if course.goal_x < variant.goal_x else variant
    longer = variant if shorter is course else course
    assert judge(shorter, t, pos).succeeded and not judge(longer, t, pos).succeeded


def test_progress_term_and_bad_trajectories():
    stairs = load_course("stairs_up")
    risers = [o.x1 for o in stairs.obstacles]
    np.testing.assert_array_equal(obstacles_crossed(stairs, np.array([0.0, risers[0] + 0.01, risers[-1] + 1])), [0, 1, 5])
    with pytest.raises(ValueError, match="pos"):
        judge(stairs, np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        judge(stairs, np.arange(2.0), np.array([[0, 0, np.nan], [0, 0, 0.3]]))
    with pytest.raises(ValueError, match="backwards"):
        judge(stairs, np.array([1.0, 0.0]), np.zeros((2, 3)))
