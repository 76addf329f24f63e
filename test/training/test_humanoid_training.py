"""The walk trainer on a biped (issue 16's own h1_walk / g1_walk): the recipe `humanoid_config` gives,
the spec it exports, the alternating gait clock and the walking generator, and a WalkEnv of H1s.

The env, config and rewards are numpy + MuJoCo; the generator test needs torch (the [train] extra).
"""

import hashlib

import numpy as np
import pytest
import yaml

from lucid_ros.policy.actions import ActionMapper
from lucid_ros.policy.fixtures import make_mlp_policy
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.training import rewards as R
from lucid_ros.training.config import TrainConfig, humanoid_config, spec_dict
from lucid_ros.training.env import WalkEnv, priv_dim


def _spec(robot, cfg, folder):
    data = spec_dict(robot, cfg.obs, name=f"{robot.name}_walk")
    n = len(data["joint_order"])
    frame = 3 + 3 + 3 + 3 * n + 2
    onnx = make_mlp_policy(folder / "walk.onnx", frame * cfg.obs.history, n, "zeros")
    data["onnx"] = "walk.onnx"
    data["sha256"] = hashlib.sha256(onnx.read_bytes()).hexdigest()
    (folder / "walk.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(folder / "walk.yaml", robot)


@pytest.mark.parametrize("name, n_legs, knee_kp", [("h1", 10, 200.0), ("g1", 12, 150.0)])
def test_a_humanoid_policy_drives_its_legs_with_walking_gains_and_holds_the_rest(tmp_path, name, n_legs, knee_kp):
    robot = load_robot(name)
    cfg = humanoid_config(robot, TrainConfig())
    spec = _spec(robot, cfg, tmp_path)
    assert spec.n_act == n_legs and all(any(w in j for w in ("hip", "knee", "ankle")) for j in spec.joint_order)
    assert spec.kp[spec.joint_order.index("left_knee_joint")] == knee_kp
    mapper = ActionMapper(spec, robot)
    q, kp, _kd = mapper.targets(np.zeros(n_legs))
    held = ~mapper.controlled
    assert held.sum() == robot.n_joints - n_legs  # waist/torso and arms
    np.testing.assert_allclose(q[held], robot.default_pose[held])  # held at the default pose ...
    np.testing.assert_allclose(kp[held], robot.kp[held])  # ... with the robot's own gains
    # ended before the supervisor would damp it, and the episode's fall height is the robot's own
    assert cfg.env.max_tilt < robot.safety.max_roll and cfg.env.min_height == pytest.approx(0.6 * robot.nominal_base_height)


def test_a_quadruped_recipe_is_unchanged():
    robot = load_robot("go1")
    cfg = humanoid_config(robot, TrainConfig())
    assert cfg == TrainConfig()
    data = spec_dict(robot, cfg.obs)
    assert data["joint_order"] == list(robot.joint_names) and data["gains"] == {"kp": 20.0, "kd": 0.5}


def test_the_biped_clock_alternates_the_feet_and_plants_both_at_rest():
    moving = np.array([[0.5, 0.0, 0.0]] * 4)
    phase = np.array([0.1, 0.4, 0.6, 0.9])
    stance = R.desired_stance(phase, moving, offsets=R.BIPED_OFFSETS)
    assert stance.tolist() == [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]  # one foot on the ground at a time
    assert R.desired_stance(phase, np.zeros((4, 3)), offsets=R.BIPED_OFFSETS).tolist() == [[1.0, 1.0]] * 4


def test_the_walking_generator_swings_the_left_leg_then_the_right_bending_as_the_default_pose(tmp_path):
    torch = pytest.importorskip("torch")
    from lucid_ros.training.train_walk import trot_generator

    robot = load_robot("h1")
    cfg = humanoid_config(robot, TrainConfig())
    spec = _spec(robot, cfg, tmp_path)
    tg = trot_generator(spec, robot, cfg.obs)
    o = spec.observation
    sin_i = int(o.term_indices("gait_phase")[-1][0])
    cmd_i = [int(i) for i in o.term_indices("velocity_command")[-1]]
    obs = torch.zeros((3, spec.obs_dim))
    obs[0, sin_i], obs[1, sin_i], obs[2, sin_i] = 1.0, -1.0, 1.0
    obs[0, cmd_i[0]] = obs[1, cmd_i[0]] = 0.5 * 2.0  # 0.5 m/s, scaled as the spec scales it; row 2: zero command
    a = tg(obs).numpy()
    j = {n: i for i, n in enumerate(spec.joint_order)}
    d = dict(zip(robot.joint_names, robot.default_pose, strict=True))
    for side, row in (("left", 0), ("right", 1)):
        other = "right" if side == "left" else "left"
        for joint in ("hip_pitch_joint", "knee_joint", "ankle_joint"):
            swing = a[row, j[f"{side}_{joint}"]]
            assert swing != 0 and np.sign(swing) == np.sign(d[f"{side}_{joint}"]), (side, joint, swing)
            assert a[row, j[f"{other}_{joint}"]] == 0.0  # the stance leg is left to the policy
        assert a[row, j[f"{side}_hip_roll_joint"]] == 0.0 and a[row, j[f"{side}_hip_yaw_joint"]] == 0.0
    assert np.all(a[2] == 0.0)  # no command: no stepping


def test_a_walk_env_of_h1s_steps_with_two_feet_and_pays_for_staying_up(tmp_path):
    robot = load_robot("h1")
    cfg = humanoid_config(robot, TrainConfig())
    cfg.env.n_envs, cfg.env.flat_fraction = 8, 1.0
    cfg.env.reward.base_height_target = robot.nominal_base_height
    spec = _spec(robot, cfg, tmp_path)
    env = WalkEnv(robot, spec, cfg.env, seed=0, nthread=1)
    obs, priv = env.reset_all()
    assert obs.shape == (8, spec.obs_dim) and priv.shape == (8, priv_dim(robot)) == (8, 19)
    env.t_limit[:] = 100.0
    ups = []
    for _ in range(25):  # 0.5 s holding the default pose (zero action)
        obs, priv, rew, fell, _timeout, info = env.step(np.zeros((8, spec.n_act)))
        ups.append(~fell)
        assert np.all(np.isfinite(rew)) and np.all(np.isfinite(obs))
    assert np.all(ups), "an H1 holding its default pose on walking gains fell within 0.5 s"
    assert info["terms"]["alive"] > 0 and env.air.shape == (8, 2)
    feet_z = env.state["foot_pos"][..., 2] - env.foot_radius
    assert np.all(np.abs(feet_z) < 0.02), feet_z  # the box soles' bottoms rest on the floor
