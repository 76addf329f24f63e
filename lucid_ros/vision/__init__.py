"""Camera ingestion and image preprocessing (core: no rclpy).

- `preprocess`: `Preprocessor` (the spec's `inputs.images[].preprocess`: rotate, crop, resize,
  clip/normalise, CHW float32, batched) and `ImageHistory` (refresh rate, stacking, delay) — the
  one implementation training and the camera node share; `check_image_inputs(spec, robot)`.
- `sources`: `CameraSource` (open/read/wait/close/health, listeners), `Frame`, `Intrinsics`,
  `SimCameraSource` (MuJoCo, rendered in the sim thread), `open_source` (the hardware seam).
- `bus`: `bus_for(context)`: in-process, latest-value hand-off of frames and tensors between the
  sim bridge thread, the camera node and the policy runner.
"""

from lucid_ros.vision.bus import ImageTensor, VisionBus, bus_for
from lucid_ros.vision.preprocess import ImageHistory, Preprocessor, check_image_inputs, from_spec
from lucid_ros.vision.sources import CameraSource, Frame, Intrinsics, SimCameraSource, depth_sensor_model, open_source, register_source

__all__ = [
    "CameraSource",
    "Frame",
    "ImageHistory",
    "ImageTensor",
    "Intrinsics",
    "Preprocessor",
    "SimCameraSource",
    "VisionBus",
    "bus_for",
    "check_image_inputs",
    "depth_sensor_model",
    "from_spec",
    "open_source",
    "register_source",
]
