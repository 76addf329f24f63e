"""Success-rate tables: cells, intervals, the markdown a reader compares, and the command end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lucid_ros.evaluation.table import Episode, by_difficulty, cells, failures, markdown, to_json, wilson
from lucid_ros.sim.courses import difficulty, load_course, randomize


def ep(policy, course, seed, status, crossed=0, total=5):
    return Episode(policy, course, seed, status, "", 1.0, 1.0, crossed, total, 1.0)


def test_cells_markdown_and_failures_say_what_happened():
    eps = [ep("blind", "hurdle", s, "stuck", 0) for s in range(3)] + [ep("teacher", "hurdle", s, st, 5 if st == "succeeded" else 2)
                                                                     for s, st in enumerate(["succeeded", "succeeded", "fell"])]  # fmt: skip
    c = cells(eps)
    assert c[("hurdle", "teacher")].successes == 2 and c[("hurdle", "teacher")].rate == pytest.approx(2 / 3)
    assert c[("hurdle", "teacher")].mean_crossed == pytest.approx((1 + 1 + 0.4) / 3)
    table = markdown(eps, ["hurdle", "gaps"], ["blind", "teacher"])
    assert "| hurdle | 0% (0/3) | 67% (2/3) |" in table and "| gaps | — | — |" in table
    assert "hurdle / blind: stuck 3" in failures(eps, ["hurdle"], ["blind", "teacher"])
    assert "hurdle / teacher: fell 1" in failures(eps, ["hurdle"], ["blind", "teacher"])
    j = to_json(eps)
    assert len(j["episodes"]) == 6 and {x["policy"] for x in j["cells"]} == {"blind", "teacher"}


def test_success_by_difficulty_says_where_a_policy_stops_coping():
    h = [0.10, 0.13, 0.16, 0.19, 0.22, 0.25, 0.28, 0.305]  # the teacher crosses the four lowest, the blind policy none
    eps = [Episode("teacher", "hurdle", k, "succeeded" if x < 0.2 else "stuck", "", 1.0, 1.0, 0, 5, 1.0, difficulty_key="hurdles.height",
                   difficulty=x) for k, x in enumerate(h)]  # fmt: skip
    eps += [Episode("blind", "hurdle", k, "stuck", "", 1.0, 1.0, 0, 5, 1.0, difficulty_key="hurdles.height", difficulty=x) for k, x in enumerate(h)]
    eps += [ep("teacher", "parkour", 0, "stuck")]  # no difficulty number: no section
    text = by_difficulty(eps, ["hurdle", "parkour"], ["blind", "teacher"], bins=4)
    assert text.startswith("hurdle by hurdles.height (successes/runs)") and "parkour" not in text
    rows = [r for r in text.splitlines() if r.startswith("| 0.")]
    assert rows == ["| 0.1–0.151 | 0/2 | 2/2 |", "| 0.151–0.203 | 0/2 | 2/2 |", "| 0.203–0.254 | 0/2 | 0/2 |", "| 0.254–0.305 | 0/2 | 0/2 |"]
    assert by_difficulty([ep("teacher", "hurdle", 0, "stuck")], ["hurdle"], ["teacher"]) == ""


def test_the_difficulty_number_is_the_one_the_seeded_variant_drew():
    v = randomize(load_course("hurdle"), 7)
    assert difficulty(v) == ("hurdles.height", dict(v.drawn)["hurdles.height"])
    assert 0.10 <= difficulty(v)[1] <= 0.305
    assert difficulty(randomize(load_course("parkour"), 7)) is None  # several numbers make it hard: none is "the" one


def test_wilson_interval_is_wide_at_n30_and_sane_at_the_ends():
    lo, hi = wilson(15, 30)
    assert lo == pytest.approx(0.331, abs=0.002) and hi == pytest.approx(0.669, abs=0.002)
    assert wilson(0, 30)[0] == 0.0 and wilson(0, 30)[1] > 0.05
    assert wilson(30, 30)[1] == 1.0 and wilson(30, 30)[0] < 0.95


def run_cli(*args, tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "0"))
    return subprocess.run([sys.executable, "-m", "lucid_ros.cli", "success-table", *args, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


def test_success_table_runs_seeded_episodes_through_the_graph(tmp_path):
    """The blind walking policy on the gaps course: it walks off the start platform into the pit
    (or stops at its edge), so every episode is decided within seconds and the table says 0 %."""
    r = run_cli("--courses", "gaps", "--episodes", "2", "--first-seed", "3", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| gaps | 0% (0/2) |" in table and "gaps / go1_walk: fell" in table
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [e["seed"] for e in results["episodes"]] == [3, 4]
    gaps = [difficulty(randomize(load_course("gaps"), k))[1] for k in (3, 4)]
    assert [e["difficulty"] for e in results["episodes"]] == gaps and "gaps by blocks.gap (successes/runs)" in table
    assert {e["status"] for e in results["episodes"]} <= {"fell", "stuck"}
    assert any(e["status"] == "fell" and e["distance_m"] > 1.0 for e in results["episodes"])  # it walked, then fell in
    # how: at the first gap, no take-off and a foot below the rim (evaluation.jumps), for every episode.
    # Legs dangling over the pit can unload all four feet (seed 3, stuck with the trunk on the rim:
    # one 0.17 s "flight" starting at +0.03 m/s); a leap starts at 0.5 m/s or more.
    assert "gaps: how obstacles were crossed, by blocks.gap" in table
    for e in results["episodes"]:
        first = e["crossings"][0]
        assert first["obstacle"] == "blocks_gap_0" and not first["crossed"], e["crossings"]
        assert first["flights"] == 0 or first["takeoff_vz"] < 0.2, e["crossings"]
    fell = next(e for e in results["episodes"] if e["status"] == "fell")
    assert fell["crossings"][0]["foot_clearance_m"] < -0.05, fell["crossings"]
    assert "[2/2] gaps" in r.stderr
    kept = [json.loads(line) for line in (tmp_path / "out" / "episodes.jsonl").read_text().splitlines()]
    assert sorted(e["seed"] for e in kept) == [3, 4]  # written as each finished, not only at the end


PUBLISHER = """
import time, rclpy
from geometry_msgs.msg import Twist
rclpy.init()
node = rclpy.create_node("someone_elses_teleop")
pub = node.create_publisher(Twist, "cmd_vel", 10)
msg = Twist(); msg.angular.z = 1.0
print("up", flush=True)
while True:
    pub.publish(msg); time.sleep(0.05)
