"""The teacher's training world: how its envs are spread over the course levels, and how an
episode that stops making progress ends (as a failure, like the success table's `stuck`)."""

from dataclasses import replace

import numpy as np
import pytest

from lucid_ros.paths import config_dir
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.training.parkour import JUMP_FALL_COST, ParkourConfig, ParkourEnv, ground_ahead, split_envs, teacher_env_config


def test_envs_follow_the_shares_and_every_level_gets_one():
    shares = ParkourConfig().world_shares()
    counts = split_envs(504, shares)
    assert sum(counts) == 504 and min(counts) >= 1
    # the frontier levels (hurdles 0.21/0.23 m, riser 0.17 m) get about 4x the 0.6 m gaps' envs
    assert counts[3] >= 3.5 * counts[-3] and counts[4] >= 3.5 * counts[-3]
    small = split_envs(8, shares)
    assert sum(small) == 8 and max(small) == 1  # a smoke run: 8 worlds of 20 get one env each
    with pytest.raises(ValueError, match="positive"):
        split_envs(10, [1.0, 0.0])
    with pytest.raises(ValueError, match="shares\\['hurdle'\\] has 2 entries for 7 levels"):
        replace(ParkourConfig(), shares={"hurdle": (1.0, 1.0)}).world_shares()


def test_a_swing_foot_must_clear_the_hurdle_just_ahead_of_it_not_only_the_ground_under_it():
    step = lambda xy: np.where((xy[..., 0] >= 1.0) & (xy[..., 0] < 1.3), 0.25, 0.0)  # noqa: E731 - a 0.3 m deep hurdle at x = 1
    feet = np.array([[[0.85, 0.1], [0.6, -0.1], [1.1, 0.1], [1.4, 0.0]]] * 2)  # 0.15 m before it, 0.4 m before, on it, past it
    reach = ParkourConfig().clear_reach
    forward = ground_ahead(step, feet, np.array([0.0, 0.0]), reach)
    assert forward[0].tolist() == [0.25, 0.0, 0.25, 0.0]
    backward = ground_ahead(step, feet, np.array([np.pi, np.pi]), reach)  # heading back: the foot past it sees it
    assert backward[0].tolist() == [0.0, 0.0, 0.25, 0.25]


@pytest.fixture(scope="module")
def hurdle_env():
    robot = load_robot("go1")
    spec = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    pk = ParkourConfig(levels={"hurdle": (0.0,)}, shares={"hurdle": (1.0,)}, parkour_seeds=(), p_stand=0.0)
    cfg = replace(teacher_env_config(4), latency_steps=(0, 0))
    return ParkourEnv(robot, spec, cfg, pk, seed=3, nthread=1), pk


def test_a_robot_that_stands_in_front_of_the_hurdles_is_ended_as_a_failure_after_the_stuck_window(hurdle_env):
    env, pk = hurdle_env
    env.reset_all()
    hold = np.zeros((env.n, env.robot.n_joints))  # the default pose: it stands, it never walks
    ended_at = np.full(env.n, np.nan)
    for k in range(int((pk.stuck_s + 1.0) / env.dt)):
        _obs, _priv, _rew, fell, timeout, _info = env.step(hold)
        first = (fell | timeout) & np.isnan(ended_at)
        assert not (timeout & first).any(), "a standing robot does not reach the goal"
        ended_at[first] = (k + 1) * env.dt
    assert np.all(np.abs(ended_at - pk.stuck_s) < 3 * env.dt), ended_at  # the window starts at the first step


