"""Rotation helpers shared by the estimator, observation terms, safety checks and the sim.

Quaternions are (w, x, y, z). All functions accept a leading batch dimension.
"""

from __future__ import annotations

import numpy as np


def quat_conj(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) v by quaternion(s) q (body -> world for a world-from-body q)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if q.shape == (4,) and v.shape == (3,):
        return _quat_rotate_one(q, v)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def _quat_rotate_one(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """quat_rotate of one quaternion and one vector in Python floats: the same operations in the
    same order as the array path (bit-identical, test_mathutil), at a 50th of np.cross's cost,
    which was a third of a fake robot's 500 Hz tick."""
    w, x, y, z = (float(c) for c in q)
    a, b, c = (float(e) for e in v)
    t0, t1, t2 = 2.0 * (y * c - z * b), 2.0 * (z * a - x * c), 2.0 * (x * b - y * a)
    return np.array([a + w * t0 + (y * t2 - z * t1), b + w * t1 + (z * t0 - x * t2), c + w * t2 + (x * t1 - y * t0)])


def quat_rotate_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) v by the inverse of q (world -> body for a world-from-body q)."""
    return quat_rotate(quat_conj(q), v)


def projected_gravity(q: np.ndarray) -> np.ndarray:
    """Unit gravity direction expressed in the body frame: (0, 0, -1) when level."""
    q = np.asarray(q, dtype=np.float64)
    g = np.broadcast_to(np.array([0.0, 0.0, -1.0]), q.shape[:-1] + (3,))
    return quat_rotate_inverse(q, g)


def quat_to_rpy(q: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw (ZYX intrinsic) of a world-from-body quaternion."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.stack([roll, pitch, yaw], axis=-1)


def rpy_to_quat(rpy: np.ndarray) -> np.ndarray:
    rpy = np.asarray(rpy, dtype=np.float64)
    r, p, y = rpy[..., 0] / 2, rpy[..., 1] / 2, rpy[..., 2] / 2
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.stack(
        [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy],
        axis=-1,
    )


def quat_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) of world-from-body quaternion(s): columns are the body axes in the world."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def yaw_of(q: np.ndarray) -> np.ndarray:
    return quat_to_rpy(q)[..., 2]
