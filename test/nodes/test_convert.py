"""Message conversions: stamps survive the round trip; joint order is by name; bad layouts are named."""

import numpy as np
import pytest

from lucid_ros.nodes import convert
from lucid_ros.types import JointCommand, JointSample


@pytest.mark.parametrize("t", [0.0, 0.02, 2.9999999999, 3.0, 1e-9, 123456.789])
def test_stamp_round_trip_never_loses_a_second(t):
    assert convert.from_time(convert.to_time(t)) == pytest.approx(t, abs=1e-9)


def test_joint_state_reordered_by_name():
    names = ["a", "b", "c"]
    msg = convert.joint_state_msg(JointSample(1.0, np.array([1.0, 2, 3]), np.array([4.0, 5, 6]), np.zeros(3)), ["c", "a", "b"])
    s = convert.joint_sample(msg, names)
    # the message said c=1, a=2, b=3
    assert list(s.q) == [2.0, 3.0, 1.0] and list(s.dq) == [5.0, 6.0, 4.0]


def test_joint_state_missing_joint_is_named():
    msg = convert.joint_state_msg(JointSample(1.0, np.zeros(2), np.zeros(2), np.zeros(2)), ["a", "b"])
    with pytest.raises(convert.MessageError, match="'c'"):
        convert.joint_sample(msg, ["a", "b", "c"])


def test_command_round_trip_and_layout_errors():
    cmd = JointCommand(2.5, np.array([0.1, 0.2]), np.array([0.0, 1.0]), np.array([0.5, -0.5]), np.array([20.0, 30.0]), np.array([0.5, 0.6]), "position")
    msg = convert.command_msg(cmd, ["x", "y"])
    back = convert.joint_command(msg, ["y", "x"])
    assert back.stamp == pytest.approx(2.5) and back.mode == "position"
    assert list(back.q) == [0.2, 0.1] and list(back.kp) == [30.0, 20.0] and list(back.kd) == [0.6, 0.5]
    msg.header.frame_id = "torque"
    with pytest.raises(convert.MessageError, match="mode"):
        convert.joint_command(msg, ["x", "y"])
    msg.header.frame_id = "position"
    msg.points = msg.points[:1]
    with pytest.raises(convert.MessageError, match="2 points"):
        convert.joint_command(msg, ["x", "y"])