def test_an_env_told_to_stand_still_is_never_stuck_and_is_paid_for_standing(hurdle_env):
    """Zero commands (issue 17: the shipped teacher never saw one and walks off at cmd_vel 0): a
    standing env is unsteered, holds (0, 0, 0), is not ended by the stuck rule, and the stand-still
    term is in its reward."""
    env, pk = hurdle_env
    env.pk = replace(pk, p_stand=1.0)
    try:
        env.reset_all()
        assert np.all(env.command == 0.0) and not env.steered.any()
        hold = np.zeros((env.n, env.robot.n_joints))
        ended = np.zeros(env.n, dtype=bool)
        stand = []
        for _ in range(int((pk.stuck_s + 1.0) / env.dt)):
            _obs, _priv, _rew, fell, timeout, info = env.step(hold)
            ended |= fell | timeout
            stand.append(info["terms"]["stand_still"])
        assert not ended.any(), "standing on command is what it was told to do"
        assert np.all(env.command == 0.0)
        assert min(stand) < 0.0  # the default pose is paid for (a penalty on distance from it)
    finally:
        env.pk = pk


def test_progress_keeps_an_episode_going(hurdle_env):
    env, pk = hurdle_env
    env.reset_all()
    stuck = []
    for k in range(int(3 * pk.stuck_s / env.dt)):  # 0.1 m/s: 0.5 m per stuck window, slow but moving
        env.t[:] = (k + 1) * env.dt
        stuck.append(env._stuck(np.full(env.n, 0.1 * env.t[0])))
    assert not np.any(stuck)
    env.t[:] += pk.stuck_s + env.dt  # then it stops
    assert env._stuck(np.full(env.n, 0.1 * (env.t[0] - pk.stuck_s - env.dt))).all()


def test_a_joint_past_what_the_supervisor_tolerates_ends_the_episode_as_a_fall(hurdle_env):
    """On the robot the supervisor damps a calf pushed past 1.1x its range (a teacher climbing a
    hurdle did, in the success table); in training the same state ends the episode as a fall."""
    env, _pk = hurdle_env
    env.reset_all()
    w = env.worlds[0]
    calf = w.index.joint_qpos[2]  # FR calf: range [-2.818, -0.888], the supervisor trips above -0.79
    # The model's stiff stop (solreflimit 0.004 s) pushes a calf 0.44 rad past it back inside within
    # one 20 ms control step, so env 0's simulated stop is opened for this step: the pose survives
    # the physics, and the check reads the robot description's range, not the model's.
    jid = int(np.flatnonzero(w.model.jnt_qposadr == calf)[0])
    ranges = w.batch.expand("jnt_range")
    saved = ranges[0, jid].copy()
    try:
        ranges[0, jid] = (-2.818, 0.5)
        qpos = w.qpos[:]
        qpos[0, calf] = -0.45
        w.qpos[:] = qpos
        w.batch.forward(np.arange(env.n))
        _obs, _priv, _rew, fell, _timeout, _info = env.step(np.zeros((env.n, env.robot.n_joints)))
    finally:
        ranges[0, jid] = saved
    assert fell.tolist() == [True] + [False] * (env.n - 1)


def test_envs_are_steered_back_to_the_course_line_with_the_success_tables_yaw_rate(hurdle_env):
    """The student learns to follow the yaw-rate input only if it is shown one: steered envs get the
    success table's TrackSteer command from their pose every step; the others a constant yaw rate."""
    from lucid_ros.evaluation.steer import TrackSteer
    from lucid_ros.mathutil import rpy_to_quat

    env, pk = hurdle_env
    env.reset_all()
    w = env.worlds[0]
    line_y = w.terrain.course.spawn_xy[1]
    root = w.index.root_qpos
    qpos = w.qpos[:]
    # env 0: 0.3 m right of the line, heading along it; env 1: on the line, turned 0.3 rad left
    for i, (dy, yaw) in enumerate([(-0.3, 0.0), (0.0, 0.3)]):
        qpos[i, root + 1] = line_y + dy
        qpos[i, root + 3 : root + 7] = rpy_to_quat(np.array([[0.0, 0.0, yaw]]))[0]
    w.qpos[:] = qpos
    w.batch.forward(np.arange(env.n))
    env.steered[:] = [True, True, False, False]
    env.command[2:, 2] = [0.25, -0.35]
    env.cmd_timer[:] = 10.0  # no resampling during the step
    env.step(np.zeros((env.n, env.robot.n_joints)))
    seen = env.last_inputs.command[:, 2]  # what the policy observes
    assert seen[0] > 0.2 and seen[1] < -0.2, seen  # turn left back to the line; turn right back to it
    assert seen[2:].tolist() == [0.25, -0.35]  # unsteered: the constant yaw rate stands
    s = env.state
    want = TrackSteer.for_course(w.terrain.course).wz_array(s["pos"][:2, 0], s["pos"][:2, 1], s["yaw"][:2])
    np.testing.assert_allclose(seen[:2], want)  # the same law the success table steers with
    # fresh commands draw both kinds, steered in about the configured share
    share, free = [], []
    for _ in range(200):
        env._sample_commands(np.arange(env.n))
        share.append(env.steered.mean())
        free.extend(env.command[~env.steered, 2])
    assert abs(np.mean(share) - pk.steer_share) < 0.05
    assert np.all(np.abs(free) <= pk.wz_free[1]) and np.std(free) > 0.15


