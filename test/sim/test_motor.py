"""The motor law and its randomisation knobs."""

import numpy as np
import pytest

from lucid_ros.sim.motor import MotorModel, pd_torque

EFFORT = np.array([10.0, 20.0, 30.0])


def cmd(q, dq=0.0, tau=0.0, kp=20.0, kd=0.5, batch=()):
    parts = [np.broadcast_to(np.asarray(v, float), (*batch, 3)) for v in (q, dq, tau, kp, kd)]
    return np.stack(parts, axis=-2)


def test_pd_law():
    tau = pd_torque(np.array([0.1, 0.2, 0.3]), np.array([1.0, 0.0, -1.0]), np.array([0.2, 0.2, 0.2]),
                    np.array([0.0, 1.0, 0.0]), np.array([0.5, 0.0, -0.5]), 20.0, np.array([0.5, 1.0, 2.0]), EFFORT)  # fmt: skip
    np.testing.assert_allclose(tau, [20 * 0.1 - 0.5 + 0.5, 0.0 + 1.0, 20 * -0.1 + 2.0 - 0.5])


def test_pd_clips_to_effort_each_joint():
    tau = pd_torque(np.zeros(3), np.zeros(3), np.array([10.0, -10.0, 0.5]), 0, 0, 20.0, 0.0, EFFORT)
    np.testing.assert_allclose(tau, [10.0, -20.0, 10.0])


def test_pd_broadcasts_leading_dims():
    q = np.random.default_rng(0).normal(size=(4, 5, 3))
    tau = pd_torque(q, 0.0, np.zeros(3), 0.0, 0.0, np.full((5, 1), 2.0), 0.0, EFFORT)
    assert tau.shape == (4, 5, 3)
    np.testing.assert_allclose(tau, np.clip(-2.0 * q, -EFFORT, EFFORT))


def test_default_motor_model_is_pd_torque_exactly():
    m = MotorModel(3, batch=(2,))
    q, dq = np.array([[0.1, 0.2, 0.3], [0.0, -0.1, 0.4]]), np.array([[1.0, 0, 0], [0, 2.0, 0]])
    c = cmd([0.5, 0.0, -0.5], tau=0.1, batch=(2,))
    expect = pd_torque(q, dq, c[:, 0], c[:, 1], c[:, 2], c[:, 3], c[:, 4], EFFORT)
    np.testing.assert_array_equal(m.torque(q, dq, c, EFFORT), expect)


def test_strength_and_gain_scales():
    q = np.zeros(3)
    m = MotorModel(3, strength=0.5, kp_scale=2.0, kd_scale=0.0)
    tau = m.torque(q, np.ones(3), cmd([0.1, 0.1, 0.1], kd=1.0), EFFORT)
    np.testing.assert_allclose(tau, 0.5 * (2.0 * 20 * 0.1))  # kd scaled to zero: no damping term


def test_latency_delays_commands_by_whole_steps_per_env():
    m = MotorModel(3, batch=(2,), latency_steps=np.array([0, 2]), kd_scale=0.0)
    q = np.zeros((2, 3))
    seen = [m.torque(q, q, cmd(k / 100, batch=(2,)), EFFORT)[:, 0] / 20 for k in range(5)]
    seen = np.array(seen)
    np.testing.assert_allclose(seen[:, 0], [0.0, 0.01, 0.02, 0.03, 0.04])  # no delay
    np.testing.assert_allclose(seen[:, 1], [0.0, 0.0, 0.0, 0.01, 0.02])  # 2 steps late, oldest first
    m.reset(np.array([1]))
    after = m.torque(q, q, cmd(0.5, batch=(2,)), EFFORT)[:, 0] / 20
    np.testing.assert_allclose(after, [0.5, 0.5])  # a reset env does not get pre-reset commands


def test_negative_latency_refused():
    with pytest.raises(ValueError):
        MotorModel(3, latency_steps=-1)
