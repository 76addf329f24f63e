"""Per-joint vendor sign and zero (lucid_ros/hardware/convention.py) through the real drivers' codecs.

H1's elbows turn about -y with zero = forearm hanging in urdf/h1.xml; Unitree's motors turn them about
+y with zero = forearm forward. The SDK2 bytes must carry the vendor's angle for the same physical
pose, and the fake robot (which speaks the vendor's convention on the wire) must turn them back.
"""

import dataclasses
import os
import random
import time

import mujoco
import numpy as np
import pytest
from hw_tools import importable

from lucid_ros.hardware.convention import VendorConvention
from lucid_ros.hardware.go1 import codec as go1_codec
from lucid_ros.hardware.go1.driver import Go1UdpDriver
from lucid_ros.hardware.go1.fake import motor_law_command
from lucid_ros.robots import load_robot
from lucid_ros.types import JointCommand

needs_dds = pytest.mark.skipif(not importable("cyclonedds"), reason="cyclonedds 0.10.2 not installed")
DOMAIN = random.Random(os.getpid() + 22).randint(150, 230)


@pytest.fixture(scope="module")
def h1():
    return load_robot("h1")


def _cmd(robot, q):
    n = robot.n_joints
    dq, tau = np.linspace(-1, 1, n), np.linspace(2, -2, n)
    return JointCommand(0.0, np.asarray(q, float), dq, tau, robot.kp.copy(), robot.kd.copy())


def test_identity_for_robots_without_vendor_fields():
    for name in ("go1", "go2", "g1"):
        r = load_robot(name, check_models=False)
        assert VendorConvention.of(r).identity, name


