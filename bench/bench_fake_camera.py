"""A vision policy through a real driver and the real RealSense path vs pure sim (prints numbers).

    python bench/bench_fake_camera.py [--policy go1_depth] [--course stairs_up] [--seeds 0[,2,3]] [--seconds 8] [--runs 5] [--only fake|sim]

fake: `lucid-ros fake-robot --protocol go1_udp --camera-port P --course C --operator track --ground-truth F`
in its own process: it renders its camera, and its operator holds the remote's left stick forward
(0.5 m/s) and steers with the right stick back to the course's line, as the success table's operator
does in sim (lucid_ros.evaluation.steer.TrackSteer, from the world's true pose). Here the
`lucid-ros robot` graph armed with --auto, the camera node opening the fake's frames as a RealSense
(FakeRealSense, software_device), cmd_vel from the driver's remote relay. Each run is a fresh fake.
sim: SimGraph, same robot, policy, course variant (--seed, the fake's --seed) and operator (monitor.steer), lockstep.
Both measure --seconds of *physics* time from RUNNING (the fake's physics may fall behind the wall
on a loaded machine; its ground-truth file has both clocks): forward distance, sideways offset, the
highest base height (stairs climbed), and the capture-to-action latency (policy/camera_latency).

--episode: each run goes on to the success table's own end instead (its time limit for the
course, `episode_time_limit`, or the first decision), and is judged as the table judges
(lucid_ros.sim.outcome.judge on the true trajectory from RUNNING; the supervisor damping counts
as tripped); sim is then the table's own episode (`run_episode`). Printed per run: the outcome,
the time to the goal, and the distance covered after --seconds as before.
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

VX = 0.5


def pct(x: list[float]) -> str:
    if not x:
        return "none"
    ms = np.asarray(x) * 1e3
    return f"p50 {np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms (n={len(ms)})"


def judge_fake(course: str, seed: int, rows: list[dict], t_run_wall: float, limit: float) -> tuple[str, float, float]:
    """(status, sim seconds from RUNNING to the decision, distance) of a fake run's ground truth,
    judged as the success table judges a sim episode; DAMPING from the supervisor is `tripped`."""
    from lucid_ros.nodes.episodes import DECIDED
    from lucid_ros.sim.courses import load_course, randomize
    from lucid_ros.sim.outcome import judge

    variant = randomize(load_course(course), seed)
    a = min(range(len(rows)), key=lambda i: abs(float(rows[i]["wall_time"]) - t_run_wall))
    run = [r for r in rows[a:] if float(r["sim_time"]) <= float(rows[a]["sim_time"]) + limit]
    t = np.array([float(r["sim_time"]) for r in run])
    pos = np.array([[float(r[k]) for k in ("x", "y", "z")] for r in run])
    quat = np.array([[float(r[k]) for k in ("qw", "qx", "qy", "qz")] for r in run])
    out = judge(variant, t, pos, quat)
    trip = next((i for i, r in enumerate(run) if r["command"] == "damping"), None)
    if trip is not None and not (out.status in DECIDED and out.time_s <= t[trip]):
        return "tripped", float(t[trip] - t[0]), out.distance_m
    return out.status, out.time_s - float(t[0]), out.distance_m


def policy_mount(policy: str, robot) -> str:
    """The camera mount a vision policy reads, as the camera node's `auto` picks it."""
    from lucid_ros.bringup import resolve_policy
    from lucid_ros.policy.spec import load_spec

    return load_spec(resolve_policy(policy), robot).camera or "ego"


