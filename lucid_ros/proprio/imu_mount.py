"""An IMU carried by a link that a joint turns relative to the base, read as the base's IMU.

The real H1 carries its IMU on the torso, which the torso joint turns about the pelvis's z axis;
the stack (and every policy) wants the pelvis's attitude and rate. Unitree's deploy rotates the
IMU quaternion and gyro through the joint's angle and rate (unitree_rl_gym deploy_real
transform_imu_data); this is the same transform for any joint axis:

    R_base = R_mount * R(axis, q)^T          (world-from-body rotations)
    w_base = R(axis, q) * w_mount - axis * dq (body-frame rates)

`axis` is the joint axis in the base frame, which is also the mount frame's at q = 0 (the mount
frame must be aligned with the base there: robots/description.py checks it against the MJCF).
The accelerometer is rotated into the base's axes only: the lever arm from the mount to the base
origin (0.28 m on the H1) adds w x (w x r) + dw/dt x r, which needs the angular acceleration; at
a walking policy's rates that is well under 0.5 m/s^2 and no observation term here reads it.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.mathutil import quat_conj, quat_matrix


def axis_angle_quat(axis: np.ndarray, angle: float) -> np.ndarray:
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * a])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])  # fmt: skip


def mount_to_base(
    quat: np.ndarray, gyro: np.ndarray, acc: np.ndarray, axis: np.ndarray, angle: float, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(quat, gyro, acc) of the mount IMU -> the base's: quat (w, x, y, z) world-from-body, body-frame rates."""
    qj = axis_angle_quat(axis, angle)  # base-from-mount
    q = quat_mul(np.asarray(quat, float), quat_conj(qj))
    q = q / np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    R = quat_matrix(qj)
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    return q, R @ np.asarray(gyro, float) - a * rate, R @ np.asarray(acc, float)
