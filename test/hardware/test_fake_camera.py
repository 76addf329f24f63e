"""The fake robot's camera (lucid_ros.hardware.fake_camera): rendered in the fake's MuJoCo world in the
fake's process, sent over loopback as a USB camera delivers frames, injected into a librealsense
software_device in the graph's process and opened there by the real RealSense source by serial.
In the robot graph (real go1_udp driver, a vision policy, the camera node with source realsense) a
camera that stops its frames (the fake's SIGHUP) damps the robot within safety.camera_timeout."""

import signal
import time

import numpy as np
import pytest

pytest.importorskip("pyrealsense2", reason="pyrealsense2 is not installed")
pytest.importorskip("rclpy")

from lucid_ros.hardware.fake_camera import DEPTH_UNITS, FakeCameraSender, FakeRealSense  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402

ROBOT = load_robot("go1")


def test_rendered_frames_come_out_of_the_realsense_source_as_the_sim_renders_them():
    from lucid_ros.sim.robot_sim import SimRobot
    from lucid_ros.vision.sources import open_source

    sim = SimRobot(ROBOT, "flat")
    sim.reset("default")
    cam = FakeRealSense(ROBOT, serial="FAKE-UNIT")
    port = cam.listen(0)
    sender = FakeCameraSender(ROBOT, port)
    sender.warm(sim)
    src = open_source("realsense", ROBOT, "ego", device_provider=cam.register("fake-unit"), serial="FAKE-UNIT")
    got = []
    src.add_listener(got.append)
    try:
        substeps = max(1, round(0.002 / ROBOT.physics_dt))
        for _ in range(round(1.0 / (substeps * ROBOT.physics_dt))):  # 1 s of physics at the fake's 500 Hz ticks
            sim.step(substeps)
            sender.on_tick(sim)
            time.sleep(0.001)
        assert sender.flush(), "the render thread did not finish the captured frames within 5 s"
        end = time.monotonic() + 2.0
        while time.monotonic() < end and len([f for f in got if f.stream == "color"]) < sender.frames["color"]:
            time.sleep(0.01)
        depth = [f for f in got if f.stream == "depth"]
        color = [f for f in got if f.stream == "color"]
        assert sender.frames["depth"] == sender.frames["color"] in (10, 11)  # the mount's 10 Hz on the physics clock (t = 0, 0.1, ... 1.0)
        assert len(depth) == len(color) == sender.frames["depth"] == cam.received["depth"], src.health()
        assert depth[-1].data.shape == (60, 106) and color[-1].data.shape == (45, 80, 3)
        np.testing.assert_allclose(depth[-1].data, sender.renderer.render(sim, "depth"), atol=DEPTH_UNITS / 2 + 1e-6)  # z16 quantisation only
        np.testing.assert_array_equal(color[-1].data, sender.renderer.render(sim, "color"))
        k = depth[-1].intrinsics
        assert (k.width, k.height) == (106, 60) and k.fx == pytest.approx(sender.renderer.intrinsics["depth"].fx)  # the device's intrinsics
        assert np.all(np.diff([f.stamp for f in depth]) > 0)  # the hardware clock mapped onto the graph clock
        h = src.health()
        assert h.open and h.errors == 0 and h.checks["depth_frame_gaps"] == 0 and h.checks["depth_stamp_backwards"] == 0
        assert cam.rejected == 0 and sender.errors == 0 and sender.dropped == 0, sender.last_error
    finally:
        src.close()
        cam.close()
        sender.close()


def test_frames_of_another_mount_are_refused_by_name():
    """A fake rendering `ego` (level) while the graph serves a policy trained through `ego_down`: the
    frames have the same sizes, so without the mount on the wire the policy would have seen the world
    from the wrong place. They are refused and the mismatch is named; the right mount's are taken."""
    from lucid_ros.sim.robot_sim import SimRobot

    sim = SimRobot(ROBOT, "flat")
    sim.reset("default")
    for rendered, served, taken in (("ego", "ego_down", False), ("ego_down", "ego_down", True)):
        cam = FakeRealSense(ROBOT, served, serial=f"FAKE-MOUNT-{rendered}")
        port = cam.listen(0)
        sender = FakeCameraSender(ROBOT, port, rendered)
        try:
            sender.warm(sim)
            cam.sensors["depth"].open(cam.profiles["depth"])  # a streaming sensor: inject() drops frames nobody streams
            cam.sensors["depth"].start(lambda f: None)
            sender.on_tick(sim)
            assert sender.flush()
            end = time.monotonic() + 2.0
            while time.monotonic() < end and cam.received["depth"] + cam.rejected < 2:
                time.sleep(0.01)
            if taken:
                assert cam.received["depth"] == 1 and cam.rejected == 0 and cam.wrong_mount is None
            else:
                assert cam.received["depth"] == 0 and cam.rejected == 2 and cam.wrong_mount == "ego"
            cam.sensors["depth"].stop()
            cam.sensors["depth"].close()
        finally:
            sender.close()
            cam.close()


