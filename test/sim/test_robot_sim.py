"""SimRobot behaves like a backend: the motor law at 500 Hz, readers in canonical order."""

import mujoco
import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.robots import load_robot
from lucid_ros.sim.robot_sim import SimRobot
from lucid_ros.types import JointCommand

pytestmark = pytest.mark.skipif(not (paths.urdf_dir() / "go1.xml").is_file(), reason="urdf/go1.xml not present yet")


@pytest.fixture(scope="module")
def go1():
    return load_robot("go1")


def hold(robot, q=None, kp=None):
    n = robot.n_joints
    q = robot.default_pose if q is None else q
    return JointCommand(0.0, np.array(q, float), np.zeros(n), np.zeros(n), np.array(robot.kp if kp is None else kp), np.array(robot.kd))


def base_heights(sim, seconds, every=10):
    out = []
    for _ in range(int(round(seconds / (every * sim.robot.physics_dt)))):
        sim.step(every)
        out.append(sim.ground_truth().pos[2])
    return np.array(out)


def test_reset_puts_the_feet_on_the_ground(go1):
    for course in ("flat", "rough"):
        sim = SimRobot(go1, course)
        m, d, ix = sim.model, sim.data, sim.index
        gaps = [mujoco.mj_geomDistance(m, d, f, ix.ground[0], 1.0, None) for f in ix.feet] if course == "flat" else None
        if gaps is not None:
            assert min(gaps) == pytest.approx(0.0, abs=1e-6)
        assert np.all(d.qvel == 0) and np.allclose(sim.joint_sample().q, go1.default_pose)
        h = base_heights(sim, 0.2)  # passive: it sinks only as the legs give way, it does not drop from the air
        assert h[0] > h[-1] and sim.foot_contacts().sum() >= 3


def test_go1_holds_the_default_pose_at_nominal_height(go1):
    sim = SimRobot(go1, "flat")
    sim.apply(hold(go1))
    h = base_heights(sim, 10.0)  # one sample per 20 ms
    # reset() places the legs unloaded (feet just touching); at kp = 20 the calves then give about
    # 0.25 rad under the 12.7 kg body, so the first ~1.5 s is a landing that dips below the band
    # (to ~0.27 m with the current urdf/go1.xml). Require the band from 2 s on, and no fall before.
    assert h.min() > go1.nominal_base_height - 0.04, h.min()
    settled = h[100:]
    assert np.all(np.abs(settled - go1.nominal_base_height) <= 0.02), (settled.min(), settled.max())
    assert np.ptp(h[-100:]) < 0.002, "it should be at rest"


def test_go1_stands_up_from_lying(go1):
    sim = SimRobot(go1, "flat")
    sim.reset("lying")
    lying = sim.ground_truth().pos[2]
    assert lying < go1.nominal_base_height - 0.1
    q0 = sim.joint_sample().q
    ticks = int(2.0 * go1.rate_hz)
    substeps = int(round(1.0 / (go1.rate_hz * go1.physics_dt)))
    for k in range(ticks + int(go1.rate_hz)):  # 2 s interpolation, then 1 s holding the default pose
        a = min(1.0, (k + 1) / ticks)
        sim.apply(hold(go1, (1 - a) * q0 + a * go1.default_pose))
        sim.step(substeps)
    assert abs(sim.ground_truth().pos[2] - go1.nominal_base_height) <= 0.02


def test_readers_use_canonical_order(go1):
    sim = SimRobot(go1, "flat")
    for i, name in enumerate(go1.joint_names):
        jid = sim.model.joint(name).id
        sim.reset()
        sim.data.qpos[sim.model.jnt_qposadr[jid]] += 0.1
        sim.data.qvel[sim.model.jnt_dofadr[jid]] = 1.0
        s = sim.joint_sample()
        expect = np.array(go1.default_pose)
        expect[i] += 0.1
        np.testing.assert_allclose(s.q, expect)
        assert np.flatnonzero(s.dq).tolist() == [i]


def test_torque_goes_to_the_named_actuator(go1):
    sim = SimRobot(go1, "flat")
    i = go1.joint_names.index("RL_thigh_joint")
    q = np.array(go1.default_pose)
    q[i] += 0.2
    sim.apply(hold(go1, q, kp=np.where(np.arange(go1.n_joints) == i, 20.0, 0.0)))
    sim.step(1)
    tau = sim.joint_sample().tau
    assert tau[i] == pytest.approx(20.0 * 0.2, rel=1e-6)
    assert np.count_nonzero(np.abs(tau) > 1e-9) == 1
    assert sim.data.actuator_force[sim.model.actuator("RL_thigh_joint").id] == pytest.approx(tau[i])


