"""Image preprocessing against hand-computed arrays, batch/single equality, and spec errors that
name the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots import load_robot
from lucid_ros.vision.preprocess import ImageHistory, Preprocessor, check_image_inputs, from_spec

ROOT = Path(__file__).resolve().parents[2]


def depth_pre(**kw) -> Preprocessor:
    m = {"input_size": [4, 6], "rate_hz": 10, "depth": {"clip": [0.0, 100.0], "normalize": "none"}}
    m.update(kw)
    return Preprocessor(m, "depth", policy_rate_hz=50)


def test_crop_and_rotate():
    x = np.arange(1, 25, dtype=np.float32).reshape(4, 6)  # values 1..24, all valid depths
    out = depth_pre(crop=[1, 0, 1, 2]).transform(x)
    assert out.shape == (1, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [[8, 9, 10], [14, 15, 16], [20, 21, 22]])
    # 180 degrees first (an upside-down mount), then the crop in upright image coordinates
    out = depth_pre(rotate=180, crop=[0, 2, 0, 3]).transform(x)
    np.testing.assert_array_equal(out[0], [[24, 23, 22], [18, 17, 16]])
    assert x[0, 0] == 1  # the caller's frame is untouched


def test_depth_invalid_clip_and_the_two_normalisations():
    x = np.array([[-1.0, 0.0, np.nan, 0.5, 1.1, 2.5]], dtype=np.float32)
    base = {"input_size": [1, 6], "rate_hz": 10}
    far = Preprocessor({**base, "depth": {"clip": [0.2, 2.0], "normalize": "far"}}, "depth").transform(x)[0, 0]
    # invalid (<= 0, non-finite) -> far by default, then clip, then d / far - 0.5
    np.testing.assert_allclose(far, [0.5, 0.5, 0.5, 0.5 / 2 - 0.5, 1.1 / 2 - 0.5, 0.5], rtol=0, atol=1e-7)
    rng = Preprocessor({**base, "depth": {"clip": [0.2, 2.0], "normalize": "range", "invalid": "near"}}, "depth").transform(x)[0, 0]
    expect = (np.array([0.2, 0.2, 0.2, 0.5, 1.1, 2.0]) - 0.2) / 1.8 - 0.5
    np.testing.assert_allclose(rng, expect, rtol=0, atol=1e-6)
    metres = Preprocessor({**base, "depth": {"clip": [0.2, 2.0], "normalize": "none"}}, "depth").transform(x)[0, 0]
    np.testing.assert_allclose(metres, [2.0, 2.0, 2.0, 0.5, 1.1, 2.0], atol=1e-7)


def test_area_resize_by_hand():
    pre = Preprocessor({"input_size": [1, 3], "resize": [1, 2], "interpolation": "area", "rate_hz": 10,
                        "depth": {"clip": [0.0, 10.0], "normalize": "none"}}, "depth")  # fmt: skip
    a, b, c = 1.0, 4.0, 7.0
    # each output pixel covers 1.5 source pixels: [0, 1.5) and [1.5, 3)
    np.testing.assert_allclose(pre.transform(np.array([[a, b, c]], np.float32))[0], [[(a + 0.5 * b) / 1.5, (0.5 * b + c) / 1.5]], atol=1e-6)
    pre = Preprocessor({"input_size": [2, 4], "resize": [1, 2], "interpolation": "area", "rate_hz": 10,
                        "depth": {"clip": [0.0, 10.0], "normalize": "none"}}, "depth")  # fmt: skip
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32)
    np.testing.assert_allclose(pre.transform(x)[0], [[3.5, 5.5]], atol=1e-6)  # 2x2 block means


def test_bilinear_resize_by_hand():
    common = {"interpolation": "bilinear", "rate_hz": 10, "depth": {"clip": [0.0, 10.0], "normalize": "none"}}
    down = Preprocessor({"input_size": [1, 4], "resize": [1, 2], **common}, "depth")
    np.testing.assert_allclose(down.transform(np.array([[1, 3, 5, 9]], np.float32))[0], [[2.0, 7.0]], atol=1e-6)
    up = Preprocessor({"input_size": [1, 2], "resize": [1, 4], **common}, "depth")
    # half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel)
    np.testing.assert_allclose(up.transform(np.array([[2, 6]], np.float32))[0], [[2.0, 3.0, 5.0, 6.0]], atol=1e-6)


def test_bilinear_and_bicubic_agree_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for kind in ("bilinear", "bicubic"):
        for size, out in (((58, 98), (58, 87)), ((60, 106), (45, 80)), ((45, 80), (90, 160))):
            pre = Preprocessor({"input_size": list(size), "resize": list(out), "interpolation": kind, "rate_hz": 10,
                                "depth": {"clip": [0.0, 3.0], "normalize": "none"}}, "depth")  # fmt: skip
            x = rng.uniform(0.1, 3.0, size=(3, *size)).astype(np.float32)
            ref = torch.nn.functional.interpolate(torch.from_numpy(x[:, None].astype(np.float64)), size=out, mode=kind, align_corners=False)
            np.testing.assert_allclose(pre.transform(x), ref.numpy(), rtol=0, atol=2e-6, err_msg=f"{kind} {size}->{out}")


def test_color_normalise_and_chw_layout():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    pre = Preprocessor({"input_size": [2, 3], "rate_hz": 10, "color": {"mean": mean, "std": std}, "crop": [0, 0, 1, 0]}, "color")
    x = np.zeros((2, 3, 3), np.uint8)
    x[..., 0], x[..., 1], x[..., 2] = 255, 0, 51
    x[1, 2] = (10, 20, 30)
    out = pre.transform(x)
    assert out.shape == (3, 2, 2) and pre.output_shape == (3, 2, 2)
    for c, v in enumerate((255, 0, 51)):
        assert out[c, 0, 0] == pytest.approx((v / 255 - mean[c]) / std[c], abs=1e-6)
    np.testing.assert_allclose(out[:, 1, 1], (np.array([10, 20, 30]) / 255 - mean) / std, atol=1e-6)


def test_batch_equals_single_bit_for_bit():
    rng = np.random.default_rng(0)
    pre = Preprocessor({"input_size": [60, 106], "crop": [0, 2, 4, 4], "resize": [58, 87], "interpolation": "area",
                        "depth": {"clip": [0.0, 2.0], "normalize": "far"}, "rate_hz": 10, "stack": 2}, "depth")  # fmt: skip
    x = rng.uniform(-0.5, 4.0, size=(33, 60, 106)).astype(np.float32)
    batch = pre.transform(x)
    assert batch.shape == (33, 1, 58, 87)
    for i in range(33):
        assert np.array_equal(batch[i], pre.transform(x[i]))
    col = Preprocessor({"input_size": [45, 80], "resize": [30, 50], "interpolation": "bicubic", "rate_hz": 10,
                        "color": {"mean": [0.5] * 3, "std": [0.25] * 3}}, "color")  # fmt: skip
    y = rng.integers(0, 256, size=(9, 45, 80, 3), dtype=np.uint8)
    yb = col.transform(y)
    assert all(np.array_equal(yb[i], col.transform(y[i])) for i in range(9))


def frame(v: float) -> np.ndarray:
    return np.full((4, 6), v, np.float32)


def test_refresh_stack_and_first_frame_fill():
    h = ImageHistory(depth_pre(stack=3), batch=1)
    assert h.due(0.0).tolist() == [True]
    h.push(frame(1.0), 0.0)
    np.testing.assert_array_equal(h.tensor()[0, :, 0, 0], [1, 1, 1])  # the first frame fills the stack
    assert h.tensor().shape == (1, 3, 4, 6)
    assert not h.due(0.02)[0] and not h.due(0.0999)[0] and h.due(0.1)[0]  # 10 Hz against a 50 Hz policy
    for k, t in enumerate((0.1, 0.2, 0.30000000000000004), start=2):
        h.push(frame(float(k)), t)
    np.testing.assert_array_equal(h.tensor()[0, :, 0, 0], [2, 3, 4])  # oldest first
    np.testing.assert_allclose(h.shown_stamps()[0], [0.1, 0.2, 0.3])


def test_delay_frames_shows_an_older_frame():
    h = ImageHistory(depth_pre(stack=2, delay_frames=1), batch=1)
    h.push(frame(1.0), 0.0)
    np.testing.assert_array_equal(h.tensor()[0, :, 0, 0], [1, 1])
    h.push(frame(2.0), 0.1)
    np.testing.assert_array_equal(h.tensor()[0, :, 0, 0], [1, 1])  # the newest frame is held back one refresh
    h.push(frame(3.0), 0.2)
    np.testing.assert_array_equal(h.tensor()[0, :, 0, 0], [1, 2])
    assert h.shown_stamps()[0].tolist() == [0.0, 0.1]


def test_batched_history_refreshes_and_resets_per_env():
    h = ImageHistory(depth_pre(stack=2), batch=3)
    h.push(np.stack([frame(1), frame(2), frame(3)]), 0.0)
    h.reset([1])
    due = h.due(0.02)
    assert due.tolist() == [False, True, False]  # a reset env takes a frame at once
    h.push(frame(9)[None], 0.02, envs=np.flatnonzero(due))
    h.push(np.stack([frame(4), frame(5)]), 0.1, envs=[0, 2])
    np.testing.assert_array_equal(h.tensor()[:, :, 0, 0], [[1, 4], [9, 9], [3, 5]])
    single = ImageHistory(depth_pre(stack=2), batch=1)
    single.push(frame(3), 0.0)
    single.push(frame(5), 0.1)
    assert np.array_equal(single.tensor()[0], h.tensor()[2])


# ---- the spec: the documented example, and errors naming file + field ---------------------------
def doc_example() -> dict:
    text = (ROOT / "docs" / "policy-spec.md").read_text()
    section = text[text.index("## Image inputs") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return yaml.safe_load(block)


def test_the_documented_extreme_parkour_example(tmp_path):
    robot = load_robot("go1")
    images = doc_example()["inputs"]["images"]
    pre = Preprocessor(images[0]["preprocess"], images[0]["stream"], policy_rate_hz=50)
    assert pre.output_shape == (2, 58, 87) and pre.cropped_size == (58, 98) and pre.rate_hz == 10
    onnx = make_mlp_policy(tmp_path / "p.onnx", 45, 12, extra_inputs={"depth": [1, 2, 58, 87]})
    spec = load_spec(write_spec(tmp_path / "p.yaml", onnx, robot, images=images), robot)
    assert [p.output_shape for p in check_image_inputs(spec, robot, {"depth": [1, 2, 58, 87]})] == [(2, 58, 87)]


def spec_with(tmp_path, preprocess, stream="depth", onnx_shape=(1, 2, 58, 87)):
    robot = load_robot("go1")
    onnx = make_mlp_policy(tmp_path / "p.onnx", 45, 12, extra_inputs={"img": list(onnx_shape)})
    images = [{"input": "img", "camera": "ego", "stream": stream, "preprocess": preprocess}]
    return load_spec(write_spec(tmp_path / "bad.yaml", onnx, robot, images=images), robot), robot


GOOD = doc_example()["inputs"]["images"][0]["preprocess"]


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"input_size": None}, "input_size", "required"),
        ({"crop": [0, -2, 4, 4]}, "crop[1]", "integer >= 0"),
        ({"crop": [30, 30, 0, 0]}, "crop", "leaves nothing"),
        ({"resize": [58, 87, 1]}, "resize", "list of 2 integers"),
        ({"interpolation": "lanczos"}, "interpolation", "expected one of"),
        ({"rotate": 90}, "rotate", "0 or 180"),
        ({"rate_hz": 15}, "rate_hz", "divide the policy rate"),
        ({"stack": 0}, "stack", ">= 1"),
        ({"depth": {"clip": [2.0, 0.0], "normalize": "far"}}, "depth.clip", "below upper"),
        ({"depth": {"clip": [0.0, 2.0]}}, "depth.normalize", "required"),
        ({"depth": {"clip": [0.0, 2.0], "normalize": "far", "invalid": "zero"}}, "depth.invalid", "expected one of"),
        ({"color": {"mean": [0.5] * 3, "std": [0.2] * 3}}, "color", "not `color:`"),
        ({"stak": 2}, "stak", "unknown field"),
    ],
)
def test_malformed_preprocessing_names_file_and_field(tmp_path, change, field, words):
    pre = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    spec, _ = spec_with(tmp_path, pre)
    with pytest.raises(ConfigError) as err:
        from_spec(spec, 0)
    assert not isinstance(err.value, PolicyMismatch)
    assert err.value.field == f"inputs.images[0].preprocess.{field}", err.value
    assert err.value.path == str(tmp_path / "bad.yaml")
    assert words in str(err.value) and "bad.yaml" in str(err.value)


@pytest.mark.parametrize(
    "change, onnx_shape, field, words",
    [
        ({"input_size": [120, 212]}, (1, 2, 58, 87), "input_size", "is 60x106"),
        ({"vfov_deg": 42.61}, (1, 2, 58, 87), "vfov_deg", "56.19 deg"),
        ({"stack": 3}, (1, 2, 58, 87), "preprocess", "[1, 3, 58, 87]"),
        ({"rate_hz": 25}, (1, 2, 58, 87), "rate_hz", "delivers 10 Hz"),
    ],
)
def test_preprocessing_that_disagrees_with_the_robot_or_the_onnx_is_a_mismatch(tmp_path, change, onnx_shape, field, words):
    spec, robot = spec_with(tmp_path, {**GOOD, **change}, onnx_shape=onnx_shape)
    with pytest.raises(PolicyMismatch) as err:
        check_image_inputs(spec, robot, {"img": list(onnx_shape)})
    expect = "inputs.images[0].preprocess" + ("" if field == "preprocess" else f".{field}")
    assert err.value.field == expect and words in str(err.value), err.value


def test_a_jittery_faster_camera_still_refreshes_at_the_spec_rate():
    h = ImageHistory(depth_pre(), batch=1)
    rng = np.random.default_rng(1)
    stamps = np.arange(0, 3.0, 1 / 30) + rng.uniform(-0.004, 0.004, size=90)  # a 30 Hz camera, +-4 ms
    taken = []
    for t in stamps:
        if h.due(t, slack=0.5 / 30)[0]:
            h.push(frame(1.0), t)
            taken.append(t)
    assert len(taken) == 30 and np.all(np.abs(np.diff(taken) - 0.1) < 0.01)  # every third frame, 10 Hz
    strict = ImageHistory(depth_pre(), batch=1)
    strict_taken = [t for t in stamps if strict.due(t)[0] and strict.push(frame(1.0), t) is None]
    assert len(strict_taken) < 30  # without slack, jitter drops refreshes
