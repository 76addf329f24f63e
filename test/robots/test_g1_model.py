"""The G1 (29 DoF) description against the vendor's figures (g1_29dof_rev_1_0).

The expected numbers are written out here from the vendor model (menagerie g1_mjx.xml =
unitree_rl_gym / unitree_ros g1_29dof_rev_1_0), not read back from urdf/g1.xml, so a slip in
the model file shows up: total mass, the canonical (= unitree_hg motor) order, a sample of
joint frames, axes, ranges, efforts and armatures, an inertia with its frame, the pelvis IMU
and the foot's support region. Generic checks (URDF == MJCF, standing) are in test_description.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lucid_ros.robots.description import load_robot

LEG = ["hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll"]
ARM = ["shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw"]
G1_JOINTS = (
    [f"left_{p}_joint" for p in LEG]
    + [f"right_{p}_joint" for p in LEG]
    + ["waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint"]
    + [f"left_{p}_joint" for p in ARM]
    + [f"right_{p}_joint" for p in ARM]
)

# body: (parent, pos in parent, body quat w x y z), vendor table
FRAMES = {
    "left_hip_pitch_link": ("pelvis", [0, 0.064452, -0.1027], [1, 0, 0, 0]),
    "right_hip_roll_link": ("right_hip_pitch_link", [0, -0.052, -0.030465], [0.996179, 0, -0.0873386, 0]),
    "left_knee_link": ("left_hip_yaw_link", [-0.078273, 0.0021489, -0.17734], [0.996179, 0, 0.0873386, 0]),
    "right_ankle_pitch_link": ("right_knee_link", [0, 9.4445e-05, -0.30001], [1, 0, 0, 0]),
    "waist_roll_link": ("waist_yaw_link", [-0.0039635, 0, 0.044], [1, 0, 0, 0]),
    "left_shoulder_pitch_link": ("torso_link", [0.0039563, 0.10022, 0.24778], [0.990264, 0.139201, 1.38722e-05, -9.86868e-05]),
    "right_wrist_roll_link": ("right_elbow_link", [0.1, -0.00188791, -0.01], [1, 0, 0, 0]),
}

# joint: (axis, range, effort, armature), vendor table and its actuator section
JOINTS = {
    "left_hip_roll_joint": ([1, 0, 0], [-0.5236, 2.9671], 139, 0.025101925),
    "right_hip_roll_joint": ([1, 0, 0], [-2.9671, 0.5236], 139, 0.025101925),
    "left_knee_joint": ([0, 1, 0], [-0.087267, 2.8798], 139, 0.025101925),
    "right_ankle_pitch_joint": ([0, 1, 0], [-0.87267, 0.5236], 50, 0.00721945),
    "left_ankle_roll_joint": ([1, 0, 0], [-0.2618, 0.2618], 50, 0.00721945),
    "waist_yaw_joint": ([0, 0, 1], [-2.618, 2.618], 88, 0.01017752004),
    "waist_pitch_joint": ([0, 1, 0], [-0.52, 0.52], 50, 0.00721945),
    "right_shoulder_roll_joint": ([1, 0, 0], [-2.2515, 1.5882], 25, 0.003609725),
    "left_elbow_joint": ([0, 1, 0], [-1.0472, 2.0944], 25, 0.003609725),
    "right_wrist_yaw_joint": ([0, 0, 1], [-1.61443, 1.61443], 5, 0.00425),
}


@pytest.fixture(scope="module")
def g1():
    return load_robot("g1")


@pytest.fixture(scope="module")
def model(g1):
    return mujoco.MjModel.from_xml_path(str(g1.mjcf_path))


def test_joint_order_is_the_unitree_hg_motor_order(g1):
    assert g1.kind == "humanoid" and g1.base_body == "pelvis"
    assert g1.joint_names == G1_JOINTS
    np.testing.assert_array_equal(g1.vendor_index, np.arange(29))
    assert g1.vendor_motor_slots == 35  # unitree_hg LowCmd_.motor_cmd[35]


def test_total_mass_is_the_vendor_figure(model):
    assert float(model.body_mass.sum()) == pytest.approx(33.34, abs=0.005)
    assert model.body_mass[model.body("torso_link").id] == pytest.approx(7.818)
    assert model.body_mass[model.body("pelvis").id] == pytest.approx(3.813)


@pytest.mark.parametrize("body", FRAMES)
def test_joint_frames(model, body):
    parent, pos, quat = FRAMES[body]
    b = model.body(body).id
    assert model.body(model.body_parentid[b]).name == parent
    np.testing.assert_allclose(model.body_pos[b], pos, atol=1e-7)
    np.testing.assert_allclose(model.body_quat[b], np.array(quat) / np.linalg.norm(quat), atol=1e-7)


@pytest.mark.parametrize("joint", JOINTS)
def test_joint_axes_ranges_efforts(model, g1, joint):
    axis, rng, effort, armature = JOINTS[joint]
    j = model.joint(joint).id
    np.testing.assert_allclose(model.jnt_axis[j], axis)
    np.testing.assert_allclose(model.jnt_range[j], rng)
    assert model.dof_armature[model.jnt_dofadr[j]] == pytest.approx(armature)
    assert model.dof_frictionloss[model.jnt_dofadr[j]] == pytest.approx(0.1)
    np.testing.assert_allclose(model.actuator_ctrlrange[model.actuator(joint).id], [-effort, effort])
    spec = g1.joints[g1.index_of([joint])[0]]
    assert (spec.lower, spec.upper, spec.effort_limit) == (rng[0], rng[1], effort)


def _mat(quat) -> np.ndarray:
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, np.asarray(quat, dtype=float) / np.linalg.norm(quat))
    return R.reshape(3, 3)


def test_inertia_and_com_with_their_frame(model):
    b = model.body("left_knee_link").id
    np.testing.assert_allclose(model.body_ipos[b], [0.005457, 0.003964, -0.12074], atol=1e-9)
    # the body-frame tensor R diag R^T, with the vendor's principal inertia and its quat
    R = _mat([0.923418, -0.0327699, 0.0158246, 0.382067])
    expected = R @ np.diag([0.0113804, 0.0112778, 0.00146458]) @ R.T
    Rm = _mat(model.body_iquat[b])
    np.testing.assert_allclose(Rm @ np.diag(model.body_inertia[b]) @ Rm.T, expected, atol=1e-8)


def test_imu_is_the_pelvis_imu(model):
    s = model.site("imu").id
    assert model.body(model.site_bodyid[s]).name == "pelvis"
    np.testing.assert_allclose(model.site_pos[s], [0.04525, 0, -0.08339])


@pytest.mark.parametrize("side", ["left", "right"])
def test_foot_spans_the_vendor_contact_points(model, side):
    """Vendor contact spheres (r 0.005) at x -0.05 and 0.12, y +-0.025..0.03, centre z -0.03."""
    g = model.geom(f"{side}_foot").id
    assert model.body(model.geom_bodyid[g]).name == f"{side}_ankle_roll_link"
    assert model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX
    lo, hi = model.geom_pos[g] - model.geom_size[g], model.geom_pos[g] + model.geom_size[g]
    np.testing.assert_allclose([lo[0], hi[0]], [-0.05, 0.12], atol=1e-9)
    np.testing.assert_allclose([lo[1], hi[1]], [-0.03, 0.03], atol=1e-9)
    assert lo[2] == pytest.approx(-0.035)  # sole = bottom of the spheres
    np.testing.assert_allclose(model.site_pos[model.site(f"{side}_foot").id], [0.035, 0, -0.035])
