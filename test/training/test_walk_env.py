"""WalkEnv runs the runtime's code: its ObservationBuilder, and physics identical to SimRobot's.

No torch needed: the env, the config and the rewards are numpy + MuJoCo.
"""

import hashlib

import numpy as np
import pytest
import yaml

from lucid_ros.policy import observations
from lucid_ros.policy.fixtures import make_mlp_policy
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.safety.limits import clip_targets
from lucid_ros.sim.robot_sim import SimRobot
from lucid_ros.training.config import EnvConfig, ObsConfig, spec_dict
from lucid_ros.training.env import WalkEnv
from lucid_ros.types import JointCommand


@pytest.fixture(scope="module")
def robot():
    return load_robot("go1")


@pytest.fixture(scope="module")
def spec(robot, tmp_path_factory):
    folder = tmp_path_factory.mktemp("walk_spec")
    data = spec_dict(robot, ObsConfig(), name="walk")
    onnx = make_mlp_policy(folder / "walk.onnx", 47 * ObsConfig().history, 12, "zeros")
    data["onnx"] = "walk.onnx"
    data["sha256"] = hashlib.sha256(onnx.read_bytes()).hexdigest()
    (folder / "walk.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(folder / "walk.yaml", robot)


def neutral_cfg(n: int) -> EnvConfig:
    """No randomisation, no pushes, flat ground only: the env's world is then SimRobot's world."""
    return EnvConfig(
        n_envs=n,
        flat_fraction=1.0,
        friction=(1.0, 1.0),
        payload=(0.0, 0.0),
        strength=(1.0, 1.0),
        kp_scale=(1.0, 1.0),
        kd_scale=(1.0, 1.0),
        latency_steps=(0, 0),
        push_force=(0.0, 0.0),
        push_interval_s=(1e9, 1e9),
    )


def test_observations_come_from_the_shared_builder(robot, spec, monkeypatch):
    calls = []
    real = observations.ObservationBuilder.build

    def spy(self, inputs):
        out = real(self, inputs)
        calls.append((inputs, out.copy()))
        return out

    monkeypatch.setattr(observations.ObservationBuilder, "build", spy)
    env = WalkEnv(robot, spec, neutral_cfg(4), seed=0, nthread=1)
    assert isinstance(env.builder, observations.ObservationBuilder)
    obs, priv = env.reset_all()
    obs2, *_ = env.step(np.zeros((4, 12)))
    assert len(calls) == 2
    np.testing.assert_array_equal(calls[0][1], obs)
    np.testing.assert_array_equal(calls[1][1], obs2)
    inputs = calls[1][0]
    assert inputs.phase_time.shape == (4,) and np.allclose(inputs.phase_time, env.dt)  # gait clock = time since the episode began
    np.testing.assert_array_equal(inputs.command, env.command)
    assert obs.shape == (4, spec.obs_dim) and priv.shape[0] == 4


def test_env_physics_equals_sim_robot(robot, spec):
    """Same start, same raw actions: WalkEnv (mujoco.batch, MotorModel per 2 ms step) and SimRobot
    (the sim bridge's world) stay together to 1e-9 over 1 s of walking-like motion."""
    env = WalkEnv(robot, spec, neutral_cfg(2), seed=0, nthread=1)
    env.reset_all()
    env.t_limit[:] = 1e9
    sim = SimRobot(robot, "flat")
    sim.reset("default")
    w = env.worlds[0]
    w.qpos[:] = sim.data.qpos
    w.qvel[:] = sim.data.qvel
    w.batch.bind("qacc_warmstart")[:] = sim.data.qacc_warmstart
    w.batch.forward()
    env.state = env._read()
    rng = np.random.default_rng(0)
    prev = robot.default_pose.copy()
    z = np.zeros(12)
    worst, moved = 0.0, 0.0
    for _ in range(50):
        raw = np.tile(rng.normal(0.0, 0.6, 12), (2, 1))
        env.step(raw)
        q, kp, kd = env.mapper.targets(raw[0])
        q, _ = clip_targets(q, prev, robot)
        prev = q
        sim.apply(JointCommand(sim.time, q, z, z, kp, kd))
        sim.step(env.substeps)
        worst = max(worst, float(np.max(np.abs(w.qpos[0] - sim.data.qpos))), float(np.max(np.abs(w.qvel[0] - sim.data.qvel))))
        moved = max(moved, float(np.max(np.abs(sim.data.qpos[env.worlds[0].index.joint_qpos] - robot.default_pose))))
    assert moved > 0.1  # the legs really moved: the comparison is not of two robots standing still
    assert worst < 1e-9, worst
    assert abs(float(w.qpos[0, 2]) - float(sim.data.qpos[2])) < 1e-9


def test_the_training_terrain_is_the_ground_mujoco_collides_with(robot):
    """The rewards' ground heights (feet clearance, base height) on the rough training field are the
    MuJoCo heightfield's, as the sim's height map is (one implementation: sim.heights.CourseHeights;
    the trainer's own bilinear grid was off by up to 21 mm, a cell-spacing error), and clamp to the
    field's edge beyond it."""
    from dataclasses import replace

    import mujoco

    from lucid_ros.sim.courses import load_course
    from lucid_ros.sim.world import build_model
    from lucid_ros.training.env import Terrain

    ext = EnvConfig().terrain_extent
    rough = load_course("rough")
    course = replace(rough, ground=replace(rough.ground, extent=(ext, ext)))  # as WalkEnv lays it out
    model, ix = build_model(robot, course)
    data = mujoco.MjData(model)
    data.qpos[ix.root_qpos : ix.root_qpos + 3] = (500.0, 500.0, 50.0)  # the robot out of the way
    mujoco.mj_forward(model, data)
    g, rng = course.ground, np.random.default_rng(1)
    xy = np.stack([rng.uniform(-0.49, 0.49, 300) * ext + g.center[0], rng.uniform(-0.49, 0.49, 300) * ext + g.center[1]], axis=1)
    geom = np.zeros(1, dtype=np.int32)
    want = np.array([5.0 - mujoco.mj_ray(model, data, np.array([x, y, 5.0]), np.array([0.0, 0.0, -1.0]), None, 1, -1, geom) for x, y in xy])
    terrain = Terrain(course)
    assert terrain.rough and np.abs(terrain.height(xy[:, 0], xy[:, 1]) - want).max() < 0.002
    edge = g.center[0] + ext / 2
    assert terrain.height(np.array([edge + 3.0]), np.array([g.center[1]])) == terrain.height(np.array([edge]), np.array([g.center[1]]))
