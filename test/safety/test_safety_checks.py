"""The pure checks: each names its input, and NaN anywhere fails rather than passes."""

import numpy as np
import pytest

from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.robots import load_robot
from lucid_ros.safety import checks
from lucid_ros.types import ImuSample, JointSample

ROBOT = load_robot("go1", check_models=False)
N = ROBOT.n_joints
LIM = ROBOT.safety


def joints(**kw):
    s = dict(stamp=0.0, q=ROBOT.default_pose.copy(), dq=np.zeros(N), tau=np.zeros(N))
    s.update(kw)
    return JointSample(**s)


def imu(**kw):
    s = dict(stamp=0.0, quat=np.array([1.0, 0, 0, 0]), gyro=np.zeros(3), acc=np.array([0, 0, 9.81]))
    s.update(kw)
    return ImuSample(**s)


def test_healthy_samples_pass():
    assert checks.check_joint_sample(joints(), N) is None
    assert checks.check_imu_sample(imu()) is None
    assert checks.check_policy_target(ROBOT.default_pose, ROBOT.kp, ROBOT.kd, N) is None


@pytest.mark.parametrize("field", ["q", "dq", "tau"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_joint_non_finite_names_field_and_index(field, bad):
    a = np.zeros(N)
    a[7] = bad
    assert checks.check_joint_sample(joints(**{field: a}), N).startswith(f"joint_states non-finite: {field}[7]")


def test_joint_missing_and_malformed():
    assert checks.check_joint_sample(None, N) == "joint_states missing: none received"
    assert "11 values, expected 12" in checks.check_joint_sample(joints(q=np.zeros(11)), N)
    assert "not numeric" in checks.check_joint_sample(joints(dq="garbage"), N)
    assert "stamp" in checks.check_joint_sample(joints(stamp=float("nan")), N)


@pytest.mark.parametrize("field,size", [("quat", 4), ("gyro", 3), ("acc", 3)])
def test_imu_non_finite(field, size):
    a = np.ones(size) / 2.0
    a[1] = np.nan
    assert checks.check_imu_sample(imu(**{field: a})).startswith(f"imu non-finite: {field}[1]")


def test_imu_quaternion_must_be_unit():
    assert "norm" in checks.check_imu_sample(imu(quat=np.zeros(4)))
    assert checks.check_imu_sample(imu(quat=np.array([1.05, 0, 0, 0]))) is None


def test_policy_target_checks():
    assert checks.check_policy_target(np.full(N, np.nan), ROBOT.kp, ROBOT.kd, N).startswith("policy_target non-finite: q[0]")
    kd = ROBOT.kd.copy()
    kd[3] = np.inf
    assert checks.check_policy_target(ROBOT.default_pose, ROBOT.kp, kd, N).startswith("policy_target non-finite: kd[3]")
    kp = ROBOT.kp.copy()
    kp[5] = -1
    assert "kp[5]=-1.0 is negative" in checks.check_policy_target(ROBOT.default_pose, kp, ROBOT.kd, N)
    assert "expected 12" in checks.check_policy_target(np.zeros(3), ROBOT.kp, ROBOT.kd, N)


def test_stale_is_strictly_after_timeout():
    assert checks.check_stale("imu", 1.0, 1.1, 0.1) is None  # exactly the timeout: fresh
    assert checks.check_stale("imu", 0.1 + 0.2, 0.3 + 0.1, 0.1) is None  # float noise absorbed
    assert checks.check_stale("imu", 1.0, 1.1001, 0.1).startswith("imu stale: age 0.100")
    assert checks.check_stale("camera", None, 5.0, 0.5) == "camera missing: none received"


def test_stale_with_nan_or_future_stamps_fails():
    assert "not finite" in checks.check_stale("imu", float("nan"), 1.0, 0.1)
    assert "not finite" in checks.check_stale("imu", 1.0, float("nan"), 0.1)
    assert "ahead of the clock" in checks.check_stale("imu", 100.0, 1.0, 0.1)
    assert checks.check_stale("imu", 1.05, 1.0, 0.1) is None  # small skew is tolerated


def test_attitude_limits():
    assert checks.check_attitude(rpy_to_quat([0.9, -0.9, 3.0]), LIM) is None
    assert checks.check_attitude(rpy_to_quat([1.1, 0, 0]), LIM).startswith("imu attitude: roll +1.100")
    assert checks.check_attitude(rpy_to_quat([0, -1.1, 0]), LIM).startswith("imu attitude: pitch -1.100")
    assert checks.check_attitude(rpy_to_quat([np.pi, 0, 0]), LIM) is not None  # upside down
    assert checks.check_attitude(2.0 * rpy_to_quat([0.5, 0, 0]), LIM) is None  # normalised first


def test_joint_range_is_1_1_times_the_range():
    lo, hi = ROBOT.lower[1], ROBOT.upper[1]
    margin = 0.05 * (hi - lo)
    q = ROBOT.default_pose.copy()
    q[1] = hi + margin - 1e-9
    assert checks.check_joint_range(q, ROBOT) is None
    q[1] = hi + margin + 1e-6
    assert checks.check_joint_range(q, ROBOT).startswith("joint_states out of range: FR_thigh_joint")
    q[1] = lo - margin - 1e-6
    assert checks.check_joint_range(q, ROBOT) is not None
    batch = np.tile(ROBOT.default_pose, (3, 1))
    batch[1, 1], batch[2, 5] = lo - margin - 1e-6, np.nan  # the batched form training ends episodes on
    assert checks.joints_out_of_range(batch, ROBOT).any(axis=1).tolist() == [False, True, True]
