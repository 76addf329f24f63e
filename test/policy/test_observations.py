"""Observation assembly: layout, joint remapping, history layouts, resets, batching."""

from __future__ import annotations

import numpy as np
import pytest

from lucid_ros.mathutil import projected_gravity, rpy_to_quat
from lucid_ros.policy.fixtures import make_policy
from lucid_ros.policy.observations import ObservationBuilder, ObsInputs, roll_pitch_from_gravity
from lucid_ros.policy.spec import load_spec

from .conftest import LEGGED_GYM_ORDER


def _builder(tmp_path, robot, batch=1, **kw):
    spec = load_spec(make_policy(tmp_path, robot, **kw), robot)
    return spec, ObservationBuilder(spec, robot, batch=batch)


def _inputs(robot, batch=1, n_act=12, **kw):
    n = robot.n_joints
    base = dict(
        q=np.tile(robot.default_pose, (batch, 1)),
        dq=np.zeros((batch, n)),
        gravity=np.tile([0.0, 0.0, -1.0], (batch, 1)),
        ang_vel=np.zeros((batch, 3)),
        lin_vel=np.zeros((batch, 3)),
        command=np.zeros((batch, 3)),
        last_action=np.zeros((batch, n_act)),
        contacts=np.zeros((batch, len(robot.feet))),
        phase_time=np.zeros(batch),
    )
    base.update(kw)
    return ObsInputs(**base)


