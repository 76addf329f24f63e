"""A seeded lockstep run is bit-identical run to run (README, issue 19): the sim bridge hashes
every tick's qpos and qvel in its own thread, and two runs of a seed, one of them with a process
burning a CPU beside it, must give the same `trajectory_sha256`.

What made runs differ before (each fixed where it lives): the end of a run polled from a wall
clock (SimGraph.run_until now holds the sim at the tick), cmd_vel and safety/state reaching the
policy runner a tick early or late over DDS (the run monitor's command and the supervisor's state
now go to it in-process, by tick), the tick RUNNING began in obeying whichever pre-RUNNING target
had arrived (Supervisor._transition), and a 0.5 s lockstep timeout that let a starved graph's tick
go by with the previous command (sim.lockstep.LOCKSTEP_TIMEOUT).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager

from lucid_ros.bringup import default_policy, resolve_policy
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.safety.states import SafetyState


@contextmanager
def cpu_hog():
    """A process spinning on a core beside the run (the machine's other work)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def run(robot: str, policy: str, seconds: float, course: str = "flat", seed: int = 3, start_pose: str = "default") -> dict:
    with SimGraph(robot=robot, policy=resolve_policy(policy), course=course, seed=seed, start_pose=start_pose, cmd_vel=(0.5, 0.0, 0.0)) as g:
        g.run_until(seconds)
        out = dict(g.trajectory, sim_time=g.sim_time, states=[s for _, s in g.monitor.states], samples=len(g.monitor.metrics.t))
    assert out["lockstep_timeouts"] == 0
    assert SafetyState.RUNNING in out["states"], out["states"]  # the policy walked: what is compared is its run
    return out


def test_go1_blind_walk_is_bit_identical_in_process_and_through_the_cli_beside_a_cpu_hog(tmp_path):
    """The same seed in this process and through `lucid-ros sim --summary` (its own process, a CPU
    hog beside it): the same hash over exactly the same ticks."""
    a = run("go1", default_policy("go1"), 4.0, start_pose="lying")
    assert a["ticks_hashed"] == 201 and abs(a["sim_time"] - 4.0) < 1e-6 and a["samples"] == 201  # ticks 0.00 ... 4.00
    summary = tmp_path / "summary.json"
    with cpu_hog():
        r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "sim", "--duration", "4", "--seed", "3", "--quiet", "--summary", str(summary)],
                           capture_output=True, text=True, timeout=240, env=dict(os.environ))  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads(summary.read_text())
    assert (s["trajectory_sha256"], s["ticks_hashed"], s["samples"]) == (a["trajectory_sha256"], 201, 201)
    assert s["lockstep_timeouts"] == 0


def test_go1_depth_student_on_a_course_is_bit_identical_beside_a_cpu_hog():
    """Camera rendering, preprocessing and the vision network in the loop, steered by nobody."""
    a = run("go1", "go1_depth", 3.5, course="hurdle", seed=4)
    with cpu_hog():
        b = run("go1", "go1_depth", 3.5, course="hurdle", seed=4)
    assert a == b


def test_h1_through_the_hoist_is_bit_identical_beside_a_cpu_hog():
    """A humanoid with its shipped default policy: hung, stood, lowered (the auto sequence by sim
    time), released, then walking."""
    a = run("h1", default_policy("h1"), 7.0)
    with cpu_hog():
        b = run("h1", default_policy("h1"), 7.0)
    assert a == b


def test_a_realtime_run_says_its_hash_is_not_a_promise(tmp_path):
    summary = tmp_path / "summary.json"
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "sim", "--duration", "1", "--realtime", "--quiet", "--summary", str(summary)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads(summary.read_text())
    assert s["trajectory_sha256"] is None and "realtime" in s["trajectory_sha256_reason"]
