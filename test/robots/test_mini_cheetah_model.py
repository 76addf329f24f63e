"""The Mini Cheetah description against MIT Cheetah-Software's figures (MiniCheetah.h, LegController).

The expected numbers are written out here from the vendor's sources, not read back from
urdf/mini_cheetah.xml, so a slip in the model shows up: total mass and trunk inertia, link masses
and mirrored COMs, actuator limits and reflected rotor inertia, the LCM joint order, and, above
all, the foot position against LegController's kinematics formula, which pins the ab/ad, hip and
knee mapping and signs. A YAML whose declared joint axis disagrees with either model is refused.
Generic checks (URDF == MJCF, standing, standing up) are in test_description.
"""

from __future__ import annotations

import re
import shutil

import mujoco
import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import load_robot

LEGS = ["FR", "FL", "RR", "RL"]  # MCS legs 0 FR, 1 FL, 2 HR, 3 HL
SIDE = {"FR": -1, "FL": 1, "RR": -1, "RL": 1}  # LegController's sideSign
PARTS = ["hip", "thigh", "calf"]  # MCS ab/ad, hip, knee
L1, L2, L3, L4 = 0.062, 0.209, 0.195, 0.004
ABAD = {leg: (0.19 if leg[0] == "F" else -0.19, 0.049 * SIDE[leg], 0.0) for leg in LEGS}


@pytest.fixture(scope="module")
def mc():
    return load_robot("mini_cheetah")


@pytest.fixture(scope="module")
def model(mc):
    return mujoco.MjModel.from_xml_path(str(mc.mjcf_path))


def test_joint_order_is_the_lcm_order(mc):
    assert mc.kind == "quadruped" and mc.base_body == "trunk"
    assert mc.joint_names == [f"{leg}_{p}_joint" for leg in LEGS for p in PARTS]
    expected = {f"{leg}_{p}_joint": li * 3 + ji for li, leg in enumerate(LEGS) for ji, p in enumerate(PARTS)}
    assert dict(zip(mc.joint_names, mc.vendor_index.tolist(), strict=True)) == expected
    assert mc.vendor_motor_slots == 12  # leg_control_command_lcmt float[12]
    assert mc.lcm_dialect == "cheetah_software"  # MCS's own LCM types, not walk-these-ways' Go1 bridge
    np.testing.assert_array_equal(mc.vendor_sign, 1.0)  # LegController angles are the stack's
    np.testing.assert_array_equal(mc.default_pose.reshape(4, 3)[:, 1:], [[-0.8, 1.6]] * 4)  # RecoveryStand


def test_mass_and_trunk_inertia_are_the_mcs_figures(model):
    assert float(model.body_mass.sum()) == pytest.approx(3.3 + 4 * (0.54 + 0.634 + 0.064) + 12 * 0.055, abs=1e-9)
    t = model.body("trunk").id
    assert model.body_mass[t] == pytest.approx(3.3)
    np.testing.assert_allclose(model.body_inertia[t], [0.011253, 0.036203, 0.042673])  # not the WTW URDF's Iyy 0.362
    np.testing.assert_allclose(model.body_ipos[t], 0)
    for leg in LEGS:
        s = SIDE[leg]
        assert model.body_mass[model.body(f"{leg}_hip").id] == pytest.approx(0.54)
        assert model.body_mass[model.body(f"{leg}_thigh").id] == pytest.approx(0.634)
        assert model.body_mass[model.body(f"{leg}_calf").id] == pytest.approx(0.064)
        # COMs mirrored for the right legs, as MCS flips its inertias (the hip frame is turned by pi about z)
        np.testing.assert_allclose(model.body_ipos[model.body(f"{leg}_hip").id], [0, 0.036 * s, 0], atol=1e-12)
        np.testing.assert_allclose(model.body_ipos[model.body(f"{leg}_thigh").id], [0, -0.016 * s, -0.02], atol=1e-12)
        np.testing.assert_allclose(model.body_ipos[model.body(f"{leg}_calf").id], [0, 0, -0.061], atol=1e-12)
        for rotor in ("abad_rotor", "thigh_rotor", "calf_rotor"):
            assert model.body_mass[model.body(f"{leg}_{rotor}").id] == pytest.approx(0.055)


# part: (effort = 3 N*m x gear, no-load speed, armature = 63e-6 x gear^2)
ACTUATOR = {"hip": (18.0, 40.0, 63e-6 * 36), "thigh": (18.0, 40.0, 63e-6 * 36), "calf": (28.0, 25.7, 63e-6 * 9.33**2)}


@pytest.mark.parametrize("part", PARTS)
def test_actuators(model, mc, part):
    effort, speed, armature = ACTUATOR[part]
    for leg in LEGS:
        name = f"{leg}_{part}_joint"
        dof = model.jnt_dofadr[model.joint(name).id]
        assert model.dof_armature[dof] == pytest.approx(armature, rel=1e-3)
        assert model.dof_damping[dof] == pytest.approx(0.01) and model.dof_frictionloss[dof] == pytest.approx(0.2)
        np.testing.assert_allclose(model.actuator_ctrlrange[model.actuator(name).id], [-effort, effort])
        spec = mc.joints[mc.index_of([name])[0]]
        assert (spec.effort_limit, spec.velocity_limit) == (effort, speed)


