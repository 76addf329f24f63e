"""bench/bench_fake_camera.py --episode judges a fake robot's run from its ground-truth file as the
success table judges a sim episode: the goal reached is `succeeded` at the time it was reached
(counted from RUNNING), the supervisor damping first is `tripped`, a run that stalls is `stuck`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_fake_camera.py"


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("rclpy")  # the bench module imports std_msgs
    spec = importlib.util.spec_from_file_location("bench_fake_camera", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rows(xs, commands=None, wall0=1000.0, sim0=5.0, dt=0.02):
    """Ground-truth rows as the fake writes them (level, upright, on the course's line)."""
    commands = commands or ["position"] * len(xs)
    return [{"wall_time": str(wall0 + i * dt), "sim_time": str(sim0 + i * dt), "x": str(x), "y": "0.0", "z": "0.3",
             "qw": "1", "qx": "0", "qy": "0", "qz": "0", "command": c} for i, (x, c) in enumerate(zip(xs, commands, strict=True))]  # fmt: skip


def test_a_run_that_reaches_the_goal_succeeds_at_the_time_it_got_there(bench):
    from lucid_ros.sim.courses import load_course, randomize

    goal = randomize(load_course("stairs_up"), 0).goal_x
    xs = [0.5 * 0.02 * i for i in range(int((goal + 1.0) / 0.01))]  # 0.5 m/s from x = 0
    status, t, dist = bench.judge_fake("stairs_up", 0, rows(xs), 1000.0, 60.0)
    assert status == "succeeded" and t == pytest.approx(goal / 0.5, abs=0.05) and dist == pytest.approx(goal, abs=0.02)


def test_damping_before_the_goal_is_tripped_and_a_stall_is_stuck(bench):
    xs = [min(0.5 * 0.02 * i, 1.2) for i in range(1500)]  # reaches 1.2 m in 2.4 s, then stands for 27.6 s
    cmds = ["position"] * 400 + ["damping"] * 1100
    status, t, _ = bench.judge_fake("stairs_up", 0, rows(xs, cmds), 1000.0, 60.0)
    assert status == "tripped" and t == pytest.approx(8.0, abs=0.03)
    status, _, dist = bench.judge_fake("stairs_up", 0, rows(xs), 1000.0, 60.0)
    assert status == "stuck" and dist == pytest.approx(1.2, abs=0.01)
