"""The MuJoCo camera source: plausible depth (the floor where the camera's height and pitch put
it), the FOV from the robot YAML, capture rate and stamps in sim time, muting and failures."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lucid_ros.errors import ConfigError  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.sim.robot_sim import SimRobot  # noqa: E402
from lucid_ros.vision.sources import Intrinsics, SimCameraSource, depth_sensor_model, open_source  # noqa: E402

GO1 = load_robot("go1")


def with_depth_vfov(robot, vfov):
    mount = robot.cameras["ego"]
    return dataclasses.replace(robot, cameras={"ego": dataclasses.replace(mount, depth=dataclasses.replace(mount.depth, vfov_deg=vfov))})


def expected_floor_depth(sim: SimRobot, k: Intrinsics, col: int) -> np.ndarray:
    """z-depth of the floor (z = 0) along each pixel row of column `col`, from the camera's pose:
    rays (u - cx, -(v - cy), -f) in MuJoCo's camera frame (x right, y up, looking down -z)."""
    cid = sim.index.cameras["ego"]
    pos, rot = sim.data.cam_xpos[cid], sim.data.cam_xmat[cid].reshape(3, 3)
    v = np.arange(k.height)
    rays = np.stack([np.full(k.height, (col - k.cx) / k.fx), -(v - k.cy) / k.fy, -np.ones(k.height)], axis=1)
    down = (rays @ rot.T)[:, 2]
    with np.errstate(divide="ignore"):
        return np.where(down < 0, -pos[2] / down, np.inf)  # the ray's z component is -1 per metre of depth


@pytest.fixture(scope="module")
def sim():
    s = SimRobot(GO1, "flat")
    yield s
    s.close()


@pytest.mark.parametrize("vfov", [GO1.cameras["ego"].depth.vfov_deg, 40.0])
def test_depth_frame_sees_the_floor_where_the_camera_height_and_pitch_put_it(sim, vfov):
    robot = with_depth_vfov(GO1, vfov)
    src = SimCameraSource(robot, "ego", streams=("depth",))
    stream = robot.cameras["ego"].depth
    fovy_before = float(sim.model.cam_fovy[sim.index.cameras["ego"]])
    depth = src.render(sim, "depth")
    assert depth.shape == (stream.height, stream.width) and depth.dtype == np.float32
    assert float(sim.model.cam_fovy[sim.index.cameras["ego"]]) == fovy_before  # the model is left as it was
    col = stream.width // 2
    expect = expected_floor_depth(sim, src.intrinsics["depth"], col)
    seen = (expect >= stream.near) & (expect <= stream.far)
    assert seen.sum() >= 5, "the camera should see some floor within its range"
    np.testing.assert_allclose(depth[seen, col], expect[seen], rtol=0.01, atol=0.005)
    assert np.all(depth[~seen, col] == 0.0)  # beyond the sensor's range (or the sky): no measurement
    cam_height = sim.data.cam_xpos[sim.index.cameras["ego"]][2]
    assert 0.2 < cam_height < 0.45 and 0.3 < depth[-1, col] < 1.5  # a standing Go1 looking ahead


def test_sensor_model_reports_zero_outside_the_working_range():
    st = GO1.cameras["ego"].depth  # near 0.1, far 3.0
    out = depth_sensor_model(np.array([0.05, 0.1, 1.0, 3.0, 3.5, np.inf, np.nan], np.float32), st)
    np.testing.assert_array_equal(out, np.array([0.0, 0.1, 1.0, 3.0, 0.0, 0.0, 0.0], np.float32))


def test_intrinsics_from_the_vertical_fov():
    k = Intrinsics.from_vfov(106, 60, 56.19)
    assert k.fx == k.fy == pytest.approx(30 / np.tan(np.radians(56.19 / 2)))
    assert (k.cx, k.cy) == (52.5, 29.5)
    assert k.k[0] == k.fx and k.k[8] == 1.0 and len(k.p) == 12