def test_the_jump_recipe_charges_a_robot_that_stands_at_the_course_instead_of_going():
    """The jump recipe through the real env: goal speed and edges from the course, a robot holding
    its default pose under a forward command is charged every step (no zero clip), and once more,
    by the fall cost, on the step the stuck rule ends its episode as a failure."""
    robot = load_robot("go1")
    spec = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    pk = ParkourConfig(levels={"hurdle": (0.0,)}, shares={"hurdle": (1.0,)}, parkour_seeds=(), p_stand=0.0)
    env = ParkourEnv(robot, spec, replace(teacher_env_config(4, "jump"), latency_steps=(0, 0)), pk, seed=3, nthread=1)
    env.reset_all()
    hold = np.zeros((env.n, robot.n_joints))
    for _ in range(25):  # 0.5 s: it settles, it does not walk
        _obs, _priv, rew, fell, _timeout, info = env.step(hold)
    assert not fell.any()
    assert "goal_speed" in env.state and "foot_edge" in env.state
    assert info["terms"]["stall"] < 0 and np.all(rew < 0), (rew, info["terms"])
    assert "fall_cost" not in info["terms"] or info["terms"]["fall_cost"] == 0.0
    before = rew
    for _ in range(int((pk.stuck_s + 0.5) / env.dt)):
        _obs, _priv, rew, fell, timeout, info = env.step(hold)
        if fell.any():
            break
        before = rew
    assert fell.all() and not timeout.any(), "the stuck rule ends every standing env as a failure"
    np.testing.assert_allclose(rew - before, JUMP_FALL_COST, atol=0.05)  # one step's terms change little
    assert info["terms"]["fall_cost"] == pytest.approx(JUMP_FALL_COST)


def test_every_world_reads_its_own_feet():
    """A course's boxes come before the robot's geoms in MuJoCo's numbering, so the feet's geom ids
    differ between worlds (hurdle 5 boxes, gaps 7): each world's feet must be read with its own ids.
    (Until 2026-12-05 every world used the first world's: on stairs_down and gaps, the training
    'feet' were the calf and thigh geoms.)"""
    robot = load_robot("go1")
    spec = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    pk = ParkourConfig(levels={"hurdle": (0.0,), "stairs_down": (0.0,), "gaps": (0.0,)}, shares={"hurdle": (1.0,), "stairs_down": (1.0,), "gaps": (1.0,)},
                       parkour_seeds=(), p_stand=0.0)  # fmt: skip
    env = ParkourEnv(robot, spec, replace(teacher_env_config(3), latency_steps=(0, 0)), pk, seed=1, nthread=1)
    assert len({tuple(w.index.feet) for w in env.worlds}) == 3, "the test needs worlds whose feet have different ids"
    env.reset_all()
    for _ in range(10):
        env.step(np.zeros((env.n, robot.n_joints)))
    s = env.state
    for w in env.worlds:
        np.testing.assert_array_equal(s["foot_pos"][w.sl], w.geom_xpos[:, w.index.feet])
    drop = s["foot_pos"][..., 2] - env.foot_radius - s["ground_feet"]
    assert np.all(np.abs(drop) < 0.03), f"standing feet are on the ground, not {drop.round(3)} m above it"
