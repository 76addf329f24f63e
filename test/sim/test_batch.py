"""BatchSim is SimRobot many times over: same physics to the bit, batched readers, randomisation hooks."""

import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.robots import load_robot
from lucid_ros.sim.batch import BatchSim
from lucid_ros.sim.motor import MotorModel
from lucid_ros.sim.robot_sim import SimRobot
from lucid_ros.types import JointCommand

pytestmark = pytest.mark.skipif(not (paths.urdf_dir() / "go1.xml").is_file(), reason="urdf/go1.xml not present yet")


@pytest.fixture(scope="module")
def go1():
    return load_robot("go1")


@pytest.mark.parametrize("course, threads", [("flat", 2), ("rough", 1)])
def test_batch_stepping_equals_sim_robot(go1, course, threads):
    n = go1.n_joints
    sim = SimRobot(go1, course)
    batch = BatchSim(go1, course, n_envs=3, threads=threads)
    rng = np.random.default_rng(0)
    for k in range(150):  # 3 s of policy ticks at 50 Hz, 10 physics steps each
        target = go1.default_pose + 0.3 * rng.standard_normal(n)
        sim.apply(JointCommand(sim.time, target, np.zeros(n), np.zeros(n), np.array(go1.kp), np.array(go1.kd)))
        batch.set_commands(np.stack([target, go1.default_pose, target]))
        if k == 40:
            sim.apply_push([40.0, -20.0, 0.0], 0.1)
            batch.push([0, 2], [40.0, -20.0, 0.0], 0.1)
        sim.step(10)
        batch.step(10)
        sim.imu_sample(), sim.foot_contacts()  # reading must not perturb the trajectory
    for i in (0, 2):
        np.testing.assert_allclose(batch.qpos[i], sim.data.qpos, rtol=0, atol=1e-9)
        np.testing.assert_allclose(batch.qvel[i], sim.data.qvel, rtol=0, atol=1e-9)
    assert np.abs(batch.qpos[1] - sim.data.qpos).max() > 1e-3  # env 1 got another command
    gt = sim.ground_truth()
    np.testing.assert_allclose(batch.q[0], sim.joint_sample().q, atol=1e-9)
    np.testing.assert_allclose(batch.tau[0], sim.joint_sample().tau, atol=1e-9)
    np.testing.assert_allclose(batch.base_pos[0], gt.pos, atol=1e-9)
    np.testing.assert_allclose(batch.base_quat[0], gt.quat, atol=1e-9)
    np.testing.assert_allclose(batch.lin_vel_body[0], gt.lin_vel_body, atol=1e-9)
    np.testing.assert_allclose(batch.ang_vel_body[0], gt.ang_vel_body, atol=1e-9)
    batch.close()


def test_readers_shapes_and_reset_randomisation(go1):
    b = BatchSim(go1, ["flat", "rough"], n_envs=4, seed=3, threads=1)
    assert b.q.shape == (4, 12) and b.dq.shape == (4, 12) and b.base_quat.shape == (4, 4)
    assert b.ang_vel_body.shape == b.lin_vel_body.shape == b.base_pos.shape == (4, 3)
    assert b.foot_contacts().shape == (4, 4)
    assert [b.courses[v].name for v in b.variant] == ["flat", "rough", "flat", "rough"]
    b.set_commands(go1.default_pose)
    b.step(200)
    assert np.all(b.foot_contacts().sum(axis=1) >= 3)
    before = b.qpos.copy()
    b.reset_envs(np.array([False, True, False, False]), joint_noise=0.1, yaw_noise=np.pi, lin_vel_noise=0.5)
    np.testing.assert_array_equal(b.qpos[[0, 2, 3]], before[[0, 2, 3]])
    assert np.abs(b.q[1] - go1.default_pose).max() > 0.01 and np.all(b.cmd[1] == 0)
    assert np.abs(b.lin_vel_world[1]).max() > 0 and b.time[1] == 0.0 and b.time[0] > 0
    b2 = BatchSim(go1, ["flat", "rough"], n_envs=4, seed=3, threads=1)
    b2.set_commands(go1.default_pose)
    b2.step(200)
    b2.reset_envs([1], joint_noise=0.1, yaw_noise=np.pi, lin_vel_noise=0.5)
    np.testing.assert_array_equal(b2.qpos[1], b.qpos[1])  # same seed, same draws


def test_friction_and_payload_are_per_env(go1):
    b = BatchSim(go1, "flat", n_envs=3, threads=1)
    b.set_friction([1], 0.2)
    b.set_payload(np.array([False, False, True]), 3.0)
    cg = b.index.course_geoms
    assert b.models[0] is b.variant_models[0]  # untouched envs share the model
    assert b.models[1].geom_friction[cg, 0].tolist() == [0.2] and b.models[0].geom_friction[cg, 0].tolist() == [1.0]
    base = b.index.base_body
    assert b.models[2].body_mass[base] == pytest.approx(b.models[0].body_mass[base] + 3.0)
    b.set_commands(go1.default_pose)
    b.step(500)
    z = b.base_pos[:, 2]
    assert z[2] < z[0] - 0.003  # the loaded robot sags further on the same gains


def test_latency_through_motor_model(go1):
    b = BatchSim(go1, "flat", n_envs=2, threads=1, motor=MotorModel(12, batch=(2,), latency_steps=np.array([0, 5])))
    b.set_commands(go1.default_pose, kp=0.0, kd=0.0, tau=1.0)
    b.step(3)
    b.set_commands(go1.default_pose, kp=0.0, kd=0.0, tau=2.0)
    seen = []
    for _ in range(6):
        b.step(1)
        seen.append(b.tau[:, 0].copy())
    np.testing.assert_allclose(np.array(seen), [[2, 1]] * 5 + [[2, 2]])  # the 4th command lands at step 9
    # env 1 is 5 physics steps late; before 5 commands were queued it got the oldest it had
