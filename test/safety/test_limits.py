"""clip_targets: position limits and per-tick rate limit, shared by the supervisor and training."""

import numpy as np

from lucid_ros.robots import load_robot
from lucid_ros.safety.limits import clip_targets

ROBOT = load_robot("go1", check_models=False)
STEP = ROBOT.safety.max_target_step


def test_inside_limits_and_step_is_untouched():
    q = ROBOT.default_pose + 0.1
    out, mask = clip_targets(q, ROBOT.default_pose, ROBOT)
    np.testing.assert_array_equal(out, q)
    assert not mask.any()


def test_position_limits_clip_and_report():
    q = ROBOT.default_pose.copy()
    q[0] = ROBOT.upper[0] + 1.0
    q[2] = ROBOT.lower[2] - 1.0
    out, mask = clip_targets(q, None, ROBOT)
    assert out[0] == ROBOT.upper[0] and out[2] == ROBOT.lower[2]
    assert mask.tolist() == [True, False, True] + [False] * 9


def test_rate_limit_relative_to_previous_target():
    prev = ROBOT.default_pose
    q = prev + np.linspace(-1.2, 1.2, ROBOT.n_joints)
    out, mask = clip_targets(q, prev, ROBOT, max_step=0.1)
    assert np.all(np.abs(out - prev) <= 0.1 + 1e-12)
    assert np.all(out >= ROBOT.lower) and np.all(out <= ROBOT.upper)
    np.testing.assert_array_equal(mask, np.abs(q - prev) > 0.1)


def test_default_step_is_the_robots():
    prev = ROBOT.default_pose
    out, _ = clip_targets(prev + 10.0, prev, ROBOT)
    np.testing.assert_allclose(out, np.minimum(prev + STEP, ROBOT.upper))


def test_position_limits_win_over_rate_limit():
    prev = ROBOT.upper + 2.0  # never happens in the supervisor, but limits must still hold
    out, _ = clip_targets(prev, prev, ROBOT)
    np.testing.assert_array_equal(out, ROBOT.upper)


def test_batched_for_training():
    rng = np.random.default_rng(0)
    q = rng.uniform(-4, 4, (64, ROBOT.n_joints))
    prev = np.broadcast_to(ROBOT.default_pose, q.shape)
    out, mask = clip_targets(q, prev, ROBOT, max_step=0.2)
    assert out.shape == mask.shape == q.shape
    assert np.all(np.abs(out - prev) <= 0.2 + 1e-12)
    assert np.all((out >= ROBOT.lower) & (out <= ROBOT.upper))


def test_nan_propagates_and_is_flagged():
    q = ROBOT.default_pose.copy()
    q[4] = np.nan
    out, mask = clip_targets(q, ROBOT.default_pose, ROBOT)
    assert np.isnan(out[4]) and mask[4] and mask.sum() == 1
