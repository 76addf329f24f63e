"""The RealSense source driven by pyrealsense2's software_device: the same sensor, queue, filter,
alignment and timestamp code that runs on a robot, only the device is one we inject frames into."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 is not installed (pip install pyrealsense2; Linux x86_64/aarch64 wheels)")

from lucid_ros.errors import ConfigError  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.vision.realsense import RealSenseSource, parse_filters, register_device_provider  # noqa: E402
from lucid_ros.vision.sources import open_source  # noqa: E402

ROBOT = load_robot("go1")
UNITS = 0.001  # m per z16 count, a D435's default
AT30 = {"depth": "106x60@30", "color": "80x45@30"}  # the mount says 10 Hz; a D435 streams 6/15/30/60/90


def _intrinsics(w: int, h: int, f: float):
    i = rs.intrinsics()
    i.width, i.height, i.fx, i.fy, i.ppx, i.ppy = w, h, f, f, (w - 1) / 2, (h - 1) / 2
    i.model, i.coeffs = rs.distortion.none, [0.0] * 5
    return i


class SoftwareCamera:
    """A device provider holding one software_device (depth z16 + colour rgb8) that can be unplugged
    and plugged back (a new device, as a real replug gives)."""

    def __init__(self, serial: str = "SW0001", depth=(106, 60, 30), color=(80, 45, 30), f_depth=56.0, f_color=60.0):
        self.serial, self.depth_mode, self.color_mode, self.f = serial, depth, color, (f_depth, f_color)
        self.plugged = True
        self.watchers = []
        self._make()

    def _make(self) -> None:
        dev = rs.software_device()
        dev.register_info(rs.camera_info.serial_number, self.serial)
        dev.create_matcher(rs.matchers.default)
        self.ds, self.cs = dev.add_sensor("Depth"), dev.add_sensor("Color")
        (dw, dh, dfps), (cw, ch, cfps) = self.depth_mode, self.color_mode
        self.dp = self._stream(self.ds, rs.stream.depth, rs.format.z16, 2, dw, dh, dfps, self.f[0], uid=0)
        self.ds.add_read_only_option(rs.option.depth_units, UNITS)
        self.cp = self._stream(self.cs, rs.stream.color, rs.format.rgb8, 3, cw, ch, cfps, self.f[1], uid=1)
        ex = rs.extrinsics()
        ex.rotation, ex.translation = [1, 0, 0, 0, 1, 0, 0, 0, 1], [0.0, 0.0, 0.0]
        self.dp.register_extrinsics_to(self.cp, ex)
        self.device = dev

    @staticmethod
    def _stream(sensor, kind, fmt, bpp, w, h, fps, f, uid):
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = kind, 0, uid, w, h, fps, bpp, fmt
        vs.intrinsics = _intrinsics(w, h, f)
        return rs.video_stream_profile(sensor.add_video_stream(vs, True))

    # DeviceProvider
    def serials(self):
        return [self.serial] if self.plugged else []

    def get(self, serial):
        return self.device if self.plugged and serial == self.serial else None

    def watch(self, removed):
        self.watchers.append(removed)

    # test controls
    def inject(self, stream: str, pixels: np.ndarray, ts_ms: float, number: int) -> None:
        sensor, prof, bpp = (self.ds, self.dp, 2) if stream == "depth" else (self.cs, self.cp, 3)
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride = np.ascontiguousarray(pixels), bpp, pixels.shape[1] * bpp
        f.timestamp, f.domain, f.frame_number, f.profile = ts_ms, rs.timestamp_domain.hardware_clock, number, prof
        if stream == "depth":
            f.depth_units = UNITS
        sensor.on_video_frame(f)

    def unplug(self, notify: bool) -> None:
        self.plugged = False
        if notify:  # what rs.context's devices-changed callback reports; without it the source notices the silence
            for w in self.watchers:
                w(self.serial)

    def replug(self) -> None:
        self._make()
        self.plugged = True


def depth_counts(w=106, h=60) -> np.ndarray:
    z = (500 + 10 * np.arange(w)[None, :] + 3 * np.arange(h)[:, None]).astype(np.uint16)
    z[10:14, 20:26] = 0  # a hole
    return z


def collect(src, stream="depth"):
    got = []
    src.add_listener(lambda fr: got.append(fr) if fr.stream == stream else None)
    return got


def wait_until(pred, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


@pytest.fixture
def cam():
    return SoftwareCamera()


def test_injected_depth_and_colour_come_out_as_metres_rgb_with_device_intrinsics_and_stamps(cam):
    clock = [100.0]
    src = RealSenseSource(ROBOT, "ego", device_provider=cam, clock=lambda: clock[0], **AT30)
    depth, color = collect(src, "depth"), collect(src, "color")
    src.open()
    try:
        z = depth_counts()
        rgb = np.zeros((45, 80, 3), np.uint8)
        rgb[..., 0], rgb[:, :40, 1] = 200, 50
        for i in range(3):
            clock[0] = 100.0 + i / 30 + 0.004  # arrives 4 ms after capture
            cam.inject("depth", z, 5000.0 + i * 1000 / 30, i)
            cam.inject("color", rgb, 5000.0 + i * 1000 / 30, i)
            assert wait_until(lambda n=i: len(depth) > n and len(color) > n)
        d = depth[-1]
        assert d.data.dtype == np.float32 and d.data.shape == (60, 106)
        np.testing.assert_allclose(d.data, z.astype(np.float32) * UNITS, rtol=1e-6)
        assert d.data[11, 21] == 0.0  # no data stays 0, as the sim source reports it
        np.testing.assert_array_equal(color[-1].data, rgb)
        assert (d.intrinsics.width, d.intrinsics.height, d.intrinsics.fx, d.intrinsics.cx) == (106, 60, 56.0, 52.5)
        assert color[-1].intrinsics.fx == 60.0
        stamps = [f.stamp for f in depth]
        np.testing.assert_allclose(np.diff(stamps), 1 / 30, atol=1e-6)  # device clock spacing, not arrival jitter
        assert stamps[-1] <= clock[0] and clock[0] - stamps[-1] < 0.01
        assert src.health().open and src.health().errors == 0
    finally:
        src.close()


def with_depth_size(width: int, height: int):
    mount = ROBOT.cameras["ego"]
    return dataclasses.replace(ROBOT, cameras={"ego": dataclasses.replace(mount, depth=dataclasses.replace(mount.depth, width=width, height=height))})


def test_decimation_halves_the_size_and_hole_filling_fills_zeros():
    cam = SoftwareCamera(depth=(216, 120, 30))
    z = np.repeat(np.repeat(depth_counts(108, 60), 2, axis=0), 2, axis=1)
    chain = "[{decimation: {magnitude: 2}}, {hole_filling: {mode: 1}}]"
    src = RealSenseSource(with_depth_size(108, 60), "ego", ("depth",), device_provider=cam, depth="216x120@30", filters=chain)
    got = collect(src)
    src.open()
    try:
        cam.inject("depth", z, 1000.0, 0)
        assert wait_until(lambda: got)
        f = got[0]
        assert f.data.shape == (60, 108) and (f.intrinsics.width, f.intrinsics.height) == (108, 60)
        assert f.intrinsics.fx == pytest.approx(28.0)  # focal length halves with the image
        assert np.all(f.data[8:16, 18:28] > 0)  # the hole is filled (mode 1: farthest neighbour)
        assert abs(float(f.data[40, 60]) - float(z[80, 120]) * UNITS) < 0.05
    finally:
        src.close()


def test_a_filtered_size_that_differs_from_the_robot_yaml_is_reported_not_emitted():
    cam = SoftwareCamera(depth=(212, 120, 30))  # /2 = 106, but librealsense pads decimated widths to a multiple of 4: 108
    src = RealSenseSource(ROBOT, "ego", ("depth",), device_provider=cam, depth="212x120@30", filters="[{decimation: {magnitude: 2}}]")
    got = collect(src)
    src.open()
    try:
        cam.inject("depth", np.ones((120, 212), np.uint16), 1000.0, 0)
        assert wait_until(lambda: src.health().errors > 0)
        assert "108x60 after filters" in src.health().last_error and "mount says 106x60" in src.health().last_error and not got
    finally:
        src.close()


def test_align_maps_depth_onto_the_colour_image():
    cam = SoftwareCamera(depth=(106, 60, 30), color=(106, 60, 30), f_color=56.0)
    mount = ROBOT.cameras["ego"]
    same_size = dataclasses.replace(mount, color=dataclasses.replace(mount.color, width=106, height=60))  # aligned depth has colour's size
    robot = dataclasses.replace(ROBOT, cameras={"ego": same_size})
    src = RealSenseSource(robot, "ego", ("depth", "color"), device_provider=cam, depth="106x60@30", color="106x60@30", align=True)
    got = collect(src)
    src.open()
    try:
        for i in range(4):  # the syncer releases the very first frames unpaired
            cam.inject("depth", np.full((60, 106), 1000, np.uint16), i * 1000 / 30, i)
            cam.inject("color", np.zeros((60, 106, 3), np.uint8), i * 1000 / 30, i)
            time.sleep(0.02)
        assert wait_until(lambda: got)
        f = got[-1]
        assert f.data.shape == (60, 106) and f.intrinsics.fx == 56.0
        assert np.median(f.data) == pytest.approx(1.0, abs=1e-3)
    finally:
        src.close()


def test_backwards_and_stalled_timestamps_are_dropped_counted_and_reported(cam):
    src = RealSenseSource(ROBOT, "ego", ("depth",), device_provider=cam, stall_frames=3, depth=AT30["depth"])
    got = collect(src)
    src.open()
    try:
        z = depth_counts()
        for i, ts in enumerate([1000.0, 1033.3, 1010.0, 1066.6]):  # the third goes backwards
            cam.inject("depth", z, ts, i)
        assert wait_until(lambda: len(got) == 3)
        time.sleep(0.05)
        assert [f.data.shape for f in got] == [(60, 106)] * 3 and len(got) == 3
        h = src.health()
        assert h.checks["depth_stamp_backwards"] == 1 and "backwards" in h.last_error
        for i in range(4, 12):  # the clock freezes while frames keep coming
            cam.inject("depth", z, 1066.6, i)
            time.sleep(1 / 30)
        time.sleep(0.05)
        assert len(got) == 3  # a frozen stamp never reaches the policy: the camera looks stale
        h = src.health()
        assert h.checks["depth_stamp_stalls"] == 1 and "stalled" in h.last_error
        cam.inject("depth", z, 1500.0, 20)  # frames lost on the way: used, but counted
        assert wait_until(lambda: len(got) == 4)
        assert src.health().checks["depth_frame_gaps"] == 1
    finally:
        src.close()


def test_bad_options_are_refused_by_name(cam):
    with pytest.raises(ConfigError, match="filters\\[0\\].*unknown filter"):
        RealSenseSource(ROBOT, "ego", device_provider=cam, filters="[median]")
    with pytest.raises(ConfigError, match="spatial.*unknown option"):
        parse_filters([{"spatial": {"radius": 3}}])
    with pytest.raises(ConfigError, match="ends in disparity"):
        parse_filters(["disparity", "spatial"])
    with pytest.raises(ConfigError, match="realsense.depth"):
        RealSenseSource(ROBOT, "ego", device_provider=cam, depth="848by480")
    with pytest.raises(ConfigError, match="serial 'XYZ'.*connected: \\['SW0001'\\]"):
        RealSenseSource(ROBOT, "ego", device_provider=cam, serial="XYZ").open()
    with pytest.raises(ConfigError, match="offers no depth 640x480@30"):
        RealSenseSource(ROBOT, "ego", ("depth",), device_provider=cam, depth="640x480@30").open()


@pytest.mark.parametrize("notify", [True, False], ids=["devices-changed", "silence"])
def test_unplug_is_reported_and_the_same_serial_is_reopened(cam, notify):
    src = RealSenseSource(ROBOT, "ego", ("depth",), device_provider=cam, lost_after=0.3, retry=0.2, depth=AT30["depth"])
    got = collect(src)
    src.open()
    try:
        cam.inject("depth", depth_counts(), 1000.0, 0)
        assert wait_until(lambda: got)
        cam.unplug(notify)
        assert wait_until(lambda: not src.health().open, timeout=1.0)
        assert "SW0001" in src.health().last_error and "retrying" in src.health().last_error
        time.sleep(0.5)
        cam.replug()
        assert wait_until(lambda: src.health().open, timeout=2.0)
        cam.inject("depth", depth_counts(), 9000.0, 0)
        assert wait_until(lambda: len(got) == 2)
        assert src.health().checks["reconnects"] == 1
    finally:
        src.close()


def test_open_source_builds_it_by_name_with_node_style_string_options(cam):
    register_device_provider("test-sw", lambda: cam)
    src = open_source("realsense", ROBOT, "ego", device_provider="test-sw", filters="[]", align="false", stall_frames="2", **AT30)
    try:
        assert isinstance(src, RealSenseSource) and src.options.stall_frames == 2 and src.serial == "SW0001"
    finally:
        src.close()


def test_injected_frames_reach_the_policy_preprocessed_and_an_unplugged_camera_damps_the_robot(tmp_path):
    """The camera node with source 'realsense' (a software device) in the whole sim graph: the
    runner's image tensor is the spec's preprocessing of the injected depth, and when the device
    disappears the supervisor goes to DAMPING within camera_timeout, naming the camera."""
    from lucid_ros.nodes.graph import SimGraph
    from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.vision.bus import bus_for
    from lucid_ros.vision.preprocess import from_spec

    pre = {"input_size": [60, 106], "vfov_deg": 56.19, "crop": [0, 2, 4, 4], "resize": [58, 87], "interpolation": "bicubic",
           "depth": {"clip": [0.0, 2.0], "normalize": "far"}, "rate_hz": 10, "stack": 2}  # fmt: skip
    onnx = make_mlp_policy(tmp_path / "vision.onnx", 9 + 3 * ROBOT.n_joints, ROBOT.n_joints, extra_inputs={"depth": [1, 2, 58, 87]})
    spec_path = write_spec(tmp_path / "vision.yaml", onnx, ROBOT, images=[{"input": "depth", "camera": "ego", "stream": "depth", "preprocess": pre}])
    cam = SoftwareCamera(serial="SWGRAPH", depth=(106, 60, 10), color=(80, 45, 10))
    register_device_provider("test-graph", lambda: cam)
    z = depth_counts()
    expected = from_spec(load_spec(spec_path, ROBOT), 0).transform(z.astype(np.float32) * UNITS)
    overrides = {
        "sim_bridge": {"cameras": False},
        "camera": {"source": "realsense", "realsense.device_provider": "test-graph", "realsense.lost_after": 0.3},
    }
    stop, unplugged = threading.Event(), threading.Event()
    with SimGraph(robot="go1", policy=spec_path, overrides=overrides) as g:

        def feed():  # a 10 Hz camera on the sim clock: device time = sim time (ms), as a hardware clock would tick
            n, next_t = 0, 0.0
            while not stop.is_set():
                t = g.sim_time
                if t >= next_t and not unplugged.is_set():
                    cam.inject("depth", z, t * 1000.0, n)
                    n, next_t = n + 1, t + 0.1
                time.sleep(0.002)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            assert g.wait_for_state("RUNNING", wall_timeout=30), g.monitor.events
            g.run_for(1.0, wall_timeout=20)
            t = bus_for(g.context).tensor("depth")
            assert t is not None and t.data.shape == (1, 2, 58, 87)
            np.testing.assert_allclose(t.data[0, -1], expected[0], atol=1e-6)  # the spec's crop/resize/clip/normalise of what was injected
            assert g.nodes["camera"].source.health().open
            t_unplug = g.sim_time
            unplugged.set()
            cam.unplug(notify=False)
            assert g.wait_for_state("DAMPING", wall_timeout=10), g.monitor.events
            damp = next(e for e in g.monitor.metrics.events if e["state"] == "DAMPING")
            assert "camera" in damp["cause"], damp
            assert damp["time"] - t_unplug <= ROBOT.safety.camera_timeout + 0.1 + 2 / ROBOT.rate_hz + 1e-6
            assert wait_until(lambda: not g.nodes["camera"].source.health().open, timeout=2.0)
            assert "SWGRAPH" in g.nodes["camera"].source.health().last_error
        finally:
            stop.set()
            feeder.join(timeout=2)
