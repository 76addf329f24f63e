"""The ONNX runner refuses policies that disagree with their spec, and runs the ones that agree."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.policy.check import check_policy
from lucid_ros.policy.fixtures import make_mlp_policy, make_policy, mlp_weights, write_spec
from lucid_ros.policy.observations import ObsInputs
from lucid_ros.policy.runner import OnnxPolicy, PolicyRuntime, choose_providers
from lucid_ros.policy.spec import load_spec

RECURRENT = [{"input": "h_in", "output": "h_out", "shape": [1, 1, 8]}]


def _open(tmp_path, robot, **kw):
    return OnnxPolicy(load_spec(make_policy(tmp_path, robot, **kw), robot))


def _refused(tmp_path, robot, **kw) -> PolicyMismatch:
    with pytest.raises(PolicyMismatch) as exc:
        _open(tmp_path, robot, **kw)
    return exc.value


def _standing(robot) -> ObsInputs:
    n = robot.n_joints
    return ObsInputs(
        q=robot.default_pose[None].copy(),
        dq=np.zeros((1, n)),
        gravity=np.array([[0.0, 0.0, -1.0]]),
        ang_vel=np.zeros((1, 3)),
        command=np.zeros((1, 3)),
    )


def test_wrong_checksum(tmp_path, go1):
    err = _refused(tmp_path, go1, sha256="0" * 64)
    assert err.field == "sha256"
    assert "0" * 64 in err.message and load_spec(tmp_path / "policy.yaml").sha256 == "0" * 64
    actual = hashlib.sha256((tmp_path / "policy.onnx").read_bytes()).hexdigest()
    assert actual in err.message and "policy.onnx" in err.message


def test_wrong_observation_dim(tmp_path, go1):
    err = _refused(tmp_path, go1, obs_dim=48)
    assert err.field == "inputs.observation"
    assert "[1, 48]" in err.message and "[1, 45]" in err.message and "joint_vel 12" in err.message


def test_wrong_action_count(tmp_path, go1):
    err = _refused(tmp_path, go1, n_act=11)
    assert err.field == "outputs.action" and "11 actions" in err.message and "12 joints" in err.message


def test_wrong_input_and_output_names(tmp_path, go1):
    err = _refused(tmp_path, go1, obs_input="observations")
    assert err.field == "inputs.observation" and "no input 'observations'" in err.message and "['obs']" in err.message
    err = _refused(tmp_path, go1, name="b", action_output="mu")
    assert err.field == "outputs.action" and "no output 'mu'" in err.message


def test_missing_recurrent_input(tmp_path, go1):
    err = _refused(tmp_path, go1, kind="linear", recurrent=RECURRENT)
    assert err.field == "inputs.recurrent[0].input" and "no input 'h_in'" in err.message


def test_recurrent_shape_mismatch(tmp_path, go1):
    err = _refused(tmp_path, go1, kind="recurrent", recurrent=[{"input": "h_in", "output": "h_out", "shape": [1, 1, 16]}])
    assert err.field == "inputs.recurrent[0].shape" and "[1, 1, 8]" in err.message and "[1, 1, 16]" in err.message


def test_undeclared_graph_input(tmp_path, go1):
    err = _refused(tmp_path, go1, kind="recurrent")  # the graph has h_in; the spec declares no state
    assert err.field == "inputs" and "['h_in']" in err.message


def test_declared_image_input_must_exist(tmp_path, go1):
    images = [{"input": "depth", "camera": "ego", "stream": "depth"}]
    err = _refused(tmp_path, go1, images=images)
    assert err.field == "inputs.images[0].input" and "no input 'depth'" in err.message
    p = _open(tmp_path, go1, name="img", images=images, onnx_kwargs={"extra_inputs": {"depth": [1, 1, 60, 106]}})
    with pytest.raises(ValueError, match="needs image input 'depth'"):
        p.act(np.zeros(45))
    assert p.act(np.zeros(45), {"depth": np.ones((1, 1, 60, 106))}).shape == (12,)


def test_dynamic_batch_dim_is_accepted(tmp_path, go1):
    p = _open(tmp_path, go1, onnx_kwargs={"batch": "batch"})
    assert p.act(np.zeros((1, 45))).shape == (12,)


def test_act_matches_the_network(tmp_path, go1):
    p = _open(tmp_path, go1, kind="linear", onnx_kwargs={"seed": 4})
    w, b = mlp_weights(45, 12, seed=4)
    obs = np.linspace(-1, 1, 45, dtype=np.float32)
    a = p.act(obs)
    assert a.dtype == np.float32 and a.shape == (12,)
    np.testing.assert_allclose(a, obs @ w + b, rtol=1e-5)
    assert p.inference_ms > 0.0
    with pytest.raises(ValueError, match=r"shape \(1, 45\)"):
        p.act(np.zeros((2, 45)))


def test_recurrent_state_is_carried_and_reset(tmp_path, go1):
    p = _open(tmp_path, go1, kind="recurrent", recurrent=RECURRENT)
    obs = np.zeros(45)
    assert [float(p.act(obs)[0]) for _ in range(3)] == [0.0, 1.0, 2.0]
    assert np.all(p.state["h_in"] == 3.0)
    p.reset()
    assert np.all(p.state["h_in"] == 0.0) and p.state["h_in"].shape == (1, 1, 8)
    assert float(p.act(obs)[0]) == 0.0


def test_provider_report_names_cpu(tmp_path, go1):
    p = _open(tmp_path, go1)
    assert "CPUExecutionProvider" in p.provider_report and p.provider_report.startswith("onnxruntime ")
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    assert choose_providers("auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(ValueError, match="not available"):
        choose_providers(["NoSuchExecutionProvider"])


def test_nan_actions_pass_through_and_are_flagged(tmp_path, go1):
    rt = PolicyRuntime(make_policy(tmp_path, go1, kind="nan"), go1)
    q, kp, kd, raw = rt.step(_standing(go1), now=0.0)
    assert np.isnan(raw).all() and np.isnan(q).all()
    assert rt.last_step_finite is False
    assert np.isfinite(kp).all() and np.isfinite(kd).all()


def test_runtime_feeds_back_the_clipped_action(tmp_path, go1):
    rt = PolicyRuntime(make_policy(tmp_path, go1, kind="linear", action_clip=0.05, onnx_kwargs={"seed": 1}), go1)
    w, b = mlp_weights(45, 12, seed=1)
    la = rt.spec.observation.term_indices("last_action")[0]
    x = _standing(go1)
    x.command = np.array([[1.0, 0.0, 0.5]])
    _, _, _, raw1 = rt.step(x, now=10.0)
    assert rt.last_step_finite and np.abs(raw1).max() > 0.05  # the clip matters in this test
    np.testing.assert_allclose(rt.last_obs[la], 0.0)  # fresh episode: no previous action
    np.testing.assert_allclose(raw1, rt.last_obs @ w + b, rtol=1e-5)
    _, _, _, raw2 = rt.step(x, now=10.02)
    np.testing.assert_allclose(rt.last_obs[la], np.clip(raw1, -0.05, 0.05), rtol=1e-6)
    rt.reset()
    rt.step(x, now=11.0)
    np.testing.assert_allclose(rt.last_obs[la], 0.0)


def test_runtime_phase_time_starts_at_first_step_after_reset(tmp_path, go1):
    rt = PolicyRuntime(make_policy(tmp_path, go1, terms=[{"name": "gait_phase", "frequency": 1.0}]), go1)
    rt.step(ObsInputs(), now=100.0)
    np.testing.assert_allclose(rt.last_obs, [0.0, 1.0], atol=1e-7)
    rt.step(ObsInputs(), now=100.25)
    np.testing.assert_allclose(rt.last_obs, [1.0, 0.0], atol=1e-6)
    rt.reset()
    rt.step(ObsInputs(), now=200.0)
    np.testing.assert_allclose(rt.last_obs, [0.0, 1.0], atol=1e-7)


def test_runtime_recurrent_reset(tmp_path, go1):
    rt = PolicyRuntime(make_policy(tmp_path, go1, kind="recurrent", recurrent=RECURRENT, action_clip=None), go1)
    raws = [rt.step(_standing(go1), now=0.02 * k)[3][0] for k in range(3)]
    assert raws == [0.0, 1.0, 2.0]
    rt.reset()
    assert rt.step(_standing(go1), now=1.0)[3][0] == 0.0


def test_runtime_decimation(tmp_path, go1):
    assert PolicyRuntime(make_policy(tmp_path, go1, rate_hz=25), go1).decimation == 2


def test_runtime_does_not_import_onnx():
    """onnx is a test/training dependency; the robot's runtime install has only onnxruntime."""
    import subprocess
    import sys

    code = "import sys, lucid_ros.policy; assert 'onnx' not in sys.modules, 'onnx imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_symbolic_obs_dim_that_is_really_another_size_is_refused_at_open(tmp_path, go1):
    import onnx

    onnx_path = make_mlp_policy(tmp_path / "sym.onnx", 48, 12)
    model = onnx.load(str(onnx_path))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "obs_dim"  # hides the real 48
    onnx.save(model, str(onnx_path))
    spec_path = write_spec(tmp_path / "sym.yaml", onnx_path, go1)
    with pytest.raises(PolicyMismatch, match=r"fails on a zero observation of shape \[1, 45\]") as exc:
        OnnxPolicy(load_spec(spec_path, go1))
    assert exc.value.field == "inputs"
    report = check_policy(spec_path, go1)
    assert report.exit_code == 1 and "dry run failed" in report.problems[0]


