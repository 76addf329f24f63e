"""Sim-in-the-loop speed and graph latency, per executor. Prints numbers; asserts nothing.

    python bench/bench_graph.py [--seconds 20] [--policy go1_walk]

joint_states stamp -> joint_commands receipt latency (wall), ticks/s, real-time factor, and
deadline misses (answers slower than one 20 ms tick) for the in-process graph with a
single-threaded and a multi-threaded executor. `--realtime --seconds 300 --executors single`
gives the 5-minute real-time deadline-miss count.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def run(executor: str, seconds: float, policy: str, cmd, realtime: bool = False) -> dict:
    from lucid_ros.nodes.graph import SimGraph

    with SimGraph(robot="go1", policy=policy, start_pose="default", cmd_vel=cmd, executor=executor, realtime=realtime) as g:
        g.wait_for_state("RUNNING", wall_timeout=60)
        ls = g.sim.lockstep
        n0, t0, w0 = len(ls.latencies), g.sim_time, time.perf_counter()
        misses0 = ls.misses
        g.run_for(seconds, wall_timeout=3 * seconds + 60)
        wall = time.perf_counter() - w0
        lat = np.array(ls.latencies[n0:]) * 1e3
        runner = g.nodes["policy_runner"]
        return {
            "executor": executor,
            "ticks_per_s": (g.sim_time - t0) * g.robot.rate_hz / wall,
            "realtime_factor": (g.sim_time - t0) / wall,
            "latency_p50_ms": float(np.percentile(lat, 50)),
            "latency_p99_ms": float(np.percentile(lat, 99)),
            "deadline_misses": ls.misses - misses0,
            "ticks": int(round((g.sim_time - t0) * g.robot.rate_hz)),
            "inference_ms": runner.inference.percentiles_ms(),
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--policy", default=None)
    ap.add_argument("--executors", default="single,multi")
    ap.add_argument("--realtime", action="store_true", help="pace to the wall clock: deadline misses are real-time misses")
    args = ap.parse_args()
    from lucid_ros.bringup import default_policy

    policy = args.policy or default_policy("go1")
    cmd = (0.5, 0.0, 0.0) if "walk" in policy else (0.0, 0.0, 0.0)
    mode = "realtime" if args.realtime else "lockstep"
    print(f"bench_graph: go1, policy {policy}, {args.seconds:g} s of sim per executor, {mode}, {os.cpu_count()} cores")
    for ex in args.executors.split(","):
        try:
            r = run(ex, args.seconds, policy, cmd, args.realtime)
        except TimeoutError as exc:
            print(f"  {ex:<6}  stalled: {exc}")
            continue
        print(f"  {r['executor']:<6}  {r['ticks_per_s']:6.0f} ticks/s  {r['realtime_factor']:4.1f}x real time  "
              f"latency p50 {r['latency_p50_ms']:.2f} ms  p99 {r['latency_p99_ms']:.2f} ms  "
              f"deadline misses {r['deadline_misses']}/{r['ticks']}  inference p50 {r['inference_ms']['p50_ms']:.3f} ms")


if __name__ == "__main__":
    main()