def test_doc_example_layout(tmp_path, go1):
    spec, b = _builder(tmp_path, go1)
    x = _inputs(
        go1,
        ang_vel=np.array([[4.0, 8.0, 12.0]]),
        command=np.array([[0.5, -0.25, 2.0]]),
        dq=np.full((1, 12), 20.0),
        last_action=np.arange(12.0)[None],
        gravity=np.array([[0.0, 0.6, -0.8]]),
    )
    obs = b.build(x)
    assert obs.shape == (1, 45) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[0, 0:3], [1.0, 2.0, 3.0])  # ang vel x 0.25
    np.testing.assert_allclose(obs[0, 3:6], [0.0, 0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(obs[0, 6:9], [1.0, -0.5, 0.5])  # command x (2, 2, 0.25)
    np.testing.assert_allclose(obs[0, 9:21], 0.0, atol=1e-7)  # default pose -> joint_pos_rel 0
    np.testing.assert_allclose(obs[0, 21:33], 1.0)  # 20 x 0.05
    np.testing.assert_allclose(obs[0, 33:45], np.arange(12.0))
    for name, start in [
        ("base_ang_vel", 0),
        ("projected_gravity", 3),
        ("velocity_command", 6),
        ("joint_pos_rel", 9),
        ("joint_vel", 21),
        ("last_action", 33),
    ]:
        assert spec.observation.term_indices(name)[0, 0] == start


def test_legged_gym_joint_order_lands_at_the_right_indices(tmp_path, go1):
    _, b = _builder(tmp_path, go1, joint_order=LEGGED_GYM_ORDER)
    q = go1.default_pose + 0.01 * np.arange(1, 13)  # canonical FR, FL, RR, RL
    dq = np.arange(1.0, 13.0)
    obs = b.build(_inputs(go1, q=q[None], dq=dq[None]))[0]
    # policy order FL, FR, RL, RR = canonical blocks 1, 0, 3, 2
    np.testing.assert_allclose(obs[9:21], [0.04, 0.05, 0.06, 0.01, 0.02, 0.03, 0.10, 0.11, 0.12, 0.07, 0.08, 0.09], atol=1e-6)
    np.testing.assert_allclose(obs[21:33], 0.05 * np.array([4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9.0]), rtol=1e-6)
    # joint_pos_rel subtracts each joint's own default: FL_hip default +0.1, FR_hip -0.1
    assert go1.default_pose[3] == 0.1 and go1.default_pose[0] == -0.1


HISTORY_TERMS = [{"name": "base_ang_vel", "scale": 0.5}, {"name": "velocity_command"}]
STEPS = [([1, 2, 3], [10, 20, 30]), ([4, 5, 6], [40, 50, 60]), ([7, 8, 9], [70, 80, 90]), ([11, 12, 13], [110, 120, 130])]


def _run_history(tmp_path, go1, layout):
    _, b = _builder(tmp_path, go1, terms=HISTORY_TERMS, history=3, history_layout=layout, obs_clip=None)
    return [b.build(_inputs(go1, ang_vel=np.array([av], float), command=np.array([c], float)))[0].tolist() for av, c in STEPS]


def test_history_term_major(tmp_path, go1):
    out = _run_history(tmp_path, go1, "term_major")
    # first frame of an episode fills the whole history
    assert out[0] == [0.5, 1, 1.5, 0.5, 1, 1.5, 0.5, 1, 1.5, 10, 20, 30, 10, 20, 30, 10, 20, 30]
    assert out[2] == [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert out[3] == [2, 2.5, 3, 3.5, 4, 4.5, 5.5, 6, 6.5, 40, 50, 60, 70, 80, 90, 110, 120, 130]


def test_history_time_major(tmp_path, go1):
    out = _run_history(tmp_path, go1, "time_major")
    assert out[0] == [0.5, 1, 1.5, 10, 20, 30] * 3
    assert out[2] == [0.5, 1, 1.5, 10, 20, 30, 2, 2.5, 3, 40, 50, 60, 3.5, 4, 4.5, 70, 80, 90]
    assert out[3] == [2, 2.5, 3, 40, 50, 60, 3.5, 4, 4.5, 70, 80, 90, 5.5, 6, 6.5, 110, 120, 130]


def test_term_indices_follow_the_layout(tmp_path, go1):
    spec, _ = _builder(tmp_path, go1, terms=HISTORY_TERMS, history=3, history_layout="time_major")
    assert spec.observation.term_indices("velocity_command").tolist() == [[3, 4, 5], [9, 10, 11], [15, 16, 17]]
    spec, _ = _builder(tmp_path, go1, name="tm", terms=HISTORY_TERMS, history=3, history_layout="term_major")
    assert spec.observation.term_indices("velocity_command").tolist() == [[9, 10, 11], [12, 13, 14], [15, 16, 17]]


def test_reset_refills_history_with_the_next_frame(tmp_path, go1):
    _, b = _builder(tmp_path, go1, terms=[{"name": "velocity_command"}], history=2, history_layout="term_major")
    for c in (1.0, 2.0):
        b.build(_inputs(go1, command=np.full((1, 3), c)))
    b.reset()
    assert b.build(_inputs(go1, command=np.full((1, 3), 5.0)))[0].tolist() == [5.0] * 6


def test_batched_build_equals_one_builder_per_env(tmp_path, go1):
    """Training (B envs, per-env resets) and the robot (B = 1) see identical observations."""
    B = 4
    spec, batched = _builder(tmp_path, go1, batch=B, history=3, history_layout="term_major")
    singles = [ObservationBuilder(spec, go1, batch=1) for _ in range(B)]
    rng = np.random.default_rng(0)
    for step in range(5):
        x = _inputs(
            go1,
            batch=B,
            q=rng.normal(size=(B, 12)),
            dq=rng.normal(size=(B, 12)),
            ang_vel=rng.normal(size=(B, 3)),
            command=rng.normal(size=(B, 3)),
            last_action=rng.normal(size=(B, 12)),
            gravity=rng.normal(size=(B, 3)),
        )
        if step == 3:
            batched.reset(np.array([False, True, False, True]))
            singles[1].reset()
            singles[3].reset()
        got = batched.build(x)
        for e in range(B):
            xe = ObsInputs(**{k: (None if v is None else v[e : e + 1]) for k, v in vars(x).items()})
            np.testing.assert_array_equal(got[e], singles[e].build(xe)[0])


def test_large_batch(tmp_path, go1):
    _, b = _builder(tmp_path, go1, batch=4096, history=2, history_layout="time_major")
    assert b.build(_inputs(go1, batch=4096)).shape == (4096, 90)


def test_gravity_and_roll_pitch_from_quat(tmp_path, go1):
    terms = [{"name": "projected_gravity"}, {"name": "roll_pitch"}]
    _, b = _builder(tmp_path, go1, terms=terms)
    quat = rpy_to_quat(np.array([[0.2, -0.3, 1.0]]))
    obs = b.build(_inputs(go1, gravity=None, quat=quat))[0]
    np.testing.assert_allclose(obs[:3], projected_gravity(quat)[0], rtol=1e-6)
    np.testing.assert_allclose(obs[3:], [0.2, -0.3], rtol=1e-6)
    b.reset()
    obs = b.build(_inputs(go1, gravity=projected_gravity(quat)))[0]  # no quat: roll/pitch from gravity
    np.testing.assert_allclose(obs[3:], [0.2, -0.3], rtol=1e-6)


def test_roll_pitch_from_gravity_matches_rpy():
    rpy = np.random.default_rng(2).uniform(-1.2, 1.2, size=(50, 3))
    np.testing.assert_allclose(roll_pitch_from_gravity(projected_gravity(rpy_to_quat(rpy))), rpy[:, :2], atol=1e-9)


def test_gait_phase_and_foot_contacts_in_policy_feet_order(tmp_path, go1):
    terms = [
        {"name": "gait_phase", "frequency": 2.0},
        {"name": "foot_contacts", "offset": -0.5, "feet": ["FL_foot", "FR_foot", "RL_foot", "RR_foot"]},
    ]
    _, b = _builder(tmp_path, go1, terms=terms)
    obs = b.build(_inputs(go1, phase_time=np.array([0.125]), contacts=np.array([[1.0, 0.0, 1.0, 0.0]])))[0]  # FR, FL, RR, RL
    np.testing.assert_allclose(obs, [1.0, 0.0, -0.5, 0.5, -0.5, 0.5], atol=1e-6)


def test_term_and_vector_clips(tmp_path, go1):
    terms = [{"name": "base_lin_vel", "scale": 2.0, "clip": 1.0}, {"name": "base_ang_vel"}]
    _, b = _builder(tmp_path, go1, terms=terms, obs_clip=5.0)
    obs = b.build(_inputs(go1, lin_vel=np.array([[0.25, 3.0, -3.0]]), ang_vel=np.array([[4.0, 6.0, -60.0]])))[0]
    assert obs.tolist() == [0.5, 1.0, -1.0, 4.0, 5.0, -5.0]


def test_missing_and_misshaped_inputs_are_named(tmp_path, go1):
    _, b = _builder(tmp_path, go1)
    assert b.required_inputs == {"ang_vel", "gravity", "command", "q", "dq", "last_action"}
    with pytest.raises(ValueError, match="'dq' is required"):
        b.build(_inputs(go1, dq=None))
    with pytest.raises(ValueError, match=r"'q' must have shape \(1, 12\), got \(12,\)"):
        b.build(_inputs(go1, q=go1.default_pose))


def test_returned_observation_is_not_a_view_of_the_history(tmp_path, go1):
    _, b = _builder(tmp_path, go1, history=2, history_layout="time_major")
    obs = b.build(_inputs(go1))
    obs[:] = 99.0
    assert b.build(_inputs(go1)).max() < 99.0


def test_from_state_makes_batch_one_inputs(tmp_path, go1):
    from lucid_ros.types import ProprioState

    state = ProprioState(
        stamp=1.0,
        q=go1.default_pose + 0.1,
        dq=np.ones(12),
        tau=np.zeros(12),
        quat=np.array([1.0, 0, 0, 0]),
        gravity=np.array([0.0, 0.0, -1.0]),
        ang_vel=np.array([0.4, 0.0, 0.0]),
        lin_vel=np.zeros(3),
    )
    x = ObsInputs.from_state(state, np.array([1.0, 0.0, 0.0]))
    assert x.q.shape == (1, 12) and x.command.shape == (1, 3) and x.contacts is None  # empty contacts -> not given
    x.last_action = np.zeros((1, 12))
    obs = _builder(tmp_path, go1)[1].build(x)[0]
    np.testing.assert_allclose(obs[[0, 6, 9, 21]], [0.1, 2.0, 0.1, 0.05], rtol=1e-6)


SCAN = {"name": "height_scan", "x": [-0.3, 0.6, 0.3], "y": [-0.3, 0.3, 0.3], "offset": -0.3, "scale": 5.0, "clip": 1.0}


def test_height_scan_grid_order_size_and_frame(tmp_path, go1):
    from lucid_ros.policy.observations import height_scan

    spec, b = _builder(tmp_path, go1, terms=[{"name": "base_ang_vel"}, SCAN])
    term = spec.observation.terms[1]
    pts = term.scan_points()
    assert term.size == 12 and pts.shape == (12, 2)
    assert np.allclose(pts[:3], [[-0.3, -0.3], [-0.3, 0.0], [-0.3, 0.3]])  # x-major: x varies slowest
    # A step 0.1 m high whose edge is at world x = 1.0 (terrain rises ahead of the robot).
    step = lambda xy: np.where(xy[..., 0] >= 1.0, 0.1, 0.0)  # noqa: E731
    base = np.array([[0.7, 0.0, 0.3]])
    fwd = height_scan(pts, base, np.array([0.0]), step)
    assert np.allclose(fwd[0].reshape(4, 3)[:, 0], [0.3, 0.3, 0.2, 0.2])  # points at x = 0.4, 0.7 see ground; 1.0, 1.3 the step
    back = height_scan(pts, base, np.array([np.pi]), step)  # turned around: the step is behind
    assert np.allclose(back[0].reshape(4, 3)[:, 0], [0.2, 0.3, 0.3, 0.3])
    obs = b.build(_inputs(go1, height_scan=fwd))
    assert np.allclose(obs[0, 3:], np.clip((fwd[0] - 0.3) * 5.0, -1, 1), atol=1e-6)


def test_height_scan_is_refused_without_a_whole_grid(tmp_path, go1):
    from lucid_ros.errors import ConfigError

    with pytest.raises(ConfigError, match=r"terms\[0\]\.x"):
        _builder(tmp_path, go1, terms=[dict(SCAN, x=[0.0, 1.0, 0.3])], obs_dim=10)
    with pytest.raises(ConfigError, match=r"terms\[0\]\.y"):
        _builder(tmp_path, go1, terms=[dict(SCAN, y=[0.3, -0.3, 0.1])], obs_dim=10)


def test_constants_and_command_components_in_place(tmp_path, go1):
    """extreme-parkour's frame: zeros where the yaw-to-waypoint entries were, the forward speed
    alone, the env-class flags; a constant is the same every step and after a reset."""
    terms = [
        {"name": "constant", "value": [0.0, 0.0, 0.0]},
        {"name": "velocity_command", "components": ["vx"]},
        {"name": "constant", "value": [1.0, 0.0]},
        {"name": "base_ang_vel"},
    ]
    spec, b = _builder(tmp_path, go1, batch=2, terms=terms)
    assert spec.observation.frame_dim == 9 and b.required_inputs == {"command", "ang_vel"}
    cmd = np.array([[0.6, 0.2, -0.3], [0.3, 0.0, 0.5]])
    obs = b.build(_inputs(go1, batch=2, command=cmd))
    np.testing.assert_allclose(obs, [[0, 0, 0, 0.6, 1, 0, 0, 0, 0], [0, 0, 0, 0.3, 1, 0, 0, 0, 0]], atol=1e-7)
    terms[1]["components"] = ["wz", "vx"]
    _, b = _builder(tmp_path, go1, terms=terms)
    np.testing.assert_allclose(b.build(_inputs(go1, command=cmd[:1]))[0, 3:5], [-0.3, 0.6], atol=1e-7)


def test_a_term_with_its_own_history_keeps_only_its_newest_frames(tmp_path, go1):
    """A privileged height scan need not be stacked with the proprioception: `history: 1` on a term
    gives the network that term's newest frame only, in either layout."""
    terms = [{"name": "velocity_command", "history": 1}, {"name": "base_ang_vel", "scale": 0.5}]
    for layout, want, idx in (
        ("term_major", [110, 120, 130, 2, 2.5, 3, 3.5, 4, 4.5, 5.5, 6, 6.5], [[0, 1, 2]]),
        ("time_major", [2, 2.5, 3, 3.5, 4, 4.5, 110, 120, 130, 5.5, 6, 6.5], [[6, 7, 8]]),
    ):
        spec, b = _builder(tmp_path, go1, name=layout, terms=terms, history=3, history_layout=layout, obs_clip=None)
        assert spec.obs_dim == 12 and spec.observation.term_indices("velocity_command").tolist() == idx
        assert spec.observation.term_indices("base_ang_vel").shape == (3, 3)
        out = [b.build(_inputs(go1, ang_vel=np.array([av], float), command=np.array([c], float)))[0].tolist() for av, c in STEPS]
        assert out[3] == want, layout


def test_a_term_history_longer_than_the_observations_is_refused(tmp_path, go1):
    from lucid_ros.errors import ConfigError

    with pytest.raises(ConfigError, match=r"terms\[1\]\.history.*keeps 4 frames, more than the observation's history 3"):
        _builder(tmp_path, go1, terms=[{"name": "base_ang_vel"}, {"name": "velocity_command", "history": 4}], history=3, history_layout="term_major")