def test_round_trip_and_limits(h1):
    c = VendorConvention.of(h1)
    rng = np.random.default_rng(3)
    q = rng.uniform(h1.lower, h1.upper)
    cmd = _cmd(h1, q)
    back = c.from_vendor(c.to_vendor(cmd))
    for a, b in zip((cmd.q, cmd.dq, cmd.tau, cmd.kp, cmd.kd), (back.q, back.dq, back.tau, back.kp, back.kd), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(c.state_from_vendor(*c.state_to_vendor(q, cmd.dq, cmd.tau))[0], q, atol=1e-12)
    lo, hi = c.vendor_limits(h1.lower, h1.upper)
    e = h1.index_of(["left_elbow_joint"])[0]
    assert (lo[e], hi[e]) == pytest.approx((np.pi / 2 - 2.6, np.pi / 2 + 0.25))
    # inside the vendor's published elbow range (robot-models.md §1.1)
    assert lo[e] >= -1.25 and hi[e] <= 2.61


def _forearm_in_parent(robot, joint: str, q: float) -> np.ndarray:
    """Direction of the forearm (the elbow body's -z here) in the shoulder-yaw link's frame, in urdf/h1.xml."""
    m = mujoco.MjModel.from_xml_path(str(robot.mjcf_path))
    d = mujoco.MjData(m)
    d.qpos[m.jnt_qposadr[m.joint(joint).id]] = q
    mujoco.mj_kinematics(m, d)
    b = m.jnt_bodyid[m.joint(joint).id]
    R_parent = d.xmat[m.body_parentid[b]].reshape(3, 3)
    R_elbow = d.xmat[b].reshape(3, 3)
    return R_parent.T @ R_elbow @ np.array([0.0, 0.0, -1.0])


@needs_dds
@pytest.mark.parametrize("side", ["left", "right"])
def test_h1_elbow_leaves_the_sdk2_driver_in_the_vendors_convention(h1, side):
    from lucid_ros.hardware.sdk2.driver import Sdk2Driver

    drv = Sdk2Driver(h1, domain_id=DOMAIN, flavor="go")
    e = h1.index_of([f"{side}_elbow_joint"])[0]
    slot = int(h1.vendor_index[e])
    for q_here in (0.3, 1.0, 2.2, -0.2, 3.0):  # 3.0 is beyond our upper limit 2.6: clipped to it
        q = h1.default_pose.copy()
        q[e] = q_here
        cmd = _cmd(h1, q)
        wire = drv.build(cmd).motor_cmd  # the LowCmd_ decoded from the bytes the driver sends
        psi = wire[slot].q
        q_clipped = min(q_here, h1.upper[e])
        assert psi == pytest.approx(np.pi / 2 - q_clipped, abs=1e-6)
        assert wire[slot].dq == pytest.approx(-cmd.dq[e], abs=1e-6) and wire[slot].tau == pytest.approx(-cmd.tau[e], abs=1e-5)
        assert (wire[slot].kp, wire[slot].kd) == pytest.approx((cmd.kp[e], cmd.kd[e]))
        # same physical pose: the vendor's elbow zero points the forearm along +x and positive turns it about +y
        vendor_forearm = np.array([np.cos(psi), 0.0, -np.sin(psi)])
        np.testing.assert_allclose(_forearm_in_parent(h1, f"{side}_elbow_joint", q_clipped), vendor_forearm, atol=1e-6)
        # every other joint is unchanged
        other = h1.index_of(["left_knee_joint"])[0]
        assert wire[int(h1.vendor_index[other])].q == pytest.approx(q[other], abs=1e-6)


@needs_dds
def test_h1_fake_robot_round_trips_the_elbows(h1):
    """Driver -> wire (vendor) -> fake -> MuJoCo (project) -> wire (vendor) -> driver: identity."""
    from lucid_ros.hardware.sdk2.driver import Sdk2Driver
    from lucid_ros.hardware.sdk2.fake import FakeSdk2Robot

    fake = FakeSdk2Robot(h1, domain_id=DOMAIN, interface="lo", flavor="go", start_pose="default", settle_s=0.5).start()
    drv = Sdk2Driver(h1, domain_id=DOMAIN, interface="lo", flavor="go", arm=True, check_plausibility=False)
    try:
        drv.activate()
        el = h1.index_of(["left_elbow_joint", "right_elbow_joint"])
        q = drv.latest().joints.q.copy()
        target = q.copy()
        target[el] = [0.9, 1.4]
        n = h1.n_joints
        t0 = time.monotonic()
        while time.monotonic() < t0 + 1.5:  # ramp over 1 s, then hold 0.5 s
            a = min(1.0, (time.monotonic() - t0) / 1.0)
            drv.write(JointCommand(time.time(), (1 - a) * q + a * target, np.zeros(n), np.zeros(n), h1.kp, h1.kd))
            time.sleep(0.02)
        got = fake.last_command.q[el]  # what the fake applies to its MuJoCo model (project convention)
        np.testing.assert_allclose(got, [0.9, 1.4], atol=1e-5)
        sim_q = fake.sim.joint_sample().q[el]
        np.testing.assert_allclose(sim_q, [0.9, 1.4], atol=0.05)  # the elbows went there in MuJoCo
        np.testing.assert_allclose(drv.latest().joints.q[el], fake.sim.joint_sample().q[el], atol=0.02)
    finally:
        drv.close()
        fake.stop()


def _go1_with(sign: float, offset: float, joint: str = "FR_hip_joint"):
    go1 = load_robot("go1")
    joints = tuple(dataclasses.replace(j, vendor_sign=sign, vendor_offset=offset) if j.name == joint else j for j in go1.joints)
    return dataclasses.replace(go1, joints=joints)


def test_synthetic_sign_and_offset_through_the_go1_udp_codec():
    """The mechanism is generic: a made-up convention on a Go1 calf goes through the Go1 UDP driver and
    its fake's motor law the same way."""
    robot = _go1_with(-1.0, 0.2)  # inside the SDK's PositionLimit window, which is in the vendor's convention
    drv = Go1UdpDriver(robot)
    i = robot.index_of(["FR_hip_joint"])[0]
    q = robot.default_pose.copy()
    cmd = _cmd(robot, q)
    pkt = drv.encode(cmd)
    dec = go1_codec.Go1Decoder("cmd").decode(pkt)
    slot = int(robot.vendor_index[i])
    assert dec.motors.q[slot] == pytest.approx(-q[i] + 0.2, abs=1e-5)
    assert dec.motors.dq[slot] == pytest.approx(-cmd.dq[i], abs=1e-5)
    assert dec.motors.tau[slot] == pytest.approx(-cmd.tau[i], abs=1e-4)
    others = np.arange(robot.n_joints) != i
    np.testing.assert_allclose(dec.motors.q[robot.vendor_index[others]], q[others], atol=1e-5)
    # the fake's side: back to the project convention
    back = VendorConvention.of(robot).from_vendor(motor_law_command(dec.motors, robot.vendor_index))
    np.testing.assert_allclose(back.q, q, atol=1e-5)
    np.testing.assert_allclose(back.dq, cmd.dq, atol=1e-5)