"""


def test_an_episode_another_graph_publishes_into_is_not_a_result(tmp_path):
    """A second graph on the table's ROS domain (here a teleop turning at 1 rad/s on cmd_vel) would
    steer its robot and the table would report it as the policy's result. The table runs such an
    episode again and, while the other publisher stays, stops naming it; what finished is kept."""
    domain = str(int(os.environ["ROS_DOMAIN_ID"]) + 101)
    env = dict(os.environ, ROS_DOMAIN_ID=domain)
    other = subprocess.Popen([sys.executable, "-c", PUBLISHER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "up"
        r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "success-table", "--courses", "gaps", "--episodes", "1",
                            "--first-seed", "3", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    finally:
        other.kill()
    assert r.returncode == 1, r.stderr[-2000:]
    assert r.stderr.count("running it again") == 2 and "/someone_elses_teleop -> /cmd_vel" in r.stderr
    assert "success-table: stopped" in r.stderr and not (tmp_path / "out" / "table.md").exists()
    assert (tmp_path / "out" / "episodes.jsonl").read_text() == ""


def test_success_table_refuses_an_unknown_policy_or_course_before_running(tmp_path):
    r = run_cli("--policies", "no_such_policy", "--episodes", "1", tmp_path=tmp_path)
    assert r.returncode == 2 and "no_such_policy" in r.stderr
    r = run_cli("--courses", "hurdle,lava", "--episodes", "1", tmp_path=tmp_path)
    assert r.returncode == 2 and "lava" in r.stderr
    assert not (tmp_path / "out" / "table.md").exists()


def test_success_table_jobs_run_episodes_in_parallel_processes_with_the_same_results(tmp_path):
    """--jobs 2: two worker processes, each on its own ROS domain (and each the other's CPU load);
    lockstep seeded episodes are bit-identical to a serial run's: the same trajectory hashes over
    the same ticks, hence the same outcomes and distances, in the same order."""
    serial = run_cli("--courses", "gaps", "--episodes", "2", "--first-seed", "5", tmp_path=tmp_path / "a")
    parallel = run_cli("--courses", "gaps", "--episodes", "2", "--first-seed", "5", "--jobs", "2", tmp_path=tmp_path / "b")
    assert serial.returncode == 0 and parallel.returncode == 0, parallel.stderr[-2000:]
    a = json.loads((tmp_path / "a" / "out" / "results.json").read_text())["episodes"]
    b = json.loads((tmp_path / "b" / "out" / "results.json").read_text())["episodes"]
    assert [e["lockstep_timeouts"] for e in a + b] == [0] * 4  # a timeout would be a tick without its answer
    keys = ("seed", "status", "obstacles_crossed", "distance_m", "time_s", "trajectory_sha256", "ticks_hashed")
    assert [[e[k] for k in keys] for e in a] == [[e[k] for k in keys] for e in b]
    assert all(e["trajectory_sha256"] and e["ticks_hashed"] > 0 for e in a)
    assert a[0]["trajectory_sha256"] != a[1]["trajectory_sha256"]  # two seeds, two variants
    assert "[2/2] gaps" in parallel.stderr


def test_success_table_refuses_zero_jobs(tmp_path):
    r = run_cli("--jobs", "0", "--episodes", "1", tmp_path=tmp_path)
    assert r.returncode == 2 and "--jobs" in r.stderr