def test_a_real_time_fake_renders_its_camera_at_normal_priority():
    """The fake runs at real-time priority in the tests (it stands in for hardware); its camera render
    stands in for the camera's own chip and must never take CPU from the graph under test. Before,
    the render thread and llvmpipe's rasterizer threads inherited SCHED_RR 10 from the fake and
    starved the graph's supervisor (SCHED_RR 5) 30-85 ms every 100 ms: the motor process's 50 ms
    watchdog tripped during the stand."""
    import os
    import threading
    from pathlib import Path

    from lucid_ros.sim.robot_sim import SimRobot

    def policies() -> dict[str, int]:
        out = {}
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            name = (task / "comm").read_text().strip()
            out[f"{name}:{task.name}"] = os.sched_getscheduler(int(task.name))
        return out

    before = set(policies())
    result: dict = {}

    def fake_thread() -> None:  # as the fake's process: everything it starts inherits SCHED_RR 10
        try:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))
        except (OSError, AttributeError) as exc:
            result["skip"] = f"real-time priority refused here ({exc}): nothing to check"
            return
        sim = SimRobot(ROBOT, "flat")
        sim.reset("default")
        sender = FakeCameraSender(ROBOT, 9)  # the discard port: only the render matters here
        sender.warm(sim)
        result["sender"] = sender

    t = threading.Thread(target=fake_thread)
    t.start()
    t.join()
    if "skip" in result:
        pytest.skip(result["skip"])
    sender = result["sender"]
    try:
        new = {k: v for k, v in policies().items() if k not in before}
        render = {k: v for k, v in new.items() if k.startswith("llvmpipe") or k.endswith(f":{sender._worker.native_id}")}
        assert any(k.endswith(f":{sender._worker.native_id}") for k in render), new
        assert all(v == os.SCHED_OTHER for v in render.values()), f"render threads at real-time priority: {render}"
    finally:
        sender.close()


def test_vision_policy_through_go1_udp_and_a_muted_fake_camera_damps_within_camera_timeout():
    """The fake's camera goes silent while the student runs: the supervisor damps within its
    camera timeout. A run whose graph a busy machine starved before the mute (a watchdog tripped
    first: see the climb below) is made again, up to three times."""
    for attempt in range(3):
        done = _mute_the_camera_once(attempt)
        if done:
            return
    pytest.fail("three runs starved before the camera was muted (see the events printed)")