# -- image fresh flags: a network whose image branch runs at the image rate -------------------------

FRESH_IMAGES = [{"input": "depth", "camera": "ego", "stream": "depth", "fresh": "depth_fresh"}]


def _fresh_policy(tmp_path, go1, fresh_shape=(1,), fresh_type=None, images=FRESH_IMAGES):
    """actions = fresh (every joint) + 0 * mean(depth) + 0 * obs: the flag the runner fed is visible."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ins = [
        helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, 45]),
        helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, 4, 4]),
        helper.make_tensor_value_info("depth_fresh", fresh_type or TensorProto.FLOAT, list(fresh_shape)),
    ]
    inits = [numpy_helper.from_array(np.zeros((45, 12), np.float32), "w"), numpy_helper.from_array(np.zeros((), np.float32), "z")]
    nodes = [
        helper.make_node("MatMul", ["obs", "w"], ["a"]),
        helper.make_node("ReduceMean", ["depth"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "z"], ["mz"]),
        helper.make_node("Cast", ["depth_fresh"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["a", "f"], ["b"]),
        helper.make_node("Add", ["b", "mz"], ["actions"]),
    ]
    graph = helper.make_graph(nodes, "fresh", ins, [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, 12])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "fresh.onnx"))
    return load_spec(write_spec(tmp_path / "fresh.yaml", tmp_path / "fresh.onnx", go1, images=images), go1)


def test_fresh_flag_is_fed_from_the_caller_and_forced_after_reset(tmp_path, go1):
    p = OnnxPolicy(_fresh_policy(tmp_path, go1))
    obs, img = np.zeros(45), {"depth": np.zeros((1, 1, 4, 4))}
    assert p.act(obs, img, {"depth": False})[0] == 1.0  # the first step after a reset: always new
    assert p.act(obs, img, {"depth": False})[0] == 0.0
    assert p.act(obs, img, {"depth": True})[0] == 1.0
    assert p.act(obs, img)[0] == 1.0  # no flags given: every image counts as new
    p.reset()
    assert p.act(obs, img, {"depth": False})[0] == 1.0


def test_fresh_input_is_checked_against_the_graph(tmp_path, go1):
    with pytest.raises(PolicyMismatch) as exc:
        OnnxPolicy(_fresh_policy(tmp_path, go1, fresh_shape=(1, 1)))
    assert exc.value.field == "inputs.images[0].fresh" and "float32 [1]" in exc.value.message
    from onnx import TensorProto

    with pytest.raises(PolicyMismatch) as exc:
        OnnxPolicy(_fresh_policy(tmp_path, go1, fresh_type=TensorProto.INT64))
    assert exc.value.field == "inputs.images[0].fresh"
    with pytest.raises(PolicyMismatch) as exc:  # declared nowhere: an undeclared graph input
        OnnxPolicy(_fresh_policy(tmp_path, go1, images=[{k: v for k, v in FRESH_IMAGES[0].items() if k != "fresh"}]))
    assert exc.value.field == "inputs" and "depth_fresh" in exc.value.message
    with pytest.raises(PolicyMismatch) as exc:  # declared, but the graph lacks it
        OnnxPolicy(_fresh_policy(tmp_path, go1, images=[{**FRESH_IMAGES[0], "fresh": "new_frame"}]))
    assert exc.value.field == "inputs.images[0].fresh" and "no input 'new_frame'" in exc.value.message


def test_runtime_passes_fresh_flags_on(tmp_path, go1):
    _fresh_policy(tmp_path, go1)
    rt = PolicyRuntime(tmp_path / "fresh.yaml", go1)
    img = {"depth": np.zeros((1, 1, 4, 4))}
    raws = [rt.step(_standing(go1), 0.02 * k, img, {"depth": k % 5 == 0})[3][0] for k in range(7)]
    assert raws == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]


# -- image age: how old the newest frame is, for a network that reads it ---------------------------

AGED_IMAGES = [{"input": "depth", "camera": "ego", "stream": "depth", "age": "depth_fresh"}]  # the graph input of _fresh_policy, read as an age


@pytest.mark.parametrize("shape", [(1,), (1, 1)])
def test_image_age_is_fed_from_the_caller_and_required(tmp_path, go1, shape):
    p = OnnxPolicy(_fresh_policy(tmp_path, go1, fresh_shape=shape, images=AGED_IMAGES))  # opening it runs it once (ages 0)
    obs, img = np.zeros(45), {"depth": np.zeros((1, 1, 4, 4))}
    assert p.act(obs, img, ages={"depth": 0.06})[0] == np.float32(0.06)
    assert p.act(obs, img, ages={"depth": 0.5})[0] == 0.5
    with pytest.raises(ValueError, match="reads the age of image input 'depth'"):
        p.act(obs, img)
    rt = PolicyRuntime(tmp_path / "fresh.yaml", go1)
    assert [float(rt.step(_standing(go1), 0.02 * k, img, ages={"depth": 0.02 * (k % 5)})[3][0]) for k in range(3)] == pytest.approx([0.0, 0.02, 0.04])


def test_image_age_input_is_checked_against_the_graph_and_the_spec(tmp_path, go1):
    from onnx import TensorProto

    with pytest.raises(PolicyMismatch) as exc:
        OnnxPolicy(_fresh_policy(tmp_path, go1, fresh_type=TensorProto.INT64, images=AGED_IMAGES))
    assert exc.value.field == "inputs.images[0].age" and "float32 [1] or [batch, 1]" in exc.value.message
    with pytest.raises(PolicyMismatch) as exc:  # declared, but the graph lacks it
        OnnxPolicy(_fresh_policy(tmp_path, go1, images=[{**AGED_IMAGES[0], "age": "frame_age"}]))
    assert exc.value.field == "inputs.images[0].age" and "no input 'frame_age'" in exc.value.message
    with pytest.raises(ConfigError, match="more than one purpose"):  # one graph input as both the fresh flag and the age
        _fresh_policy(tmp_path, go1, images=[{**AGED_IMAGES[0], "fresh": "depth_fresh"}])
