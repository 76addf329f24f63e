"""The real H1's IMU is on the torso: lucid_ros.proprio.imu_mount turns its reading into the pelvis's.

Checked against MuJoCo's ground truth with the torso joint turned 0.3 rad (and swinging, so the
joint rate matters), the H1 held by its hoist; then end to end through the SDK2 driver, which
publishes the pelvis's IMU from the fake robot's torso IMU.
"""

import os
import random
import time

import numpy as np
import pytest

from lucid_ros.mathutil import quat_conj, quat_rotate
from lucid_ros.proprio.imu_mount import axis_angle_quat, mount_to_base, quat_mul
from lucid_ros.robots import load_robot
from lucid_ros.sim.robot_sim import SimRobot
from lucid_ros.types import JointCommand


def _angle_between(q1: np.ndarray, q2: np.ndarray) -> float:
    d = quat_mul(quat_conj(q1), q2)
    return float(2 * np.arctan2(np.linalg.norm(d[1:]), abs(d[0])))


def test_pure_transform_undoes_a_known_joint_turn():
    rng = np.random.default_rng(1)
    axis = np.array([0.0, 0.0, 1.0])
    base = axis_angle_quat(rng.normal(size=3), 0.4)
    w_base = np.array([0.1, -0.2, 0.3])
    q, dq = 0.3, 0.7
    mount = quat_mul(base, axis_angle_quat(axis, q))
    # the mount's rate in its own frame: base rate plus the joint's, expressed in the mount's axes
    w_mount = quat_rotate(quat_conj(axis_angle_quat(axis, q)), w_base + axis * dq)
    acc_mount = quat_rotate(quat_conj(axis_angle_quat(axis, q)), [0.0, 0.0, 9.81])
    qb, wb, ab = mount_to_base(mount, w_mount, acc_mount, axis, q, dq)
    assert _angle_between(qb, base) < 1e-9
    np.testing.assert_allclose(wb, w_base, atol=1e-12)
    np.testing.assert_allclose(ab, [0.0, 0.0, 9.81], atol=1e-12)


@pytest.fixture(scope="module")
def h1():
    return load_robot("h1")


def test_h1_torso_imu_gives_the_pelvis_ground_truth(h1):
    """Torso at 0.3 rad with a 1 Hz, 0.2 rad swing on top (rate up to 1.3 rad/s), H1 on its hoist."""
    sim = SimRobot(h1, "flat", hoist=h1.hoist)
    sim.reset("default")
    t_idx = h1.index_of([h1.imu_mount.joint])[0]
    n = h1.n_joints
    worst_att = worst_rate = 0.0
    swing = 0.0
    for k in range(1000):  # 2 s at 500 Hz
        t = k * h1.physics_dt
        q = h1.default_pose.copy()
        q[t_idx] = min(0.3, 0.3 * t / 0.5) + 0.2 * np.sin(2 * np.pi * t) * (t > 0.5)
        sim.apply(JointCommand(t, q, np.zeros(n), np.zeros(n), h1.kp, h1.kd))
        sim.step(1)
        if t < 0.6:
            continue
        j = sim.joint_sample()
        imu = sim.mount_imu_sample()
        quat, gyro, _ = mount_to_base(imu.quat, imu.gyro, imu.acc, h1.imu_mount.axis, j.q[t_idx], j.dq[t_idx])
        gt = sim.ground_truth()
        worst_att = max(worst_att, _angle_between(quat, gt.quat))
        worst_rate = max(worst_rate, float(np.max(np.abs(gyro - gt.ang_vel_body))))
        # the torso really is turned, and the raw reading is not the pelvis's
        swing = max(swing, abs(j.dq[t_idx]))
        assert abs(j.q[t_idx]) > 0.05
    print(f"torso IMU -> pelvis: attitude error {worst_att:.2e} rad, rate error {worst_rate:.2e} rad/s, torso rate up to {swing:.2f} rad/s")
    assert swing > 0.8
    assert worst_att < 0.01 and worst_rate < 0.02
    raw = sim.mount_imu_sample()
    assert _angle_between(raw.quat, sim.ground_truth().quat) > 0.05  # without the transform it would be off


def _has_dds() -> bool:
    try:
        import cyclonedds  # noqa: F401
    except ImportError:
        return False
    return True


needs_dds = pytest.mark.skipif(not _has_dds(), reason="cyclonedds 0.10.2 not installed")


@needs_dds
def test_sdk2_driver_publishes_the_pelvis_imu_from_the_fake_torso_imu(h1):
    """The fake robot sends the torso IMU as a real H1 does; the driver's reading is the pelvis's."""
    from lucid_ros.hardware.sdk2.driver import Sdk2Driver
    from lucid_ros.hardware.sdk2.fake import FakeSdk2Robot

    domain = random.Random(os.getpid() + 23).randint(150, 230)
    fake = FakeSdk2Robot(h1, domain_id=domain, interface="lo", flavor="go", start_pose="default", settle_s=0.5).start()
    drv = Sdk2Driver(h1, domain_id=domain, interface="lo", flavor="go", arm=True, check_plausibility=False)
    t_idx = h1.index_of([h1.imu_mount.joint])[0]
    n = h1.n_joints
    try:
        drv.activate()
        q0 = drv.latest().joints.q.copy()
        target = h1.default_pose.copy()
        target[t_idx] = 0.3
        t0 = time.monotonic()
        while time.monotonic() < t0 + 2.0:  # ramp 1 s, hold 1 s (the harness holds the pelvis)
            a = min(1.0, time.monotonic() - t0)
            drv.write(JointCommand(time.time(), (1 - a) * q0 + a * target, np.zeros(n), np.zeros(n), h1.kp, h1.kd))
            time.sleep(0.02)
        for _ in range(5):  # freeze the sim after a state went out, so the reading and the truth are one instant
            fake.loop.stop()
            time.sleep(0.1)
            if drv.latest().tick == fake.tick_count:  # the driver holds the last state the fake sent
                break
            fake.loop.start(fake._tick)  # that one was lost (best effort): let another go out
            time.sleep(0.02)
        r = drv.latest()
        assert r.tick == fake.tick_count
        gt = fake.sim.ground_truth()
        # turned (a starved test process may let the watchdog damp it a little: the check is at one instant)
        assert abs(r.joints.q[t_idx]) > 0.2, r.joints.q[t_idx]
        att = _angle_between(r.imu.quat, gt.quat)
        rate = float(np.max(np.abs(r.imu.gyro - gt.ang_vel_body)))
        raw = _angle_between(fake.sim.mount_imu_sample().quat, gt.quat)
        print(f"driver imu vs pelvis ground truth: attitude {att:.2e} rad, rate {rate:.2e} rad/s (raw torso IMU off by {raw:.3f} rad)")
        assert att < 0.01 and rate < 0.02 and raw > 0.15
    finally:
        drv.close()
        fake.stop()
