"""The success table's operator steers back to the course line and never across it."""

import math

import pytest

from lucid_ros.evaluation.steer import TrackSteer
from lucid_ros.sim.course_variants import randomize
from lucid_ros.sim.courses import load_course


def test_on_the_line_and_heading_along_it_no_turn():
    s = TrackSteer((0.0, 10.0), (0.0, 0.0))
    assert s.wz(3.0, 0.0, 0.0) == 0.0


def test_right_of_the_line_turns_left_and_left_of_it_turns_right():
    s = TrackSteer((0.0, 10.0), (0.0, 0.0))
    assert s.wz(5.0, -0.5, 0.0) > 0.1  # y < line: turn towards +y
    assert s.wz(5.0, +0.5, 0.0) < -0.1
    # already heading back at the wanted angle: no further turn
    assert s.wz(5.0, -0.2, 0.2) == pytest.approx(0.0, abs=1e-12)


def test_limits_hold_far_off_the_line_and_the_turn_back_takes_the_short_way():
    s = TrackSteer((0.0, 10.0), (0.0, 0.0))
    assert s.wz(5.0, -50.0, 0.0) == s.max_wz
    assert s.wz(5.0, 50.0, 0.0) == -s.max_wz
    # nearly backwards at yaw π - 0.1: back to 0 is π - 0.1 clockwise, π + 0.1 anticlockwise
    assert s.wz(5.0, 0.0, math.pi - 0.1) == -s.max_wz
    assert s.wz(5.0, 0.0, -math.pi + 0.1) == s.max_wz


@pytest.mark.parametrize("course", ["hurdle", "gaps", "stairs_up", "stairs_down", "parkour"])
@pytest.mark.parametrize("seed", [0, 3, 17])
def test_the_line_runs_through_every_obstacle(course, seed):
    """Steering aims the robot at the obstacles (their waypoints), never beside them."""
    c = randomize(load_course(course), seed)
    s = TrackSteer.for_course(c)
    assert c.obstacles
    for o in c.obstacles:
        y = s.line_y(0.5 * (o.x0 + o.x1))
        assert o.y0 + 0.2 < y < o.y1 - 0.2, f"{o.name}: line at y={y:+.2f}, footprint [{o.y0:+.2f}, {o.y1:+.2f}]"


def test_the_run_monitor_publishes_the_operators_yaw_rate_only_while_running():
    """The success table's monitor node turns ground truth into cmd_vel through the operator."""
    import rclpy
    from nav_msgs.msg import Odometry
    from std_msgs.msg import String

    from lucid_ros.nodes.graph import RunMonitor

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        mon = RunMonitor(0.3, (0.5, 0.0, 0.0), context=ctx)
        mon.steer = TrackSteer((0.0, 10.0), (0.0, 0.0)).wz
        odom = Odometry()
        odom.pose.pose.position.x, odom.pose.pose.position.y = 3.0, -0.5  # right of the line
        odom.pose.pose.orientation.w = 1.0
        mon._on_gt(odom)
        assert mon.cmd == (0.5, 0.0, 0.0)  # standing: the operator does not steer yet
        mon._on_state(String(data="RUNNING"))
        mon._on_gt(odom)
        assert mon.cmd[0] == 0.5 and mon.cmd[2] > 0.1  # turning left, back to the line
        mon.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
