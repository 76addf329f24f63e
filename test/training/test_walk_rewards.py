"""Reward terms on hand-made states (numpy only: runs without torch)."""

import numpy as np
import pytest

from lucid_ros.training import rewards as R

N = 12
DEFAULT = np.tile([0.1, 0.8, -1.5], 4)


def state(b=2, **kw):
    z = lambda *s: np.zeros((b, *s))  # noqa: E731
    s = dict(
        command=z(3), lin_vel=z(3), ang_vel=z(3), gravity=np.tile([0.0, 0.0, -1.0], (b, 1)), base_height=np.full(b, 0.28),
        q=np.tile(DEFAULT, (b, 1)), dq=z(N), ddq=z(N), tau=z(N), action=z(N), last_action=z(N), default_pose=DEFAULT,
        lower=np.full(N, -3.0), upper=np.full(N, 3.0), foot_contact=np.ones((b, 4), bool), foot_height=z(4), foot_vel_xy=z(4),
        air_time=z(4), first_contact=np.zeros((b, 4), bool), collision=np.zeros(b), phase=np.zeros(b),
    )  # fmt: skip
    s.update(kw)
    return R.RewardState(**s)


def test_tracking_is_one_when_perfect_and_falls_with_error():
    s = state(
        command=np.array([[0.5, 0.1, 0.3], [0.5, 0.1, 0.3]]),
        lin_vel=np.array([[0.5, 0.1, 0.0], [0.0, 0.1, 0.0]]),
        ang_vel=np.array([[0, 0, 0.3], [0, 0, -0.7]]),
    )
    lin, ang = R.tracking_lin_vel(s, 0.2), R.tracking_ang_vel(s, 0.2)
    assert lin[0] == pytest.approx(1.0) and ang[0] == pytest.approx(1.0)
    assert lin[1] == pytest.approx(np.exp(-0.25 / 0.2)) and ang[1] == pytest.approx(np.exp(-1.0 / 0.2))


def test_trot_schedule_pairs_diagonals_and_stands_at_zero_command():
    cmd = np.array([[0.5, 0, 0], [0.0, 0, 0]])
    want = R.desired_stance(np.array([0.75, 0.75]), cmd)
    # feet FR, FL, RR, RL: FR+RL in stance, FL+RR swinging at this phase; all down when standing
    assert want[0].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert want[1].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert R.desired_stance(np.array([0.25]), cmd[:1])[0].tolist() == [0.0, 1.0, 1.0, 0.0]


def test_gait_contact_rewards_matching_the_clock():
    cmd = np.array([[0.5, 0, 0], [0.5, 0, 0]])
    contact = np.array([[True, False, False, True], [False, True, True, False]])
    s = state(command=cmd, foot_contact=contact, phase=np.array([0.75, 0.75]))
    assert R.gait_contact(s).tolist() == [1.0, 0.0]


def test_swing_height_only_penalises_low_swing_feet_while_moving():
    h = np.array([[0.0, 0.0, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0]])
    s = state(command=np.array([[0.5, 0, 0], [0.0, 0, 0]]), foot_height=h, phase=np.array([0.75, 0.75]))
    v = R.swing_height(s, 0.07)
    assert v[0] == pytest.approx(0.07**2)  # FL swings at 0 m (penalised), RR swings at 0.1 m (not)
    assert v[1] == 0.0


def test_obstacle_clearance_pays_airborne_feet_for_the_fraction_of_the_rise_ahead_they_clear():
    contact = np.array([[False, False, True, False], [False] * 4])
    rise = np.array([[0.22, 0.22, 0.22, 0.0], [0.02, 0.02, 0.02, 0.02]])  # a hurdle ahead of three feet / a 2 cm bump
    h = np.array([[0.25, 0.1, 0.0, 0.3], [0.3, 0.3, 0.3, 0.3]])
    v = R.obstacle_clearance(state(foot_contact=contact, obstacle_rise=rise, foot_height=h))
    # FR clears 0.22 + 0.03 (1), FL is at 0.1 of 0.25 (0.4); RR is on the ground, RL has nothing ahead
    assert v[0] == pytest.approx(1.0 + 0.1 / 0.25)
    assert v[1] == 0.0  # a bump under 5 cm is walking, not an obstacle
    assert R.obstacle_clearance(state()).tolist() == [0.0, 0.0]  # the walking env has no rise: nothing
    assert R.RewardWeights().obstacle_clearance == 0.0  # and the walking policy's weight is zero


def test_stand_still_and_hip_pose_are_zero_at_default_pose():
    s = state()
    assert np.all(R.stand_still(s) == 0) and np.all(R.hip_pose(s, np.array([0, 3, 6, 9])) == 0)
    q = np.tile(DEFAULT, (2, 1))
    q[:, 0] += 0.2
    s = state(q=q, command=np.array([[0.0, 0, 0], [1.0, 0, 0]]))
    assert R.stand_still(s).tolist() == pytest.approx([0.2, 0.0])
    assert R.hip_pose(s, np.array([0, 3, 6, 9])).tolist() == pytest.approx([0.04, 0.04])


def test_limits_air_time_and_total_clipping():
    q = np.tile(DEFAULT, (2, 1))
    q[0, 1] = 3.5
    s = state(q=q, command=np.array([[0.5, 0, 0], [0.0, 0, 0]]), air_time=np.full((2, 4), 0.35), first_contact=np.ones((2, 4), bool))
    assert R.dof_pos_limits(s).tolist() == pytest.approx([0.5, 0.0])
    assert R.feet_air_time(s, 0.15).tolist() == pytest.approx([0.8, 0.0])  # only while moving
    terms = R.compute_terms(s, R.RewardParams(), np.array([0, 3, 6, 9]))
    r, weighted = R.total(terms, R.RewardWeights(), 0.02)
    assert set(weighted) <= set(terms) and np.all(r >= 0)
    raw, _ = R.total(terms, R.RewardWeights(), 0.02, only_positive=False)
    assert raw[0] < r[0] or raw[0] >= 0