def run_fake(policy: str, course: str, seconds: float, run: int, limit: float | None = None, seed: int = 0) -> dict:
    """One realtime run through go1_udp and the fake RealSense: {"state", "events", "starved" (the
    machine starved the graph: a stale input, a silent robot or the motor process's watchdog on the
    graph's command stream, hw_tools.graph_starved), and once it reached RUNNING "distance",
    "physics_s", "y", "zmax", "latency" (and "outcome" with a limit)}."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test" / "hardware"))
    from hw_tools import graph_starved, realtime_threads, robot_priority

    from lucid_ros.hardware.fake_camera import FakeRealSense
    from lucid_ros.hardware.loopback import loopback_link, start_fake_robot, stop_fake_robot
    from lucid_ros.nodes.robot_run import RobotGraph
    from lucid_ros.robots import load_robot

    robot = load_robot("go1")
    mount = policy_mount(policy, robot)  # the fake renders the mount the policy was trained through
    cam = FakeRealSense(robot, mount, serial=f"FAKE-BENCH-{run}")
    port = cam.listen(0)
    cli, opts = loopback_link("go1_udp")
    gt = Path("/tmp") / f"bench_fake_camera_{int(time.time())}_{run}.csv"
    args = [
        *cli,
        "--camera-port",
        str(port),
        "--camera-mount",
        mount,
        "--course",
        course,
        "--seed",
        str(seed),
        "--operator",
        "track",
        "--operator-vx",
        str(VX),
        "--ground-truth",
        str(gt),
    ]
    proc = start_fake_robot("go1", "go1_udp", args, robot_priority)
    over = {"camera": {"realsense.device_provider": cam.register(f"bench{run}")}}
    lat: list[float] = []
    try:
        with realtime_threads(), RobotGraph("go1", "go1_udp", policy, arm=True, auto=True, driver_options=opts, overrides=over,
                                            camera_serial=f"FAKE-BENCH-{run}") as g:  # fmt: skip
            g.monitor.create_subscription(
                Float64, "policy/camera_latency", lambda m: lat.append(m.data) if g.state == "RUNNING" else None, qos.SENSOR
            )
            if not g.wait_for_state("RUNNING", 40.0):
                starved = graph_starved(g)
                print(f"fake run {run}: never RUNNING{' (starved)' if starved else ''}: {g.monitor.events}, counters {g.driver.counters}")
                return {"state": g.state, "events": list(g.monitor.events), "starved": starved}
            t0 = time.time()
            time.sleep(max(seconds, limit or 0.0) * 1.6 + 1.0)  # physics time behind the wall on a loaded machine: margin
            state = g.state
            events = list(g.monitor.events)
            starved = graph_starved(g, 0.0 if state == "RUNNING" else 1.0)
    finally:
        stop_fake_robot(proc, timeout=5)
        cam.close()
    records = list(csv.DictReader(gt.open()))
    rows = [(float(r["wall_time"]), float(r["sim_time"]), float(r["x"]), float(r["y"]), float(r["z"])) for r in records]
    a = min(rows, key=lambda r: abs(r[0] - t0))
    after = [r for r in rows if r[1] >= a[1] + seconds]
    b = after[0] if after else rows[-1]
    zmax = max(r[4] for r in rows if a[1] <= r[1] <= b[1])
    res = {"state": state, "distance": b[2] - a[2], "physics_s": b[1] - a[1], "y": b[3], "zmax": zmax, "latency": lat, "events": events, "starved": starved}  # fmt: skip
    episode = ""
    if limit is not None:
        res["outcome"] = judge_fake(course, seed, records, t0, limit)
        episode = f"; episode: {res['outcome'][0]} at {res['outcome'][1]:.1f} s, {res['outcome'][2]:.2f} m"
    print(f"fake run {run} {policy} {course} (camera {mount}): {state}; distance {res['distance']:.2f} m in {res['physics_s']:.2f} s physics, "
          f"y {b[3]:+.2f} m, max z {zmax:.2f} m; capture->action {pct(lat)}{episode}", flush=True)  # fmt: skip
    return res


def run_sim_episode(policy: str, course: str, seed: int = 0) -> tuple[str, float, float]:
    """The success table's own episode of this course variant: (status, time, distance)."""
    from lucid_ros.nodes.episodes import run_episode

    ep = run_episode("go1", policy, course, seed, cmd_vel=(VX, 0.0, 0.0))
    print(f"sim  {policy} {course} seed {seed} episode: {ep.status} at {ep.time_s:.1f} s, {ep.distance_m:.2f} m ({ep.reason})", flush=True)
    return ep.status, ep.time_s, ep.distance_m


