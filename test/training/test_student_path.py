"""Train/deploy equivalence for the vision students (issue #4, "preprocessing equivalence").

A frame recorded while the full sim graph runs a policy with the students' two image inputs
(depth and colour, the shipped preprocessing) goes through the training path — the batched
`ImageHistory` DistillEnv uses, in a batch of several envs — and gives bit for bit the tensor
the policy runner received, and the same image age (how old the newest frame is at the step).
And the training renderer (`training.camera.EnvCamera`), given the
state the sim camera rendered, draws bit for bit the same raw frame.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("torch")

from lucid_ros.nodes.graph import SimGraph  # noqa: E402
from lucid_ros.policy.fixtures import make_mlp_policy, write_spec  # noqa: E402
from lucid_ros.policy.spec import load_spec  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.sim.world import build_model  # noqa: E402
from lucid_ros.training.camera import EnvCamera  # noqa: E402
from lucid_ros.training.distill import COLOR_PREPROCESS, DEPTH_PREPROCESS  # noqa: E402
from lucid_ros.vision.bus import bus_for  # noqa: E402
from lucid_ros.vision.preprocess import ImageHistory, from_spec  # noqa: E402
from lucid_ros.vision.sources import SimCameraSource  # noqa: E402

ROBOT = load_robot("go1")


class _World:
    """What EnvCamera reads of a training world: the model, its index and a batch of qpos rows."""

    def __init__(self, course, qpos_rows: np.ndarray):
        self.model, self.index = build_model(ROBOT, course)
        self.qpos = qpos_rows


@pytest.mark.parametrize("camera", ["ego", "ego_down"])  # the level mount and the one pitched 30 deg down
def test_recorded_sim_frames_give_bit_identical_policy_input_through_the_training_path(tmp_path, monkeypatch, camera):
    extra = {"depth": [1, 1, 45, 80], "rgb": [1, 3, 45, 80], "depth_age": [1, 1]}
    onnx = make_mlp_policy(tmp_path / "v.onnx", 9 + 3 * ROBOT.n_joints, ROBOT.n_joints, extra_inputs=extra)
    images = [
        {"input": "depth", "camera": camera, "stream": "depth", "preprocess": DEPTH_PREPROCESS, "age": "depth_age"},
        {"input": "rgb", "camera": camera, "stream": "color", "preprocess": COLOR_PREPROCESS},
    ]
    spec = load_spec(write_spec(tmp_path / "v.yaml", onnx, ROBOT, images=images), ROBOT)
    lock = threading.Lock()
    rendered: list[tuple[str, float, np.ndarray, np.ndarray]] = []  # (stream, sim time, qpos, frame)
    real_render = SimCameraSource.render

    def render(self, sim, stream):
        img = real_render(self, sim, stream)
        with lock:
            rendered.append((stream, sim.time, sim.data.qpos.copy(), img.copy()))
        return img

    monkeypatch.setattr(SimCameraSource, "render", render)
    given: list[tuple[float, dict, dict]] = []
    with SimGraph(robot="go1", policy=spec.path, course="hurdle", seed=4) as g:
        runtime = g.nodes["policy_runner"].runtime
        real_step = runtime.step

        def step(inputs, now, imgs=None, ages=None):
            with lock:
                given.append((now, {k: np.array(v) for k, v in (imgs or {}).items()}, dict(ages or {})))
            return real_step(inputs, now, imgs, ages=ages)

        runtime.step = step
        frames = []
        bus_for(g.context).subscribe(camera, frames.append)
        assert g.wait_for_state("RUNNING", wall_timeout=30), g.monitor.events
        g.run_for(1.0, wall_timeout=30)
        course = g.sim.sim.course  # the concrete variant the bridge simulates (seed 4)
    with lock:
        given, rendered = list(given), list(rendered)
    assert len(frames) >= 10 and len(given) >= 40

    # preprocessing: the newest frame of each stream before a policy step, through the training path
    for k, img in enumerate(spec.images):
        mine = [f for f in frames if f.stream == img.stream]
        now, tensors, ages = given[-1]
        last = max((f for f in mine if f.stamp <= now + 1e-9), key=lambda f: f.stamp)
        train = ImageHistory(from_spec(spec, k), batch=3)
        others = np.stack([mine[0].data, last.data, mine[1].data])
        train.push(others, np.array([0.0, last.stamp, 0.0]), np.arange(3))  # a batch of envs, the recorded frame as env 1
        assert tensors[img.input].dtype == np.float32
        assert np.array_equal(train.tensor()[1:2], tensors[img.input]), f"{img.input}: training tensor differs from the runner's"
        if img.age is not None:  # the age the runner fed is the one DistillEnv computes for that frame at that step
            assert ages[img.input] == train.age(now)[1]
    # the ages the runner fed, step by step: the 10 Hz refresh (0-80 ms at 50 Hz), none past it
    seen = sorted({round(a["depth"], 3) for _now, _t, a in given[-25:]})
    assert seen == [0.0, 0.02, 0.04, 0.06, 0.08], seen

    # rendering: the training camera draws the same raw frame from the same state
    for stream in ("depth", "color"):
        _s, _t, qpos, frame = next(r for r in reversed(rendered) if r[0] == stream)
        cam = EnvCamera(ROBOT, [_World(course, qpos[None])], camera, (stream,))
        try:
            mine = cam.render(0, 0, stream)
        finally:
            cam.close()
        assert mine.dtype == frame.dtype and mine.shape == frame.shape
        assert np.array_equal(mine, frame), f"{stream}: max difference {np.abs(mine.astype(float) - frame.astype(float)).max()}"
        assert np.ptp(frame) > 0  # not a blank image: the comparison saw a scene
