"""The rotation helpers agree with each other and with MuJoCo, one quaternion or a batch at a time.

quat_matrix lays the course boxes (ramps, rotated hurdles) and quat_rotate builds the observations;
if they disagreed, a ramp in the world would not be the ramp the policy's gravity term reports."""

import mujoco
import numpy as np

from lucid_ros.mathutil import quat_matrix, quat_rotate, quat_to_rpy, rpy_to_quat


def _random_quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_quat_matrix_rotates_like_quat_rotate_and_mujoco():
    qs = _random_quats(64)
    mats = quat_matrix(qs)
    assert mats.shape == (64, 3, 3)
    v = np.random.default_rng(1).normal(size=(64, 3))
    np.testing.assert_allclose(np.einsum("nij,nj->ni", mats, v), quat_rotate(qs, v), atol=1e-12)
    for q, m in zip(qs, mats, strict=True):
        ref = np.zeros(9)
        mujoco.mju_quat2Mat(ref, q)
        np.testing.assert_allclose(m, ref.reshape(3, 3), atol=1e-12)
        np.testing.assert_array_equal(quat_matrix(q), m)  # one quaternion gives the batch's answer exactly


def test_rpy_round_trip_and_yaw_is_a_heading():
    rpy = np.array([[0.1, -0.2, 0.3], [0.0, 0.0, np.pi / 2], [-0.4, 0.5, -2.0]])
    np.testing.assert_allclose(quat_to_rpy(rpy_to_quat(rpy)), rpy, atol=1e-12)
    # a quarter turn about z takes the body's forward axis to world +y
    np.testing.assert_allclose(quat_matrix(rpy_to_quat(rpy[1]))[:, 0], [0.0, 1.0, 0.0], atol=1e-12)


def test_one_quaternion_rotates_bit_for_bit_as_a_batch_does():
    """quat_rotate's one-vector path (Python floats: the fake robot's and the graph's 500 Hz
    readers) computes exactly what the batch path (training's observations) computes: train and
    deploy see the same bits, not merely close ones."""
    rng = np.random.default_rng(4)
    qs = _random_quats(2000, seed=5) * rng.choice([1e-3, 1.0, 1e3], size=(2000, 1))  # unnormalised too
    vs = rng.normal(size=(2000, 3)) * rng.choice([1e-3, 1.0, 1e3], size=(2000, 1))
    one = np.stack([quat_rotate(q, v) for q, v in zip(qs, vs, strict=True)])
    np.testing.assert_array_equal(one, quat_rotate(qs, vs))
