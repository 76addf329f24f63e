"""Operator markers: arrows where the robot goes, the state in its colour, terrain samples placed
and coloured by height, and nothing drawn from stale data."""

import math

import numpy as np
import pytest

from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.operator import cloud
from lucid_ros.operator.markers import COMMANDED_COLOR, MEASURED_COLOR, STATE_COLORS, OperatorView, Pose, height_points, velocity_arrow

LEVEL = np.array([1.0, 0.0, 0.0, 0.0])


def by_ns(markers):
    return {m.ns: m for m in markers}


def test_arrow_points_along_the_body_velocity_rotated_by_yaw_and_scales_with_speed():
    pose = Pose(np.array([1.0, 2.0, 0.3]), rpy_to_quat(np.array([0.0, 0.0, math.pi / 2])))
    a = velocity_arrow("cmd_vel", (0.5, 0.0), pose, COMMANDED_COLOR, m_per_mps=2.0)
    start, end = a.points
    assert np.allclose(start, [1.0, 2.0, 0.45])
    assert np.allclose(end - start, [0.0, 1.0, 0.0], atol=1e-9)  # forward of a robot facing +y, 0.5 m/s x 2 m per m/s
    b = velocity_arrow("cmd_vel", (0.0, -0.25), pose, COMMANDED_COLOR, m_per_mps=2.0)
    assert np.allclose(b.points[1] - b.points[0], [0.5, 0.0, 0.0], atol=1e-9)  # body right = world +x when facing +y


def test_pitched_robot_arrow_stays_level_and_zero_speed_deletes_it():
    pose = Pose(np.zeros(3), rpy_to_quat(np.array([0.0, 0.4, 0.0])))
    a = velocity_arrow("m", (1.0, 0.0), pose, MEASURED_COLOR)
    assert a.points[1][2] == pytest.approx(a.points[0][2])
    assert velocity_arrow("m", (0.0, 0.0), pose, MEASURED_COLOR).kind == "delete"
    assert velocity_arrow("m", (float("nan"), 0.0), pose, MEASURED_COLOR).kind == "delete"


@pytest.mark.parametrize("state", ["PASSIVE", "STANDING", "RUNNING", "DAMPING", "ESTOP"])
def test_safety_text_colour_by_state(state):
    v = OperatorView()
    v.on_state(state)
    v.on_odom(0.0, [0, 0, 0.3], LEVEL, [0, 0, 0], [0, 0, 0])
    text = by_ns(v.markers(0.0))["safety_state"]
    assert text.text.startswith(state) and text.color == STATE_COLORS[state]
    assert text.position[2] > 0.3


def test_state_colours_are_what_operators_expect():
    grey, green, orange, red = STATE_COLORS["PASSIVE"], STATE_COLORS["RUNNING"], STATE_COLORS["DAMPING"], STATE_COLORS["ESTOP"]
    assert grey[0] == grey[1] == grey[2]
    assert green[1] > max(green[0], green[2]) and STATE_COLORS["STANDING"] == green
    assert red[0] > 0.9 and red[1] < 0.2 and orange[0] > orange[1] > orange[2]


def test_commanded_and_measured_arrows_differ_and_stale_command_is_drawn_as_zero():
    v = OperatorView(cmd_timeout=0.5)
    v.on_odom(0.0, [0, 0, 0.3], LEVEL, [0.2, 0.0, 0.0], [0, 0, 0.1])
    v.on_cmd(0.0, 0.6, 0.0, 0.0)
    m = by_ns(v.markers(0.1))
    assert m["cmd_vel"].kind == m["measured_vel"].kind == "arrow"
    assert m["cmd_vel"].color != m["measured_vel"].color
    lc = np.linalg.norm(np.diff(m["cmd_vel"].points, axis=0))
    lm = np.linalg.norm(np.diff(m["measured_vel"].points, axis=0))
    assert lc == pytest.approx(3 * lm)
    assert "+0.60" in m["safety_state"].text and "+0.20" in m["safety_state"].text
    v.on_odom(0.6, [0, 0, 0.3], LEVEL, [0.2, 0.0, 0.0], [0, 0, 0.1])
    assert by_ns(v.markers(0.7))["cmd_vel"].kind == "delete"  # the runner zeroes a silent cmd_vel: so do we


def test_no_odom_means_no_arrows_and_the_text_says_why():
    v = OperatorView(odom_timeout=1.0)
    v.on_cmd(0.0, 0.5, 0, 0)
    m = by_ns(v.markers(0.0))
    assert m["cmd_vel"].kind == "delete" and "odom: none" in m["safety_state"].text
    assert m["safety_state"].text.startswith("NO SAFETY STATE")
    v.on_odom(0.0, [0, 0, 0.3], LEVEL, [0, 0, 0], [0, 0, 0])
    assert "stale" in by_ns(v.markers(2.0))["safety_state"].text


def test_height_points_are_placed_in_odom_and_coloured_low_blue_high_red():
    pose = Pose(np.array([1.0, 0.0, 0.3]), rpy_to_quat(np.array([0.0, 0.0, math.pi])))
    pts = np.array([[0.5, 0.0, -0.3], [0.5, 0.1, -0.1], [np.nan, 0.0, 0.0]])
    m = height_points(pts, pose)
    assert m.kind == "spheres" and m.points.shape == (2, 3)
    assert np.allclose(m.points[0], [0.5, 0.0, 0.0]) and np.allclose(m.points[1], [0.5, -0.1, 0.2])
    low, high = m.colors
    assert low[2] > low[0] and high[0] > high[2]


def test_heights_appear_when_the_scan_arrives_and_go_when_it_stops():
    v = OperatorView(heights_timeout=1.0)
    v.on_odom(0.0, [0, 0, 0.3], LEVEL, [0, 0, 0], [0, 0, 0])
    assert by_ns(v.markers(0.0))["height_scan"].kind == "delete"
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 0.5, 5), np.linspace(-0.3, 0.3, 3)), -1).reshape(-1, 2)
    v.on_heights(0.0, np.c_[grid, np.full(len(grid), -0.3)])
    assert by_ns(v.markers(0.5))["height_scan"].points.shape == (15, 3)
    v.on_odom(2.0, [0, 0, 0.3], LEVEL, [0, 0, 0], [0, 0, 0])
    assert by_ns(v.markers(2.0))["height_scan"].kind == "delete"


def test_cloud_round_trip_and_refusals():
    pts = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, -0.25]])
    fields, data, step = cloud.xyz_bytes(pts)
    assert np.allclose(cloud.xyz(fields, data, 2, 1, step, 2 * step, False), pts)
    # a padded layout (x, y, z, intensity) and row padding
    rec = np.zeros(2, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("i", "<f4")])
    rec["x"], rec["y"], rec["z"] = pts.T
    f4 = [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("intensity", 12, 7, 1)]
    assert np.allclose(cloud.xyz(f4, rec.tobytes() + b"\0" * 8, 2, 1, 16, 40, False), pts)
    with pytest.raises(cloud.CloudError, match="no field"):
        cloud.xyz(fields[:2], data, 2, 1, step, 2 * step, False)
    with pytest.raises(cloud.CloudError, match="FLOAT32"):
        cloud.xyz([("x", 0, 8, 1), *fields[1:]], data, 2, 1, step, 2 * step, False)
    with pytest.raises(cloud.CloudError, match="bytes"):
        cloud.xyz(fields, data[:12], 2, 1, step, 2 * step, False)
