"""The ONNX fixtures behave as documented, so tests built on them mean what they say."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from lucid_ros.policy.fixtures import DOC_TERMS, make_mlp_policy, mlp_weights, terms_dim


def _run(path, feeds):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_nan_policy_outputs_nan_for_every_input(tmp_path):
    p = make_mlp_policy(tmp_path / "nan.onnx", 7, 3, kind="nan")
    rng = np.random.default_rng(1)
    for obs in (np.zeros((1, 7)), np.ones((1, 7)), rng.normal(size=(1, 7)) * 1e6, np.full((1, 7), -np.inf)):
        (a,) = _run(p, {"obs": obs.astype(np.float32)})
        assert a.shape == (1, 3) and np.isnan(a).all()


def test_zeros_policy_outputs_zero_for_finite_input(tmp_path):
    p = make_mlp_policy(tmp_path / "z.onnx", 5, 4, kind="zeros")
    (a,) = _run(p, {"obs": np.random.default_rng(0).normal(size=(1, 5)).astype(np.float32) * 10})
    assert np.array_equal(a, np.zeros((1, 4), np.float32))


def test_linear_policy_matches_its_weights(tmp_path):
    p = make_mlp_policy(tmp_path / "l.onnx", 6, 2, kind="linear", seed=3)
    w, b = mlp_weights(6, 2, seed=3)
    obs = np.arange(6, dtype=np.float32)[None]
    (a,) = _run(p, {"obs": obs})
    np.testing.assert_allclose(a, obs @ w + b, rtol=1e-6)


def test_recurrent_policy_counts_steps(tmp_path):
    p = make_mlp_policy(tmp_path / "r.onnx", 4, 2, kind="recurrent", hidden=5)
    h = np.zeros((1, 1, 5), np.float32)
    for k in range(3):
        a, h = _run(p, {"obs": np.ones((1, 4), np.float32), "h_in": h})
        assert np.allclose(a, k) and np.allclose(h, k + 1)


def test_dynamic_batch_and_extra_inputs(tmp_path):
    p = make_mlp_policy(tmp_path / "d.onnx", 3, 2, kind="linear", batch="batch", extra_inputs={"depth": [1, 8, 8]})
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == ["batch", 3]
    assert [i.name for i in sess.get_inputs()] == ["obs", "depth"]


def test_terms_dim_of_doc_example():
    assert terms_dim(DOC_TERMS, 12, 4) == 45
    assert terms_dim(DOC_TERMS, 12, 4, history=3) == 135
    assert terms_dim([{"name": "foot_contacts", "feet": ["a", "b"]}], 12, 4) == 2


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        make_mlp_policy(tmp_path / "x.onnx", 3, 2, kind="lstm")
