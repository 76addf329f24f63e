"""`make_report` on recordings of the real sim graph: a normal run, an e-stop run, and a file cut
short by a crash. Every plot is drawn, every PNG is a real image, the page says what happened."""

import struct

import pytest
from std_msgs.msg import Bool

from lucid_ros.errors import ConfigError
from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.recording.reader import open_recording
from lucid_ros.report import load_run, make_report
from lucid_ros.report.html import summarize
from lucid_ros.report.plots import limb_groups

PLOTS = ("safety_timeline", "joint_tracking", "velocity_tracking", "latencies")


def record(path, duration: float, estop_at: float | None = None):
    graph = SimGraph(robot="go1", policy="go1_stand", recorders=({"path": str(path)},))
    try:
        estop = graph.monitor.create_publisher(Bool, "safety/estop", qos.ESTOP)
        graph.start()
        if estop_at is not None:
            graph.run_until(estop_at, wall_timeout=60)
            estop.publish(Bool(data=True))
            assert graph.wait_for_state("ESTOP", wall_timeout=5)
        graph.run_until(duration, wall_timeout=60)
    finally:
        graph.close()
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_runs")
    return {"normal": record(d / "normal.mcap", 4.0), "estop": record(d / "estop.mcap", 4.5, estop_at=3.0)}


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def check_pages(page, out):
    assert page == out / "index.html" and page.is_file()
    text = page.read_text()
    for name in PLOTS:
        w, h = png_size(out / f"{name}.png")
        assert w >= 800 and h >= 300
    assert text.count("data:image/png;base64,") == len(PLOTS)
    return text


def test_report_of_a_normal_run(runs, tmp_path):
    out = tmp_path / "normal_report"
    text = check_pages(make_report(runs["normal"], out), out)
    assert "No safety trip." in text and "RUNNING" in text
    s = summarize(load_run(open_recording(runs["normal"])))
    assert s["complete"] and s["final_state"] == "RUNNING" and not s["trips"]
    assert s["joint_rms_rad"]["max"] < 0.5
    assert s["velocity_error"] is not None and s["velocity_error"]["vx"] < 0.1  # stands still as told
    assert any(node == "sim_bridge" and key == "answer_p99_ms" for node, key, _ in s["timing"])


def test_report_of_an_estop_run_names_the_trip_and_its_cause(runs, tmp_path):
    out = tmp_path / "estop_report"
    text = check_pages(make_report(runs["estop"], out), out)
    assert "ATTENTION: safety tripped" in text and "RUNNING → ESTOP" in text and "safety/estop engaged" in text
    s = summarize(load_run(open_recording(runs["estop"])))
    assert s["final_state"] == "ESTOP" and len(s["trips"]) == 1 and s["trips"][0].startswith("ESTOP at 3.")


def test_report_of_a_file_cut_short(runs, tmp_path):
    data = runs["normal"].read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "cut_report"
    text = check_pages(make_report(cut, out), out)
    assert "unfinished" in text


def test_report_refuses_what_is_not_a_recording(tmp_path):
    with pytest.raises(ConfigError, match="no such recording"):
        make_report(tmp_path / "missing.mcap", tmp_path / "out")
    (tmp_path / "junk.mcap").write_bytes(b"not an mcap file at all")
    with pytest.raises(ConfigError, match="not a readable MCAP"):
        make_report(tmp_path / "junk.mcap", tmp_path / "out")


def test_joints_are_grouped_per_limb():
    go1 = [f"{leg}_{j}_joint" for leg in ("FR", "FL", "RR", "RL") for j in ("hip", "thigh", "calf")]
    assert [(g, len(i)) for g, i in limb_groups(go1)] == [("FR leg", 3), ("FL leg", 3), ("RR leg", 3), ("RL leg", 3)]
    h1 = ["left_hip_yaw_joint", "left_knee_joint", "torso_joint", "left_elbow_joint", "right_shoulder_pitch_joint"]
    assert [g for g, _ in limb_groups(h1)] == ["left leg", "torso", "left arm", "right arm"]