def test_frames_come_at_the_stream_rate_in_sim_time_with_growing_sequence_numbers():
    s = SimRobot(GO1, "flat")
    try:
        wanted = {"depth"}
        src = SimCameraSource(GO1, "ego", wanted=lambda: wanted)
        got = []
        src.add_listener(got.append)
        assert src.read("depth") is None
        src.on_tick(s)
        assert got == []  # not open yet
        src.open()
        substeps = round(1 / GO1.rate_hz / GO1.physics_dt)
        for _ in range(int(GO1.rate_hz)):  # one second of ticks
            s.step(substeps)
            src.on_tick(s)
        stamps = [f.stamp for f in got]
        assert {f.stream for f in got} == {"depth"}  # colour is not wanted: never rendered
        assert stamps[0] == pytest.approx(0.02) and np.allclose(np.diff(stamps[1:]), 0.1)
        assert np.allclose(np.array(stamps[1:]) / 0.1, np.round(np.array(stamps[1:]) / 0.1), atol=1e-6)  # phase-locked
        assert [f.seq for f in got] == list(range(1, len(got) + 1)) and len(got) == 11
        assert src.read("depth") is got[-1] and src.health().frames["depth"] == 11
        assert src.health().rate_hz["depth"] == pytest.approx(10 / (stamps[-1] - stamps[0]))  # 10 intervals
        wanted.add("color")
        src.muted = True
        for _ in range(10):
            s.step(substeps)
            src.on_tick(s)
        assert len(got) == 11  # muted: silence
        src.muted = False
        s.step(substeps)
        new = src.on_tick(s)
        assert {f.stream for f in new} == {"depth", "color"}
        color = src.read("color")
        assert color.data.shape == (45, 80, 3) and color.data.dtype == np.uint8 and color.data.std() > 1
        assert color.intrinsics.fy == pytest.approx(Intrinsics.from_vfov(80, 45, 42.61).fy)
    finally:
        s.close()


def test_camera_latency_delivers_each_frame_later_with_its_capture_stamp():
    s = SimRobot(GO1, "flat")
    try:
        delivered = []  # (sim time at delivery, frame)
        src = SimCameraSource(GO1, "ego", wanted=lambda: {"depth"}, latency=0.06)
        src.add_listener(lambda f: delivered.append((s.time, f)))
        src.open()
        substeps = round(1 / GO1.rate_hz / GO1.physics_dt)
        for _ in range(int(GO1.rate_hz)):
            s.step(substeps)
            src.on_tick(s)
        assert len(delivered) == 10  # the 11th capture (t = 1.0 s) is still in flight
        for t, f in delivered:
            assert t - f.stamp == pytest.approx(0.06, abs=1e-6)  # 3 ticks late, stamped when it was captured
        with pytest.raises(ConfigError, match="camera_latency"):
            SimCameraSource(GO1, "ego", latency=-0.1)
    finally:
        s.close()


def test_render_failures_and_listener_bugs_are_health_not_exceptions():
    class Broken:
        time = 0.0

    src = SimCameraSource(GO1, "ego", streams=("depth",))
    src.open()
    assert src.on_tick(Broken()) == []  # render raised inside: counted, the caller's thread lives on
    h = src.health()
    assert h.errors == 1 and "render depth" in h.last_error and h.frames == {"depth": 0}

    src.add_listener(lambda f: 1 / 0)
    src._emit("depth", 0.1, np.zeros((60, 106), np.float32))
    assert src.health().errors == 2 and "ZeroDivisionError" in src.health().last_error


def test_unknown_camera_and_the_hardware_seam():
    with pytest.raises(ConfigError, match="no camera 'chin'"):
        SimCameraSource(GO1, "chin")
    with pytest.raises(ConfigError, match="sim bridge"):
        open_source("sim", GO1, "ego")
    with pytest.raises(ConfigError, match="no camera source 'kinect'"):
        open_source("kinect", GO1, "ego")
