"""The policy's image, shown back to people: depth in metres, colour as the camera saw it."""

import numpy as np
import pytest

from lucid_ros.operator.policy_image import newest_frame, topic_for
from lucid_ros.vision.preprocess import ImageHistory, Preprocessor


def test_depth_input_comes_back_in_metres_newest_frame_of_the_stack():
    pre = Preprocessor({"input_size": [6, 8], "depth": {"clip": [0.0, 2.0], "normalize": "far"}, "rate_hz": 10, "stack": 2}, "depth")
    hist = ImageHistory(pre)
    hist.push(np.full((6, 8), 0.5, dtype=np.float32), 0.0)
    hist.push(np.full((6, 8), 1.25, dtype=np.float32), 0.1)
    enc, img = newest_frame(hist.tensor(), pre)
    assert enc == "32FC1" and img.shape == (6, 8) and img.dtype == np.float32
    assert np.allclose(img, 1.25, atol=1e-6)


def test_range_normalised_depth_and_clipping_show_what_the_policy_got():
    pre = Preprocessor({"input_size": [4, 4], "depth": {"clip": [0.3, 1.0], "normalize": "range"}, "rate_hz": 10}, "depth")
    raw = np.array([[0.1, 0.5, 0.9, 3.0]] * 4, dtype=np.float32)
    enc, img = newest_frame(pre.transform(raw)[None], pre)
    assert np.allclose(img[0], [0.3, 0.5, 0.9, 1.0], atol=1e-6)


def test_colour_input_is_unnormalised_to_rgb8():
    pre = Preprocessor({"input_size": [4, 6], "color": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, "rate_hz": 10}, "color")
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    enc, img = newest_frame(pre.transform(raw)[None], pre)
    assert enc == "rgb8" and img.dtype == np.uint8 and np.array_equal(img, raw)


def test_wrong_tensor_shape_is_refused():
    pre = Preprocessor({"input_size": [4, 4], "depth": {"clip": [0.0, 1.0], "normalize": "none"}, "rate_hz": 10}, "depth")
    with pytest.raises(ValueError, match="not the preprocessor"):
        newest_frame(np.zeros((1, 2, 4, 4), dtype=np.float32), pre)


def test_topic_names_are_valid_ros_names():
    assert topic_for("depth") == "camera/policy/depth/image"
    assert topic_for("obs.depth-0") == "camera/policy/obs_depth_0/image"
    assert topic_for("0rgb") == "camera/policy/_0rgb/image"
