"""A vision policy through a real driver and the real RealSense path vs pure sim (prints numbers).

    python bench/bench_fake_camera.py [--policy go1_depth] [--course stairs_up] [--seconds 8] [--only fake|sim]

fake: `lucid-ros fake-robot --protocol go1_udp --camera-port P --course C --ground-truth F` in its own
process (it renders its camera); here the `lucid-ros robot` graph armed with --auto, the camera node
opening the fake's frames as a RealSense (FakeRealSense, software_device), cmd_vel 0.5 m/s forward.
sim: SimGraph, same robot, policy, course and seed (0), same command. Both measure from RUNNING for
--seconds (wall for the fake, sim time for the sim): forward distance, sideways drift, the highest
base height (stairs climbed), and the capture-to-action latency from policy/camera_latency, p50/p99.
No yaw steering: on a 1 m wide flight the robot can drift off the side (the success table steers).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from std_msgs.msg import Float64

from lucid_ros.nodes import qos

CMD = (0.5, 0.0, 0.0)


def pct(x: list[float]) -> str:
    if not x:
        return "none"
    ms = np.asarray(x) * 1e3
    return f"p50 {np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms (n={len(ms)})"


def run_fake(policy: str, course: str, seconds: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test" / "hardware"))
    from hw_tools import realtime_threads, robot_priority

    from lucid_ros.hardware.fake_camera import FakeRealSense
    from lucid_ros.hardware.loopback import loopback_link, start_fake_robot, stop_fake_robot
    from lucid_ros.nodes.robot_run import RobotGraph
    from lucid_ros.robots import load_robot

    cam = FakeRealSense(load_robot("go1"), serial="FAKE-BENCH")
    port = cam.listen(0)
    cli, opts = loopback_link("go1_udp")
    gt = Path("/tmp") / f"bench_fake_camera_{int(time.time())}.csv"
    proc = start_fake_robot("go1", "go1_udp", [*cli, "--camera-port", str(port), "--course", course, "--ground-truth", str(gt)], robot_priority)
    over = {"robot_driver": {"remote_cmd_vel": False}, "camera": {"realsense.device_provider": cam.register("bench")}}
    lat: list[float] = []
    try:
        with realtime_threads(), RobotGraph("go1", "go1_udp", policy, arm=True, auto=True, driver_options=opts, overrides=over,
                                            camera_serial="FAKE-BENCH", cmd_vel=CMD) as g:  # fmt: skip
            g.monitor.create_subscription(
                Float64, "policy/camera_latency", lambda m: lat.append(m.data) if g.state == "RUNNING" else None, qos.SENSOR
            )
            if not g.wait_for_state("RUNNING", 40.0):
                print(f"fake: never RUNNING: {g.monitor.events}")
                return
            t0 = time.time()
            time.sleep(seconds)
            t1, state = time.time(), g.state
    finally:
        stop_fake_robot(proc, timeout=5)
        cam.close()
    rows = [(float(r["wall_time"]), float(r["sim_time"]), float(r["x"]), float(r["y"]), float(r["z"])) for r in csv.DictReader(gt.open())]
    a, b = min(rows, key=lambda r: abs(r[0] - t0)), min(rows, key=lambda r: abs(r[0] - t1))
    zmax = max(r[4] for r in rows if a[0] <= r[0] <= b[0])
    print(f"fake {policy} {course}: {state}; distance {b[2] - a[2]:.2f} m in {seconds:g} s wall ({b[1] - a[1]:.2f} s physics), "
          f"y {b[3]:.2f} m, max z {zmax:.2f} m; capture->action {pct(lat)}")  # fmt: skip


def run_sim(policy: str, course: str, seconds: float) -> None:
    from lucid_ros.nodes.graph import SimGraph

    lat: list[float] = []
    with SimGraph("go1", policy, course=course, seed=0, cmd_vel=CMD) as g:
        g.monitor.create_subscription(Float64, "policy/camera_latency", lambda m: lat.append(m.data) if g.state == "RUNNING" else None, qos.SENSOR)
        if not g.wait_for_state("RUNNING", 60.0):
            print(f"sim: never RUNNING: {g.monitor.events}")
            return
        start = g.sim.sim.ground_truth().pos.copy()
        zmax = [start[2]]

        def track() -> bool:
            zmax[0] = max(zmax[0], float(g.sim.sim.ground_truth().pos[2]))
            return False

        g.run_for(seconds, wall_timeout=300, stop_when=track)
        end = g.sim.sim.ground_truth().pos
        print(f"sim  {policy} {course}: {g.state}; distance {end[0] - start[0]:.2f} m in {seconds:g} s sim, y {end[1]:.2f} m, "
              f"max z {zmax[0]:.2f} m; capture->action {pct(lat)}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policy", default="go1_depth")
    p.add_argument("--course", default="stairs_up")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--only", choices=("fake", "sim"), default=None)
    a = p.parse_args()
    if a.only != "sim":
        run_fake(a.policy, a.course, a.seconds)
    if a.only != "fake":
        run_sim(a.policy, a.course, a.seconds)


if __name__ == "__main__":
    main()