def mcs_foot(q: np.ndarray, side: int) -> np.ndarray:
    """LegController::computeLegJacobianAndPosition: the foot relative to the ab/ad joint."""
    s1, s2, s3 = np.sin(q)
    c1, c2, c3 = np.cos(q)
    c23, s23 = np.cos(q[1] + q[2]), np.sin(q[1] + q[2])
    return np.array([
        L3 * s23 + L2 * s2,
        (L1 + L4) * side * c1 + L3 * s1 * c23 + L2 * c2 * s1,
        (L1 + L4) * side * s1 - L3 * c1 * c23 - L2 * c1 * c2,
    ])  # fmt: skip


def test_foot_position_matches_mcs_kinematics(model, mc):
    d = mujoco.MjData(model)
    rng = np.random.default_rng(3)
    poses = [mc.default_pose, np.zeros(12), np.tile([0.0, -0.8, 1.6], 4), np.tile([0.3, 0.5, -1.0], 4)]
    poses += [rng.uniform(mc.lower, mc.upper) for _ in range(20)]
    for q in poses:
        d.qpos[:] = 0
        d.qpos[2], d.qpos[3] = 0.5, 1.0  # trunk at (0, 0, 0.5), level
        for name, v in zip(mc.joint_names, q, strict=True):
            d.qpos[model.jnt_qposadr[model.joint(name).id]] = v
        mujoco.mj_kinematics(model, d)
        for li, leg in enumerate(LEGS):
            got = d.geom_xpos[model.geom(f"{leg}_foot").id] - d.qpos[:3] - ABAD[leg]
            want = mcs_foot(q[3 * li : 3 * li + 3], SIDE[leg])
            np.testing.assert_allclose(got, want, atol=1e-3, err_msg=f"{leg} at {np.round(q[3 * li : 3 * li + 3], 3)}")


def test_stand_pose_puts_the_feet_under_the_hips(model, mc):
    """(0, -0.8, 1.6): the foot 0.2815 below the hip axis and 0.0100 behind it (robot-models.md §4.4)."""
    foot = mcs_foot(np.array([0.0, -0.8, 1.6]), 1)
    assert foot[2] == pytest.approx(-0.2815, abs=1e-4) and foot[0] == pytest.approx(-0.0100, abs=1e-4)


def _copy_with(tmp_path, yaml_edit=None, urdf_edit=None):
    """mini_cheetah.yaml and both models copied to tmp_path, one text substitution applied to each given."""
    for f in ("mini_cheetah.xml", "mini_cheetah.urdf"):
        shutil.copy(paths.urdf_dir() / f, tmp_path / f)
    for fname, edit in (("mini_cheetah.urdf", urdf_edit), (None, yaml_edit)):
        src = tmp_path / fname if fname else paths.config_dir() / "robots" / "mini_cheetah.yaml"
        text = src.read_text()
        if edit is not None:
            text, n = re.subn(edit[0], edit[1], text, count=1)
            assert n == 1, edit[0]
        (tmp_path / (fname or "mc.yaml")).write_text(text)
    return tmp_path / "mc.yaml"


AXES = [
    # (id, yaml substitution, urdf substitution, field, message fragment)
    ("yaml_go1_sign", (r"(name: FL_thigh_joint,.*axis: )\[0, -1, 0\]", r"\1[0, 1, 0]"), None, "joints[4].axis", "mini_cheetah.xml: [0.0, -1.0, 0.0]"),
    ("yaml_not_unit", (r"(name: FR_calf_joint,.*axis: )\[0, -1, 0\]", r"\1[0, -2, 0]"), None, "joints[2].axis", "unit vector"),
    ("yaml_a_word", (r"(name: FR_calf_joint,.*axis: )\[0, -1, 0\]", r"\1minus_y"), None, "joints[2].axis", "list of numbers"),
    ("urdf_disagrees", None, (r'(<joint name="RR_calf_joint"[^>]*>\s*<parent[^>]*/><child[^>]*/>\s*<origin[^>]*/>)<axis xyz="0 -1 0"/>',
                              r'\1<axis xyz="0 1 0"/>'), "joints[8].axis", "mini_cheetah.urdf: [0.0, 1.0, 0.0]"),
]  # fmt: skip


@pytest.mark.parametrize("case", AXES, ids=[c[0] for c in AXES])
def test_axis_disagreeing_with_a_model_is_refused(tmp_path, case):
    _, yaml_edit, urdf_edit, field, fragment = case
    path = _copy_with(tmp_path, yaml_edit, urdf_edit)
    with pytest.raises(ConfigError) as info:
        load_robot(path)
    assert info.value.field == field and str(path.resolve()) in str(info.value), str(info.value)
    assert fragment in str(info.value), str(info.value)


def test_unmodified_copy_with_its_models_loads(tmp_path):
    r = load_robot(_copy_with(tmp_path))
    assert r.mjcf_path == (tmp_path / "mini_cheetah.xml").resolve() and r.joints[1].axis == (0.0, -1.0, 0.0)