def test_level_imu(go1):
    sim = SimRobot(go1, "flat")
    sim.apply(hold(go1))
    sim.step(1500)  # settle on the ground for 3 s
    imu = sim.imu_sample()
    np.testing.assert_allclose(imu.quat, [1, 0, 0, 0], atol=0.02)
    np.testing.assert_allclose(imu.acc, [0, 0, 9.81], atol=0.05)
    np.testing.assert_allclose(imu.gyro, 0, atol=0.01)
    gt = sim.ground_truth()
    np.testing.assert_allclose(gt.quat, imu.quat, atol=1e-9)  # the IMU site is aligned with the base
    assert imu.stamp == gt.stamp == sim.time == pytest.approx(3.0)


def test_modes_and_bad_commands(go1):
    sim = SimRobot(go1, "flat")
    n = go1.n_joints
    sim.apply(JointCommand.damping(np.zeros(n), 2.0))  # the q in a damping command must not pull
    sim.step(1)
    np.testing.assert_allclose(sim.joint_sample().tau, 0.0, atol=1e-12)  # at rest: damping gives 0
    sim.apply(JointCommand.passive(n))
    sim.step(50)
    np.testing.assert_allclose(sim.joint_sample().tau, 0.0)
    bad = hold(go1)
    bad.q[3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        sim.apply(bad)
    with pytest.raises(ValueError, match="12 joints"):
        sim.apply(JointCommand(0, np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3)))


def test_push_moves_the_base_for_its_duration(go1):
    sim = SimRobot(go1, "flat")
    sim.apply(hold(go1))
    sim.step(500)
    sim.apply_push([0.0, 60.0, 0.0], 0.1)
    sim.step(50)
    assert sim.data.xfrc_applied[sim.index.base_body, 1] == 60.0
    vy = sim.ground_truth().lin_vel_world[1]
    sim.step(1)
    assert sim.data.xfrc_applied[sim.index.base_body, 1] == 0.0
    assert vy > 0.2


def test_time_keeps_running_across_resets(go1):
    sim = SimRobot(go1, "flat")
    sim.step(10)
    t = sim.time
    sim.reset("crouch")
    assert sim.time == t


def test_render_sizes(go1):
    sim = SimRobot(go1, "flat")
    try:
        rgb = sim.render("ego")
    except Exception as exc:  # noqa: BLE001 - no EGL / GPU on this machine
        pytest.skip(f"offscreen rendering unavailable (MUJOCO_GL={__import__('os').environ.get('MUJOCO_GL')}): {exc}")
    color, depth = go1.cameras["ego"].color, go1.cameras["ego"].depth
    assert rgb.shape == (color.height, color.width, 3) and rgb.dtype == np.uint8
    d = sim.render("ego", depth=True)
    assert d.shape == (depth.height, depth.width) and np.all(np.isfinite(d))
    assert sim.render("ego_camera", width=64, height=48).shape == (48, 64, 3)
    assert sim.render("ego_camera", depth=True).shape == d.shape  # MJCF name: same mount, same default size
    assert rgb.std() > 0  # not a blank frame
    sim.close()


def test_the_planar_pose_is_the_ground_truths_position_and_yaw():
    """What a fake robot's operator steers by (SimRobot.planar_pose, read at 500 Hz) is the ground
    truth's x, y and yaw, pitched and rolled, on both sides of +-pi."""
    from lucid_ros.mathutil import quat_to_rpy, rpy_to_quat

    sim = SimRobot(load_robot("go1"), "flat")
    r = sim.index.root_qpos
    for x, y, rpy in ((0.3, -1.2, (0.2, -0.3, 3.1)), (-2.0, 0.5, (-0.1, 0.4, -3.1)), (0.0, 0.0, (0.0, 0.0, 0.7))):
        sim.data.qpos[r : r + 3] = (x, y, 0.3)
        sim.data.qpos[r + 3 : r + 7] = rpy_to_quat(np.array(rpy))
        g = sim.ground_truth()
        px, py, yaw = sim.planar_pose()
        assert (px, py) == (x, y)
        assert abs(yaw - quat_to_rpy(g.quat)[2]) < 1e-12 and abs(yaw - rpy[2]) < 1e-9
