"""What the policy sees, as an image a person can look at.

The camera node hands the runner a (1, stack * C, h, w) float32 tensor made by
lucid_ros.vision.preprocess. Operators get its newest frame back as a picture: depth
denormalised to metres (32FC1), colour un-normalised to rgb8. Looking at this, not at the raw
camera, is how one sees a crop, a flipped mount or a clip range that differs from training.
"""

from __future__ import annotations

import re

import numpy as np

from lucid_ros.vision.preprocess import Preprocessor


def topic_for(input_name: str) -> str:
    """`camera/policy/<input>/image`, with characters ROS names do not allow replaced by '_'."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", input_name) or "_"
    if safe[0].isdigit():
        safe = "_" + safe
    return f"camera/policy/{safe}/image"


def newest_frame(tensor: np.ndarray, pre: Preprocessor) -> tuple[str, np.ndarray]:
    """(encoding, array): '32FC1' (h, w) metres for depth, 'rgb8' (h, w, 3) uint8 for colour."""
    t = np.asarray(tensor, dtype=np.float32)
    if t.ndim == 4:
        t = t[0]
    if t.shape != pre.output_shape:
        raise ValueError(f"policy image tensor {t.shape} is not the preprocessor's {pre.output_shape}")
    frame = t[-pre.channels :]  # frames are stacked oldest first
    if pre.stream == "depth":
        near, far = pre.clip
        x = frame[0]
        if pre.normalize == "far":
            x = (x + np.float32(0.5)) * np.float32(far)
        elif pre.normalize == "range":
            x = (x + np.float32(0.5)) * np.float32(far - near) + np.float32(near)
        return "32FC1", np.ascontiguousarray(x, dtype=np.float32)
    rgb = frame * pre.std[:, None, None] + pre.mean[:, None, None]
    rgb = np.clip(np.rint(np.moveaxis(rgb, 0, -1) * 255.0), 0, 255).astype(np.uint8)
    return "rgb8", np.ascontiguousarray(rgb)
