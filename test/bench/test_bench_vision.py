"""bench/bench_vision.py runs end to end as a user runs it (tiny counts) and prints a summary whose
numbers are finite, with the camera latency it was asked for reaching the graph's own measurement."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("torch")  # the untrained stand-in students until go1_depth/go1_rgb are shipped

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_vision.py"


def _finite(xs) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


def test_bench_vision_prints_a_summary_of_finite_numbers(tmp_path):
    out = tmp_path / "bench.json"
    t0 = time.monotonic()
    cmd = [sys.executable, str(BENCH), "--frames", "5", "--steps", "20", "--seconds", "0.6", "--modes", "lockstep",
           "--camera-latency", "100", "--graph-policies", "first", "--json", str(out)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = run.stdout

    # the summary: every section, rows with numbers
    assert "render (one frame, one thread)" in text and "camera -> action through the graph" in text, text
    for row in ("SimCameraSource.render depth 106x60", "SimCameraSource.render color 80x45", "EnvCamera.render color 80x45, scene jitter"):
        line = next(ln for ln in text.splitlines() if row in ln)
        assert len(re.findall(r"\d+\.\d+", line)) >= 5, line
    assert text.count("whole runtime step (PolicyRuntime.step") == 2  # depth and RGB students
    assert "CPUExecutionProvider" in text

    res = json.loads(out.read_text())
    render = res["render"]
    assert len(render) == 6 and all(_finite([r["per_s"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["load"]]) for r in render)
    assert all(r["per_s"] > 1 for r in render)
    for p in res["policy"]:
        assert [r["n"] for r in p["rows"]] == [20, 20, 20]
        assert all(_finite([r["p50_ms"], r["p99_ms"], r["max_ms"]]) and 0 < r["p50_ms"] < 1000 for r in p["rows"])
    g, blind = res["graph"]  # the student, then the blind baseline
    assert res["graph_failed"] == []
    assert blind["policy"] == "go1_walk" and blind["samples"] == 0 and math.isnan(blind["capture_to_action_ms"]["p50_ms"])
    assert _finite([blind["answer_ms"]["p50_ms"], blind["runner_diag_step_ms"]["p50_ms"]])
    c = g["capture_to_action_ms"]
    assert g["samples"] >= 10 and _finite([c["p50_ms"], c["p99_ms"], c["max_ms"], g["load"], g["realtime_factor"]])
    # 100 ms of camera latency, then a 10 Hz frame's age at the 50 Hz policy (graph clock): 100..180 ms
    assert 100 - 1e-6 <= c["p50_ms"] <= c["p99_ms"] <= c["max_ms"] <= 180 + 1e-6, c
    assert g["runner_diag_capture_to_action_ms"]["p50_ms"] >= 100 - 1e-6  # the runner's diagnostics agree on the delay
    assert time.monotonic() - t0 < 60


def test_bench_vision_refuses_an_unknown_section():
    run = subprocess.run([sys.executable, str(BENCH), "--sections", "render,gpu"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--sections: unknown ['gpu']" in run.stderr
