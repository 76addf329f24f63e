"""Action mapping: policy order -> canonical order, offsets, clips, and partial-DOF policies."""

from __future__ import annotations

import numpy as np
import pytest

from lucid_ros.policy.actions import ActionMapper
from lucid_ros.policy.fixtures import make_policy
from lucid_ros.policy.spec import load_spec

from .conftest import LEGGED_GYM_ORDER


def _mapper(tmp_path, robot, **kw):
    return ActionMapper(load_spec(make_policy(tmp_path, robot, **kw), robot), robot)


def test_action_index_drives_the_right_canonical_joint(tmp_path, go1):
    m = _mapper(tmp_path, go1, joint_order=LEGGED_GYM_ORDER, action_scale=0.25)
    for k, name in enumerate(LEGGED_GYM_ORDER):
        raw = np.zeros(12)
        raw[k] = 1.0
        q, _, _ = m.targets(raw)
        moved = np.flatnonzero(q != go1.default_pose)
        assert [go1.joint_names[i] for i in moved] == [name]
        assert q[moved[0]] == pytest.approx(go1.default_pose[moved[0]] + 0.25)
    # spelled out: legged_gym action 0 is FL_hip (canonical 3), action 9 is RR_hip (canonical 6)
    assert m.index[0] == 3 and m.index[9] == 6


def test_targets_formula_with_list_scale_offset_and_clip(tmp_path, go1):
    scale = [0.1 * (i + 1) for i in range(12)]
    offset = [0.01 * i for i in range(12)]
    m = _mapper(tmp_path, go1, action_scale=scale, action_offset=offset, action_clip=2.0)
    raw = np.array([[-5.0, -1.0, 0.0, 1.0, 5.0, 0.5, 0, 0, 0, 0, 0, 3.0]])
    q, _, _ = m.targets(raw)
    clipped = np.clip(raw, -2, 2)
    np.testing.assert_allclose(q, np.array(offset) + np.array(scale) * clipped)
    np.testing.assert_array_equal(m.clip_raw(raw), clipped)
    assert q.shape == (1, 12)


def test_no_clip_and_nan_pass_through(tmp_path, go1):
    m = _mapper(tmp_path, go1, action_clip=None)
    raw = np.full(12, 1e3)
    raw[4] = np.nan
    np.testing.assert_array_equal(m.clip_raw(raw)[[0, 3]], [1e3, 1e3])
    q, _, _ = m.targets(raw)
    assert np.isnan(q[4]) and np.isfinite(np.delete(q, 4)).all()


def test_policy_gains_apply_to_its_joints_only(tmp_path, go1):
    order = ["FL_hip_joint", "FL_thigh_joint", "FL_calf_joint", "FR_hip_joint", "FR_thigh_joint", "FR_calf_joint"]
    m = _mapper(tmp_path, go1, joint_order=order, kp=40.0, kd=[1.0, 1.1, 1.2, 1.3, 1.4, 1.5], terms=[{"name": "last_action"}])
    assert m.kp.tolist() == [40.0] * 6 + [20.0] * 6  # front legs (canonical 0-5) by the policy
    assert m.kd.tolist() == [1.3, 1.4, 1.5, 1.0, 1.1, 1.2] + [0.5] * 6
    q, _, _ = m.targets(np.ones(6))
    np.testing.assert_allclose(q[6:], go1.default_pose[6:])
    np.testing.assert_allclose(q[:6], go1.default_pose[:6] + 0.25)


def test_twelve_of_twenty_nine_joints(tmp_path, humanoid29):
    """A 12-DOF leg policy on a 29-DOF humanoid: the other 17 hold their default pose and gains."""
    legs = humanoid29.joint_names[:12][::-1]  # any order
    m = _mapper(tmp_path, humanoid29, joint_order=legs, kp=150.0, kd=4.0, terms=[{"name": "joint_pos_rel"}, {"name": "last_action"}])
    raw = np.arange(1.0, 13.0)[None].repeat(3, axis=0)  # batch of 3
    q, kp, kd = m.targets(raw)
    assert q.shape == (3, 29) and kp.shape == (29,) and kd.shape == (29,)
    np.testing.assert_allclose(q[:, 12:], np.broadcast_to(humanoid29.default_pose[12:], (3, 17)))
    np.testing.assert_allclose(kp[12:], humanoid29.kp[12:])
    np.testing.assert_allclose(kd[12:], humanoid29.kd[12:])
    assert kp[:12].tolist() == [150.0] * 12
    # reversed order: action 0 drives the last leg joint
    np.testing.assert_allclose(q[0, 11], humanoid29.default_pose[11] + 0.25 * 1.0)
    np.testing.assert_allclose(q[0, 0], humanoid29.default_pose[0] + 0.25 * 12.0)
    assert m.controlled.sum() == 12


def test_gains_are_read_only(tmp_path, go1):
    _, kp, _ = _mapper(tmp_path, go1).targets(np.zeros(12))
    with pytest.raises(ValueError):
        kp[0] = 0.0


def test_wrong_action_width_is_refused(tmp_path, go1):
    with pytest.raises(ValueError, match="last dimension 12"):
        _mapper(tmp_path, go1).targets(np.zeros(11))
