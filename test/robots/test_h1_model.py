"""The H1 description against Unitree's figures where they were taken (issue 22).

The expected numbers are written out here from the vendor's H1 model (../shared/facts/robot-models.md
§6.1: unitree_rl_gym / menagerie h1), not read back from urdf/h1.xml, so a slip in the model file
shows up: the shoulder frames with their 25° tilt (the pitch axis leans inward-up, the roll frame
turns back so the arm hangs straight at zero), the arm chain's offsets, and the joint armature of
Unitree's MuJoCo model. URDF == MJCF is checked for every robot in test_description.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from lucid_ros.robots.description import load_robot

TILT = 0.43633  # rad (25°): the vendor's shoulder-pitch frame, roll about x
# body: (parent, pos in parent, quat w x y z), left arm; the right arm mirrors y and the roll sign
ARM = {
    "shoulder_pitch_link": ("torso_link", [0.0055, 0.15535, 0.42999], [0.976296, 0.216438, 0.0, 0.0]),
    "shoulder_roll_link": ("shoulder_pitch_link", [-0.0055, 0.0565, -0.0165], [0.976296, -0.216438, 0.0, 0.0]),
    "shoulder_yaw_link": ("shoulder_roll_link", [0.0, 0.0, -0.1343], [1.0, 0.0, 0.0, 0.0]),
    "elbow_link": ("shoulder_yaw_link", [0.0185, 0.0, -0.198], [1.0, 0.0, 0.0, 0.0]),
}


@pytest.fixture(scope="module")
def model():
    h1 = load_robot("h1")
    return mujoco.MjModel.from_xml_path(str(h1.mjcf_path))


def _body(model, name: str) -> int:
    i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    assert i >= 0, f"no body {name} in urdf/h1.xml"
    return i


@pytest.mark.parametrize("side, sy", [("left", 1.0), ("right", -1.0)])
@pytest.mark.parametrize("link", list(ARM))
def test_arm_frames_are_the_vendors(model, side, sy, link):
    parent, pos, quat = ARM[link]
    parent = parent if parent == "torso_link" else f"{side}_{parent}"
    b = _body(model, f"{side}_{link}")
    assert model.body_parentid[b] == _body(model, parent), f"{side}_{link}: parent"
    np.testing.assert_allclose(model.body_pos[b], [pos[0], sy * pos[1], pos[2]], atol=1e-5, err_msg=f"{side}_{link} pos")
    want = np.array([quat[0], sy * quat[1], quat[2], quat[3]])
    got = model.body_quat[b]
    assert min(np.abs(got - want).max(), np.abs(got + want).max()) < 1e-5, f"{side}_{link} quat {got} != {want}"


@pytest.mark.parametrize("side, sy", [("left", 1.0), ("right", -1.0)])
def test_shoulder_pitch_axis_leans_25_degrees_and_the_arm_hangs_straight_at_zero(model, side, sy):
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    torso = data.xmat[_body(model, "torso_link")].reshape(3, 3)
    j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"{side}_shoulder_pitch_joint")
    axis = torso.T @ data.xaxis[j]
    np.testing.assert_allclose(axis, [0.0, math.cos(TILT), sy * math.sin(TILT)], atol=1e-5)
    # the two tilts cancel at q = 0: the upper arm's frame is the torso's, the elbow right below the shoulder
    yaw = data.xmat[_body(model, f"{side}_shoulder_yaw_link")].reshape(3, 3)
    np.testing.assert_allclose(torso.T @ yaw, np.eye(3), atol=1e-5)


def test_joint_armature_is_unitrees_mujoco_value(model):
    h1 = load_robot("h1")
    for name in h1.joint_names:
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        assert model.dof_armature[model.jnt_dofadr[j]] == pytest.approx(0.01), name


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_foot_spans_unitrees_collision_mesh(model, side):
    """Heel -0.10 ... toe +0.20 from the ankle, y +-0.04, sole 0.07 below it (unitree_rl_gym's mesh)."""
    g = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"{side}_foot")
    assert model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX
    (x, _, z), (hx, hy, hz) = model.geom_pos[g], model.geom_size[g]
    np.testing.assert_allclose([x - hx, x + hx, hy, z - hz], [-0.10, 0.20, 0.04, -0.07], atol=1e-6)
