"""Pure safety checks: each returns a cause string (what is wrong, naming the input) or None.

The supervisor runs them every tick. None of the stacks we studied guarded against NaN or stale
data (docs: what-users-trip-over #9), so every input is checked for presence, shape, finiteness
and age. Comparisons are written so that a NaN anywhere (stamp, clock, value) fails the check
rather than passing it: `not (age <= timeout)` is True for NaN, `age > timeout` is not.

Cause strings start with the input's name (joint_states, imu, policy_target, camera) so an
operator, a test and the sim summary can all tell which input tripped.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.mathutil import quat_to_rpy
from lucid_ros.robots.description import RobotDescription, SafetyLimits
from lucid_ros.types import ImuSample, JointSample

JOINTS = "joint_states"
IMU = "imu"
POLICY = "policy_target"
CAMERA = "camera"

# Float slack on timeouts so that "stale after exactly its timeout" survives 0.1 + 0.2 != 0.3.
STALE_EPS = 1e-9
# A joint is out of range beyond `JOINT_RANGE_FACTOR` x its range about the range's middle
# (the soft-limit convention of legged_gym / Robot Parkour Learning).
JOINT_RANGE_FACTOR = 1.1
# An IMU quaternion whose norm is this far from 1 is a driver bug, not an orientation.
QUAT_NORM_TOL = 0.1


def _as_array(source: str, field: str, value: object, size: int) -> tuple[np.ndarray | None, str | None]:
    """Float array of the expected size, or a 'malformed' cause (never raises on garbage)."""
    try:
        a = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None, f"{source} malformed: {field} is not numeric"
    if a.size != size:
        return None, f"{source} malformed: {field} has {a.size} values, expected {size}"
    return a, None


def non_finite(source: str, **arrays: np.ndarray) -> str | None:
    """Names the first non-finite element, e.g. 'imu non-finite: gyro[1]=nan'."""
    for field, a in arrays.items():
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            return f"{source} non-finite: {field}[{bad[0]}]={a[bad[0]]}"
    return None


def check_joint_sample(sample: JointSample | None, n_joints: int) -> str | None:
    """Missing, wrong-sized or non-finite (q, dq, tau, stamp) joint sample."""
    if sample is None:
        return f"{JOINTS} missing: none received"
    arrays = {}
    for field in ("q", "dq", "tau"):
        a, err = _as_array(JOINTS, field, getattr(sample, field, None), n_joints)
        if err:
            return err
        arrays[field] = a
    arrays["stamp"] = np.array([_float(sample.stamp)])
    return non_finite(JOINTS, **arrays)


def check_imu_sample(sample: ImuSample | None) -> str | None:
    """Missing, wrong-sized, non-finite, or non-unit-quaternion IMU sample."""
    if sample is None:
        return f"{IMU} missing: none received"
    arrays = {}
    for field, size in (("quat", 4), ("gyro", 3), ("acc", 3)):
        a, err = _as_array(IMU, field, getattr(sample, field, None), size)
        if err:
            return err
        arrays[field] = a
    arrays["stamp"] = np.array([_float(sample.stamp)])
    err = non_finite(IMU, **arrays)
    if err:
        return err
    with np.errstate(over="ignore"):  # a 1e308 component overflows to inf, which fails below
        norm = float(np.linalg.norm(arrays["quat"]))
    if abs(norm - 1.0) > QUAT_NORM_TOL:
        return f"{IMU} malformed: quaternion norm {norm:.3f} is not 1"
    return None


def check_policy_target(q: object, kp: object, kd: object, n_joints: int) -> str | None:
    """Wrong-sized or non-finite target or gains, or a negative gain (which would push, not hold)."""
    arrays = {}
    for field, value in (("q", q), ("kp", kp), ("kd", kd)):
        a, err = _as_array(POLICY, field, value, n_joints)
        if err:
            return err
        arrays[field] = a
    err = non_finite(POLICY, **arrays)
    if err:
        return err
    for field in ("kp", "kd"):
        neg = np.flatnonzero(arrays[field] < 0)
        if neg.size:
            return f"{POLICY} malformed: {field}[{neg[0]}]={arrays[field][neg[0]]} is negative"
    return None


def check_stale(source: str, last_stamp: float | None, now: float, timeout: float) -> str | None:
    """Stale when now - last_stamp > timeout (strictly: at exactly the timeout it is still fresh).

    A stamp further in the future than the timeout is also a fault: it would otherwise count as
    fresh forever (typically a wall-clock stamp on a sim-time graph).
    """
    if last_stamp is None:
        return f"{source} missing: none received"
    age = _float(now) - _float(last_stamp)
    if not age <= timeout + STALE_EPS:
        if age != age:  # NaN
            return f"{source} stale: stamp {last_stamp} or clock {now} is not finite"
        return f"{source} stale: age {age:.3f} s > timeout {timeout:.3f} s"
    if not age >= -timeout - STALE_EPS:
        return f"{source} stale: stamp is {-age:.3f} s ahead of the clock"
    return None


def check_attitude(quat: np.ndarray, limits: SafetyLimits) -> str | None:
    """Roll or pitch (from the IMU quaternion, normalised) beyond the robot's limits."""
    q = np.asarray(quat, dtype=np.float64)
    roll, pitch, _ = quat_to_rpy(q / np.linalg.norm(q))
    if not abs(roll) <= limits.max_roll:
        return f"{IMU} attitude: roll {roll:+.3f} rad beyond ±{limits.max_roll:.3f}"
    if not abs(pitch) <= limits.max_pitch:
        return f"{IMU} attitude: pitch {pitch:+.3f} rad beyond ±{limits.max_pitch:.3f}"
    return None


def joints_out_of_range(q: np.ndarray, robot: RobotDescription, factor: float = JOINT_RANGE_FACTOR) -> np.ndarray:
    """Per joint (any leading dims, NaN counts as out): beyond `factor` x its range about the
    range's middle. The supervisor trips on it; training ends an episode on it (training.env)."""
    mid = 0.5 * (robot.lower + robot.upper)
    half = 0.5 * factor * (robot.upper - robot.lower)
    return ~(np.abs(np.asarray(q, dtype=np.float64) - mid) <= half)


def check_joint_range(q: np.ndarray, robot: RobotDescription, factor: float = JOINT_RANGE_FACTOR) -> str | None:
    """A measured joint beyond `factor` x its range, about the range's middle."""
    q = np.asarray(q, dtype=np.float64)
    bad = np.flatnonzero(joints_out_of_range(q, robot, factor))
    if bad.size:
        i = bad[0]
        return (
            f"{JOINTS} out of range: {robot.joint_names[i]} at {q[i]:+.3f} rad, "
            f"beyond {factor:g}x its range [{robot.lower[i]:+.3f}, {robot.upper[i]:+.3f}]"
        )
    return None


def max_speed(dq: np.ndarray) -> tuple[int, float]:
    """(index, |dq|) of the fastest joint; used by the reset guard and its message."""
    a = np.abs(np.asarray(dq, dtype=np.float64))
    i = int(np.argmax(a))
    return i, float(a[i])


def _float(x: object) -> float:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