def run_sim(policy: str, course: str, seconds: float, seed: int = 0) -> dict | None:
    from lucid_ros.evaluation.steer import TrackSteer
    from lucid_ros.nodes.graph import SimGraph

    lat: list[float] = []
    with SimGraph("go1", policy, course=course, seed=seed, cmd_vel=(VX, 0.0, 0.0)) as g:
        g.monitor.steer = TrackSteer.for_course(g.sim.sim.course).wz  # the success table's operator
        g.monitor.create_subscription(Float64, "policy/camera_latency", lambda m: lat.append(m.data) if g.state == "RUNNING" else None, qos.SENSOR)
        if not g.wait_for_state("RUNNING", 60.0):
            print(f"sim: never RUNNING: {g.monitor.events}")
            return None
        start = g.sim.sim.ground_truth().pos.copy()
        zmax = [start[2]]

        def track() -> bool:
            zmax[0] = max(zmax[0], float(g.sim.sim.ground_truth().pos[2]))
            return False

        g.run_for(seconds, wall_timeout=300, stop_when=track)
        end = g.sim.sim.ground_truth().pos
        state = g.state
    res = {"state": state, "distance": end[0] - start[0], "physics_s": seconds, "y": end[1], "zmax": zmax[0], "latency": lat}
    print(f"sim  {policy} {course}: {state}; distance {res['distance']:.2f} m in {seconds:g} s sim, y {end[1]:+.2f} m, "
          f"max z {zmax[0]:.2f} m; capture->action {pct(lat)}", flush=True)  # fmt: skip
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policy", default="go1_depth")
    p.add_argument("--course", default="stairs_up")
    p.add_argument("--seeds", default="0", help="course variants, comma-separated (each: --runs fake runs and one sim run; default 0)")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--runs", type=int, default=5, help="fake-robot runs per variant (each a fresh fake; the lockstep sim run is deterministic)")
    p.add_argument("--only", choices=("fake", "sim"), default=None)
    p.add_argument("--episode", action="store_true", help="also run each to the success table's end and judge it as the table does")
    a = p.parse_args()
    from lucid_ros.hardware.options import seed_arg  # the variant check lucid-ros sim and fake-robot use

    try:
        seeds = [seed_arg(x.strip()) for x in a.seeds.split(",") if x.strip()]
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if not seeds:
        p.error(f"--seeds expects integers >= 0 like 0,2,3, got {a.seeds!r}")
    for seed in seeds:
        bench_variant(a, seed)


def bench_variant(a: argparse.Namespace, seed: int) -> None:
    """--runs fake runs and the lockstep sim run of one course variant, and their summary lines."""
    limit = None
    if a.episode:
        from lucid_ros.nodes.episodes import episode_time_limit
        from lucid_ros.sim.courses import load_course, randomize

        limit = episode_time_limit(randomize(load_course(a.course), seed), VX)
    runs = a.runs if a.only != "sim" else 0
    fakes = [r for r in (run_fake(a.policy, a.course, a.seconds, i, limit, seed) for i in range(runs)) if "distance" in r]
    sim = run_sim(a.policy, a.course, a.seconds, seed) if a.only != "fake" else None
    sim_ep = run_sim_episode(a.policy, a.course, seed) if a.episode and a.only != "fake" else None
    name = f"{a.policy} {a.course} seed {seed}"
    if fakes:
        d = np.array([r["distance"] for r in fakes])
        lat = [x for r in fakes for x in r["latency"]]
        line = (f"fake {name}: {len(fakes)} runs, distance mean {d.mean():.2f} m (min {d.min():.2f}, max {d.max():.2f}), "
                f"max z mean {np.mean([r['zmax'] for r in fakes]):.2f} m, all RUNNING at the end: {all(r['state'] == 'RUNNING' for r in fakes)}; "
                f"capture->action {pct(lat)}")  # fmt: skip
        if sim:
            line += f"; vs sim {sim['distance']:.2f} m: {100 * (d.mean() / sim['distance'] - 1):+.0f} % (worst run {100 * (d.min() / sim['distance'] - 1):+.0f} %)"
        print(line)
        if limit is not None:
            outs = [r["outcome"] for r in fakes]
            ok = [o for o in outs if o[0] == "succeeded"]
            line = (f"fake {name} episodes ({limit:.0f} s limit): {len(ok)} of {len(outs)} succeeded"
                    + (f", goal at {np.mean([o[1] for o in ok]):.1f} s mean ({min(o[1] for o in ok):.1f}-{max(o[1] for o in ok):.1f})" if ok else "")
                    + f", distance mean {np.mean([o[2] for o in outs]):.2f} m; others: {[o[0] for o in outs if o[0] != 'succeeded']}")  # fmt: skip
            if sim_ep:
                line += f"; sim: {sim_ep[0]} at {sim_ep[1]:.1f} s, {sim_ep[2]:.2f} m"
            print(line, flush=True)


if __name__ == "__main__":
    main()