def _mute_the_camera_once(attempt: int) -> bool:
    """False where a watchdog tripped before the mute (printed); asserts everything else."""
    from hw_tools import graph_starved, realtime_threads, robot_priority

    from lucid_ros.bringup import resolve_policy
    from lucid_ros.hardware.loopback import loopback_link, start_fake_robot, stop_fake_robot
    from lucid_ros.nodes.robot_run import RobotGraph
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.vision.bus import bus_for

    mount = load_spec(resolve_policy("go1_depth"), ROBOT).camera  # the mount the shipped student was trained through
    serial = f"FAKE-GRAPH-{attempt}"
    cam = FakeRealSense(ROBOT, mount, serial=serial)
    port = cam.listen(0)
    cli_args, opts = loopback_link("go1_udp")
    proc = start_fake_robot("go1", "go1_udp", [*cli_args, "--camera-port", str(port), "--camera-mount", mount], preexec_fn=robot_priority)
    over = {
        "robot_driver": {"remote_cmd_vel": False},
        "camera": {"realsense.device_provider": cam.register(f"fake-graph-{attempt}"), "realsense.lost_after": 0.3},
    }
    try:
        with (
            realtime_threads(),
            RobotGraph("go1", "go1_udp", "go1_depth", arm=True, auto=True, driver_options=opts, overrides=over, camera_serial=serial) as g,
        ):
            assert "camera" in g.nodes and g.nodes["camera"].source.serial == serial
            assert g.wait_active(10.0), g.driver.refusal
            ok = g.wait_for_state("RUNNING", 30.0)
            time.sleep(1.0 if ok else 0.0)
            if graph_starved(g, 0.0 if ok else 1.0):
                print(f"run {attempt}: starved before the mute: {g.monitor.events}, counters {g.driver.counters}", flush=True)
                return False
            assert ok, (g.monitor.events, cam.received, g.nodes["camera"].source.health())
            assert g.state == "RUNNING", g.monitor.events
            tensor = bus_for(g.context).tensor("image")
            assert tensor is not None and tensor.seq >= 5 and np.all(np.isfinite(tensor.data))

            t_mute = time.monotonic()
            proc.send_signal(signal.SIGHUP)  # the fake's camera stops sending frames
            assert g.wait_for_state("DAMPING", 3.0), g.monitor.events
            t_damp = next(t for t, s in g.monitor.states if s == "DAMPING" and t >= t_mute)
            timeout = ROBOT.safety.camera_timeout
            latency = t_damp - t_mute
            cause = g.monitor.events[-1]
            print(f"camera muted -> DAMPING in {latency * 1e3:.0f} ms (camera_timeout {timeout * 1e3:.0f} ms): {cause}")
            assert "camera" in cause, g.monitor.events
            # the last frame came up to one frame interval before the mute; the supervisor ticks at the robot's rate
            assert latency <= timeout + 2.0 / ROBOT.rate_hz + 0.05, f"DAMPING {latency * 1e3:.0f} ms after the camera went silent"
            return True
    finally:
        stop_fake_robot(proc, timeout=5)
        cam.close()


@pytest.mark.parametrize("policy", ["go1_depth", "go1_rgb"])
def test_a_vision_student_climbs_the_stairs_through_the_real_driver_and_the_realsense_path(policy):
    """Issue 21's proof: `lucid-ros fake-robot --protocol go1_udp --course stairs_up --seed 3
    --operator track --camera-port P` and `lucid-ros robot ... --auto` with the camera node opening
    the fake's frames as a RealSense: the student reaches the top, judged as the success table
    judges, within 11 s of RUNNING (pure sim: the goal at 8.4 s depth / 8.3 s RGB; through the fake
    8.0-8.5 / 8.2-8.8 s). While the policy schedule skipped the robot's early ticks (the network at
    32 Hz) the depth student got there at 11.3-12.8 s on this variant, and 0 of 5 times on seed 0."""
    import importlib.util
    from pathlib import Path

    bench_py = Path(__file__).resolve().parents[2] / "bench" / "bench_fake_camera.py"
    spec = importlib.util.spec_from_file_location("bench_fake_camera", bench_py)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # Real time on 2 shared cores: the fake's physics, the motor process and the graph run at
    # real-time priority, the fake's renderer at normal priority (a camera chip must not take the
    # graph's CPU). Measured per thread they took 1.7-1.9 cores, the renderer got none for 0.5 s at a
    # time, and half the runs ended on a stale camera; since the fake's tick stopped computing the
    # whole ground truth for its remote's sticks (quat_rotate in floats, SimRobot.planar_pose) they
    # take 1.2 (fake 0.68 -> 0.43, graph 0.6 -> 0.52, motor process 0.25) and frames arrive 11-19 ms
    # after capture (p50; was 21-38). A burst can still starve one past a watchdog (the supervisor
    # then damps the robot, as it must): that is the machine, not the student, so up to four runs,
    # each such end printed; any other end, or four starved ones, fails.
    for attempt in range(4):
        res = bench.run_fake(policy, "stairs_up", 6.0, attempt, limit=11.0, seed=3)
        ended = res["outcome"][0] if "outcome" in res else "never RUNNING"
        if ended == "succeeded" or not res["starved"]:
            break
        print(f"{policy}: run {attempt} ended on a starved watchdog ({ended}): {res['events'][-2:]}", flush=True)
    assert "outcome" in res, f"the robot graph never reached RUNNING: {res['events']}"
    status, t_goal, distance = res["outcome"]
    assert status == "succeeded", f"{policy} through go1_udp and the fake camera: {status} after {t_goal:.1f} s, {distance:.2f} m"
    assert len(res["latency"]) > 0 and max(res["latency"]) < 0.5, "no capture-to-action latency reported, or frames half a second old"
