"""A vision policy through the whole sim graph: the sim renders, the camera node preprocesses per
the spec, the runner gets the tensor in process at the spec's rate, the robot stands in RUNNING,
and a silent camera damps it with a camera cause within camera_timeout."""

from __future__ import annotations

import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image

from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
from lucid_ros.robots import load_robot
from lucid_ros.vision.bus import bus_for

ROBOT = load_robot("go1")
PERIOD = 1.0 / ROBOT.rate_hz
EXTREME_PARKOUR = {
    "input_size": [60, 106], "vfov_deg": 56.19, "crop": [0, 2, 4, 4], "resize": [58, 87], "interpolation": "bicubic",
    "depth": {"clip": [0.0, 2.0], "normalize": "far"}, "rate_hz": 10, "stack": 2,
}  # fmt: skip


class Recorder:
    """Every policy step's stamp, image shapes and the bus tensor it was given; topic samples."""

    def __init__(self, graph: SimGraph):
        self.lock = threading.Lock()
        self.steps: list[tuple[float, dict, float, int]] = []
        self.infos: list[float] = []
        self.images: list[Image] = []
        self.diags: list = []
        bus = bus_for(graph.context)
        runtime = graph.nodes["policy_runner"].runtime
        real_step = runtime.step

        def step(inputs, now, images=None):
            t = bus.tensor("depth")
            with self.lock:
                self.steps.append((now, {k: (v.shape, v.dtype) for k, v in (images or {}).items()}, t.stamp, t.seq))
            return real_step(inputs, now, images)

        runtime.step = step
        m = graph.monitor
        m.create_subscription(
            CameraInfo, "camera/depth/camera_info", lambda msg: self.infos.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9), qos.SENSOR
        )
        m.create_subscription(Image, "camera/depth/image_raw", self.images.append, qos.SENSOR)
        m.create_subscription(
            DiagnosticArray, "diagnostics", lambda msg: self.diags.extend(s for s in msg.status if s.hardware_id == "camera"), qos.DIAGNOSTICS
        )

    def between(self, t0: float, t1: float):
        with self.lock:
            return [s for s in self.steps if t0 <= s[0] <= t1]


def test_vision_policy_runs_on_preprocessed_sim_depth_and_a_silent_camera_damps_it(tmp_path):
    wall0 = time.monotonic()
    onnx = make_mlp_policy(tmp_path / "vision.onnx", 9 + 3 * ROBOT.n_joints, ROBOT.n_joints, extra_inputs={"depth": [1, 2, 58, 87]})
    images = [{"input": "depth", "camera": "ego", "stream": "depth", "preprocess": EXTREME_PARKOUR}]
    spec = write_spec(tmp_path / "vision.yaml", onnx, ROBOT, images=images)
    with SimGraph(robot="go1", policy=spec) as g:
        assert "camera" in g.nodes
        rec = Recorder(g)
        assert g.wait_for_state("RUNNING", wall_timeout=20), g.monitor.events
        t_run = g.sim_time
        g.run_for(1.0, wall_timeout=15)
        t_end = g.sim_time

        # the runner got (1, 2, 58, 87) float32 every policy step, refreshed at 10 Hz, never from the future
        steps = rec.between(t_run + 0.05, t_end)
        assert len(steps) >= 40
        assert all(s[1] == {"depth": ((1, 2, 58, 87), np.dtype(np.float32))} for s in steps)
        ages = np.array([now - stamp for now, _, stamp, _ in steps])
        assert ages.min() >= -1e-9 and ages.max() < 0.1 + 1e-6, ages
        fresh = sorted({(seq, stamp) for _, _, stamp, seq in steps})
        assert 9 <= len(fresh) <= 11 and np.allclose(np.diff([s for _, s in fresh]), 0.1, atol=1e-6)
        assert np.all(np.diff([q for q, _ in fresh]) == 1)  # every refresh reached the runner, none skipped

        # standing, RUNNING, on a zeros policy that reads images
        m = g.monitor.metrics
        z = [p[2] for t, p in zip(m.t, m.pos, strict=False) if t_run <= t <= t_end]
        assert g.state == "RUNNING" and min(z) > 0.8 * ROBOT.nominal_base_height

        # what operators and the supervisor see
        infos = [t for t in rec.infos if t_run <= t <= t_end]
        assert len(infos) >= 8  # camera_info for every captured frame (10 Hz; best-effort may lose one)
        img = rec.images[-1]
        assert (img.encoding, img.height, img.width, img.step) == ("32FC1", 60, 106, 4 * 106)
        depth = np.frombuffer(bytes(img.data), dtype=np.float32).reshape(60, 106)
        assert 0.3 < depth[-1, 53] < 1.5  # the floor ahead of a standing Go1, metres
        image_stamps = sorted({i.header.stamp.sec + i.header.stamp.nanosec * 1e-9 for i in rec.images})
        assert np.all(np.diff(image_stamps) >= 0.2 - 1e-6)  # operator rate 5 Hz
        values = {kv.key: kv.value for kv in rec.diags[-1].values}
        assert abs(float(values["depth_rate_hz"]) - 10) < 0.5 and "capture_to_tensor_p50_ms" in values

        # a silent camera: DAMPING, camera named, within camera_timeout
        t_mute = g.sim_time
        g.sim.muted.add("camera")
        assert g.wait_for_state("DAMPING", wall_timeout=10), g.monitor.events
        damp = next(e for e in g.monitor.metrics.events if e["state"] == "DAMPING")
        assert "camera" in damp["cause"], damp
        assert damp["time"] - t_mute <= ROBOT.safety.camera_timeout + 2 * PERIOD + 1e-6
    assert time.monotonic() - wall0 < 30


def test_a_policy_trained_through_the_pitched_down_mount_gets_that_mounts_frames(tmp_path):
    """The camera node serves the mount the policy's spec names (Go1 `ego_down`, 30 deg down), not
    the first one: its depth frames are in camera_down_link and see the floor just ahead of the feet,
    which the level `ego` mount cannot (its nearest floor is ~0.6 m ahead)."""
    onnx = make_mlp_policy(tmp_path / "down.onnx", 9 + 3 * ROBOT.n_joints, ROBOT.n_joints, extra_inputs={"depth": [1, 2, 58, 87]})
    mount = {"position": list(ROBOT.cameras["ego_down"].position), "rpy": list(ROBOT.cameras["ego_down"].rpy)}
    images = [{"input": "depth", "camera": "ego_down", "mount": mount, "stream": "depth", "preprocess": EXTREME_PARKOUR}]
    spec = write_spec(tmp_path / "down.yaml", onnx, ROBOT, images=images)
    with SimGraph(robot="go1", policy=spec) as g:
        rec = Recorder(g)
        assert g.wait_for_state("RUNNING", wall_timeout=20), g.monitor.events
        t_run = g.sim_time
        g.run_for(0.5, wall_timeout=15)
        assert g.nodes["camera"].camera == "ego_down" and not g.nodes["camera"].refusal
        assert len(rec.between(t_run + 0.05, g.sim_time)) >= 20  # the runner is fed
        img = rec.images[-1]
        assert img.header.frame_id == "camera_down_link"
        depth = np.frombuffer(bytes(img.data), dtype=np.float32).reshape(60, 106)
        assert 0.15 < depth[-1, 53] < 0.45, depth[-1, 53]  # the floor right ahead of a standing Go1
