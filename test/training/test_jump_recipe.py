"""The jumping teacher's recipe (issue 17): goal velocity capped at the command, a cost for not
following it, feet on edges; and the property it exists for: standing at an obstacle's edge is
worth less than nothing, where the shipped (climb) recipe pays for it."""

import numpy as np
import pytest
from test_walk_rewards import state

from lucid_ros.training import rewards as R
from lucid_ros.training.config import EnvConfig, PPOConfig
from lucid_ros.training.parkour import (
    JUMP_MOVING_COST,
    ParkourConfig,
    goal_speed,
    jump_weights,
    on_edge,
    teacher_env_config,
    teacher_weights,
)

DT = 0.02
FWD = np.array([[0.5, 0.0, 0.0]] * 4)


def test_goal_velocity_is_capped_at_the_command_and_pays_nothing_for_standing():
    s = state(4, command=FWD, goal_speed=np.array([0.0, 0.25, 0.5, 1.2]))
    assert R.tracking_goal_vel(s).tolist() == [0.0, 0.5, 1.0, 1.0]  # a 1.2 m/s leap is paid in full, not 0.09
    assert R.stall(s).tolist() == [1.0, 0.0, 0.0, 0.0]
    still = state(4, goal_speed=np.zeros(4))  # told to stand: no goal, no stall
    assert R.tracking_goal_vel(still).tolist() == [0.0] * 4 and R.stall(still).tolist() == [0.0] * 4
    assert R.tracking_goal_vel(state(4, command=FWD)).tolist() == [0.0] * 4  # no goal given (WalkEnv)


def test_feet_on_an_edge_count_only_while_they_stand_there():
    contact = np.array([[True, True, False, False]] * 4)
    edge = np.array([[True, False, True, False]] * 4)
    assert R.feet_edge(state(4, foot_contact=contact, foot_edge=edge)).tolist() == [1.0] * 4


def test_standing_at_an_edge_is_worth_less_than_nothing_with_the_jump_recipe_only():
    """A robot told 0.5 m/s that stands still at a gap's rim, yaw tracked perfectly, feet planted:
    the shipped recipe pays it every step (what taught the teacher to refuse); the jump recipe
    charges it, and does not clip the charge away."""
    s = state(4, command=FWD, goal_speed=np.zeros(4), phase=np.full(4, 0.3), foot_edge=np.zeros((4, 4), bool))
    terms = R.compute_terms(s, R.RewardParams(), np.array([0, 3, 6, 9]))
    climb, _ = R.total(terms, teacher_weights(), DT, only_positive=teacher_env_config(4).clip_reward_at_zero)
    jump, weighted = R.total(terms, jump_weights(), DT, only_positive=teacher_env_config(4, "jump").clip_reward_at_zero)
    assert np.all(climb > 0) and np.all(jump < 0), (climb, jump, weighted)
    moving = state(4, command=FWD, goal_speed=np.full(4, 0.5), phase=np.full(4, 0.3))
    go, _ = R.total(R.compute_terms(moving, R.RewardParams(), np.array([0, 3, 6, 9])), jump_weights(), DT, only_positive=False)
    assert np.all(go > 0)
    with pytest.raises(ValueError, match="unknown teacher recipe 'hop'"):
        teacher_env_config(4, "hop")


def test_falling_never_beats_carrying_on_slowly_and_refusing_never_beats_falling():
    """The fall cost's reason (phase 1 ran without it and learned to fall: docs/training.md). In
    discounted value, per behaviour at a 0.5 m/s command, from the recipe's own terms:
    carrying on at a quarter of the speed (no stall cost, the measured costs of moving every step,
    forever) > falling now (the fall cost once) > refusing at the edge (the stall cost every step
    until the stuck rule ends the episode, then the fall cost). Changing the stall or fall cost,
    the stuck window or gamma without keeping this order fails here."""
    gamma, n_stuck = PPOConfig().gamma, round(ParkourConfig().stuck_s / DT)
    cfg = teacher_env_config(4, "jump")
    hips = np.array([0, 3, 6, 9])

    def step_reward(goal: float) -> float:
        s = state(4, command=FWD, goal_speed=np.full(4, goal), foot_edge=np.zeros((4, 4), bool))
        r, _ = R.total(R.compute_terms(s, R.RewardParams(), hips), cfg.weights, DT, only_positive=cfg.clip_reward_at_zero)
        return float(r[0])

    slow = (step_reward(0.125) - JUMP_MOVING_COST) / (1 - gamma)
    fall = cfg.fall_cost
    refuse = step_reward(0.0) * (1 - gamma**n_stuck) / (1 - gamma) + gamma**n_stuck * cfg.fall_cost
    assert slow > fall + 0.5 and fall > refuse + 0.5, (slow, fall, refuse)
    # the walking and climbing recipes keep legged_gym's zero clip and charge no fall
    assert teacher_env_config(4).fall_cost == 0.0 and EnvConfig().fall_cost == 0.0


def test_the_goal_points_at_the_course_line_ahead_and_edges_are_found():
    xy = np.array([[0.0, 0.0], [0.0, 1.0]])
    v = np.array([[1.0, 0.0], [0.0, -1.0]])
    # on the line, moving along it: full speed; 1 m off the line, moving straight back to it: 1/sqrt(2)
    np.testing.assert_allclose(goal_speed(xy, v, line_y=0.0), [1.0, np.sqrt(0.5)])
    hurdle = lambda p: np.where((p[..., 0] >= 1.0) & (p[..., 0] < 1.3), 0.3, 0.0)  # noqa: E731
    feet = np.array([[[0.97, 0.0], [1.15, 0.0], [1.27, 0.0], [0.5, 0.0]]])  # at the near rim, on top, at the far rim, away
    assert on_edge(hurdle, feet).tolist() == [[True, False, True, False]]
