"""The fake robot's operator (`lucid-ros fake-robot --operator track`): the person with the remote.

Its sticks travel in the protocol's own remote field and must come back out of the driver's
relay (RemoteMapper) as the forward speed asked and the success table's steering law
(TrackSteer) for where the robot really is: the fake-robot runs of a vision policy on a course
are judged against pure sim's, which that same law steers.
"""

from __future__ import annotations

import numpy as np
import pytest

from lucid_ros.evaluation.steer import TrackSteer
from lucid_ros.hardware import make_fake_robot
from lucid_ros.hardware.fakebase import RemoteOperator
from lucid_ros.hardware.go1.remote import RemoteMapper, decode_remote
from lucid_ros.hardware.lcm.driver import rc_to_remote
from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.robots import load_robot

ROBOT = load_robot("go1")


def _place(fake, x: float, y: float, yaw: float) -> None:
    sim = fake.sim
    r = sim.index.root_qpos
    sim.data.qpos[r : r + 2] = (x, y)
    sim.data.qpos[r + 3 : r + 7] = rpy_to_quat(np.array([0.0, 0.0, yaw]))


def _relayed(raw: bytes) -> tuple[float, float, float]:
    return RemoteMapper().cmd_vel(decode_remote(raw))


def test_the_operator_sticks_come_out_of_the_drivers_relay_as_speed_and_the_course_steering():
    fake = make_fake_robot("go1_udp", ROBOT, course="stairs_up", operator="track", operator_vx=0.5, port=0, settle_s=0.0)
    steer = TrackSteer.for_course(fake.sim.course)  # the seeded variant the fake built, as lucid-ros sim steers
    for x, y, yaw in ((0.0, 0.0, 0.0), (1.0, 0.4, 0.0), (1.0, -0.4, 0.1), (2.0, 0.0, -0.3)):
        _place(fake, x, y, yaw)
        vx, vy, wz = _relayed(fake.remote_bytes())
        assert vx == pytest.approx(0.5, abs=1e-6) and vy == 0.0
        assert wz == pytest.approx(steer.wz(x, y, yaw), abs=1e-5)
    _place(fake, 1.0, 0.4, 0.0)  # left of the line, pointing along it: turn right, back towards it
    assert _relayed(fake.remote_bytes())[2] < -0.1
    # the Mini Cheetah's LCM bridge carries the same sticks in rc_command
    st = fake.sticks()
    assert _relayed(rc_to_remote({"left_stick": [st["lx"], st["ly"]], "right_stick": [st["rx"], st["ry"]]})) == pytest.approx(
        _relayed(fake.remote_bytes()), abs=1e-6
    )


def test_without_an_operator_the_sticks_are_centred_and_buttons_still_press():
    fake = make_fake_robot("go1_udp", ROBOT, course="stairs_up", port=0, settle_s=0.0)
    assert _relayed(fake.remote_bytes()) == (0.0, 0.0, 0.0)
    fake.press(("L2", "B"), 5.0)
    assert decode_remote(fake.remote_bytes()).held() == {"L2", "B"}


def test_a_bad_operator_is_refused_by_name():
    with pytest.raises(ValueError, match="operator 'wander'"):
        RemoteOperator.make("wander", None, 0.5)
    with pytest.raises(ValueError, match="operator_vx 2.5"):
        make_fake_robot("go1_udp", ROBOT, course="stairs_up", operator="track", operator_vx=2.5, port=0, settle_s=0.0)


def test_fake_robot_seed_builds_the_course_variant_the_success_table_and_sim_use():
    from lucid_ros.app.robot import fake_robot_options
    from lucid_ros.cli import build_parser
    from lucid_ros.sim.courses import load_course, randomize

    args = build_parser().parse_args(["fake-robot", "--robot", "go1", "--protocol", "go1_udp", "--course", "stairs_up", "--seed", "3", "--port", "0"])
    fake = make_fake_robot("go1_udp", ROBOT, **{**fake_robot_options(args), "settle_s": 0.0})
    want = randomize(load_course("stairs_up"), 3)
    assert fake.sim.course.obstacles == want.obstacles and fake.sim.course.goal_x == want.goal_x
    assert fake.sim.course.obstacles != randomize(load_course("stairs_up"), 0).obstacles  # the seed reached the world
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fake-robot", "--robot", "go1", "--protocol", "go1_udp", "--seed", "-1"])
