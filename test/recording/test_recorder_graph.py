"""The recorder in the real sim graph (rclpy, every node, MuJoCo), wired as `lucid-ros sim` wires it
(SimGraph(recorders=...)): one run records everything and keeps a black box; an e-stop at t = 8 s
must come out as a file with the 5 s before it. Read back with independent readers: rosbags (its
own CDR and .msg parsers) and mcap + mcap_ros2. `lucid-ros sim --record` killed with SIGKILL
leaves a file readable up to its last flushed chunk."""

import os
import signal
import subprocess
import sys
import time

import pytest
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from mcap_ros2.decoder import DecoderFactory
from rosbags.highlevel import AnyReader
from std_msgs.msg import Bool

from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.recording import TOPICS
from lucid_ros.recording.reader import open_recording, recover
from lucid_ros.robots import load_robot

ROBOT = load_robot("go1")
ESTOP_AT = 8.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("graph_rec")
    recorders = (
        {"mode": "full", "path": str(out / "run.mcap")},
        {"mode": "ring", "path": str(out / "blackbox"), "ring_seconds": 5.0, "post_trip_seconds": 2.0},
    )
    graph = SimGraph(robot="go1", policy="go1_stand", recorders=recorders)
    try:
        full, box = graph.nodes["recorder"], graph.nodes["black_box"]
        estop = graph.monitor.create_publisher(Bool, "safety/estop", qos.ESTOP)
        graph.start()
        graph.run_until(ESTOP_AT, wall_timeout=60)
        estop.publish(Bool(data=True))
        assert graph.wait_for_state("ESTOP", wall_timeout=5)
        graph.run_until(ESTOP_AT + 2.5, wall_timeout=30)
        stats = full.recorder.stats()
    finally:
        graph.close()  # destroys the recorders: files finished
    return {"full": out / "run.mcap", "files": box.recorder.files, "trips": box.recorder.trips, "stats": stats}


def rosbags_read(path, topics=None):
    """{topic: [(log time s, message)]} decoded by rosbags from the file's own schemas."""
    out: dict = {}
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for c in reader.connections:
            out.setdefault(c.topic, [])
        for c, t, raw in reader.messages(connections=conns):
            out[c.topic].append((t * 1e-9, reader.deserialize(raw, c.msgtype)))
    return out


def test_full_recording_holds_every_topic_at_its_rate_with_its_contents(recorded):
    run = rosbags_read(recorded["full"])
    assert set(run) == {"/" + t for t in TOPICS}
    duration = ESTOP_AT + 2.5
    js = run["/joint_states"]
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in js]
    assert stamps[0] == 0.0 and stamps[-1] >= duration - 0.01
    assert len(js) == round(stamps[-1] * 50) + 1, len(js)  # 50 Hz from the first tick, none lost
    assert list(js[0][1].name) == ROBOT.joint_names
    # log time = receive time on the graph clock: the sim time of the tick (header.stamp)
    assert all(abs(t - (m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)) <= 0.021 for t, m in js)
    cmds = run["/joint_commands"]
    assert abs(len(cmds) - len(js)) <= 3
    for _, m in cmds:
        assert len(m.points) == 2 and set(m.joint_names) == set(ROBOT.joint_names)
        assert m.header.frame_id in ("position", "damping", "passive")
        assert len(m.points[0].positions) == len(m.points[1].positions) == ROBOT.n_joints
    assert {m.header.frame_id for _, m in cmds} >= {"position", "damping"}
    assert [m.data for _, m in run["/safety/state"]] == ["PASSIVE", "STANDING", "RUNNING", "ESTOP"]
    assert run["/policy/status"][0][1].data.startswith("READY go1_stand")
    assert [m.data for _, m in run["/safety/estop"]] == [True]
    for topic in ("/imu/data", "/sim/ground_truth/odom", "/odom", "/proprioception/joint_states"):
        assert abs(len(run[topic]) - len(js)) <= 2, topic  # the shutdown may cut the last tick between topics
    assert recorded["stats"]["dropped"] == 0


def test_full_recording_decodes_with_mcap_ros2_too(recorded):
    factory, counts, names = DecoderFactory(), {}, None
    with open(recorded["full"], "rb") as f:
        schemas, channels = {}, {}
        for record in StreamReader(f, validate_crcs=True).records:
            if isinstance(record, Schema):
                schemas[record.id] = record
                assert record.encoding == "ros2msg" and record.data
            elif isinstance(record, Channel):
                channels[record.id] = record
                assert record.message_encoding == "cdr"
            elif isinstance(record, Message):
                ch = channels[record.channel_id]
                msg = factory.decoder_for("cdr", schemas[ch.schema_id])(record.data)
                counts[ch.topic] = counts.get(ch.topic, 0) + 1
                if ch.topic == "/joint_commands" and names is None:
                    names = list(msg.joint_names)
    assert names == ROBOT.joint_names
    assert counts == {t: i.count for t, i in open_recording(recorded["full"]).topics.items() if i.count}


def test_black_box_holds_five_seconds_before_the_estop_and_the_trip(recorded):
    files, trips = recorded["files"], recorded["trips"]
    assert len(files) == 1 and len(trips) == 1, files
    trip_t = trips[0].t_ns * 1e-9
    assert ESTOP_AT <= trip_t < ESTOP_AT + 0.5
    name = files[0].name
    assert name.startswith("blackbox_") and f"_t{trip_t:.2f}s_ESTOP_estop" in name
    run = rosbags_read(files[0])
    js = [t for t, _ in run["/joint_states"]]
    assert js[0] <= trip_t - 4.97 and js[1] >= trip_t - 5.03  # the 5 s window (+ the one before it)
    assert js[-1] >= trip_t + 1.9  # a couple of seconds after
    assert [m.data for _, m in run["/safety/state"]][-2:] == ["RUNNING", "ESTOP"]
    # The press that caused the trip: the supervisor acts on it at its next tick, so the message is
    # stamped at the trip's tick when it beat that tick's sensors and one tick earlier when it did not.
    estops = [(t, m.data) for t, m in run["/safety/estop"]]
    assert len(estops) == 1 and estops[0][1] is True
    assert trip_t - 1.0 / ROBOT.rate_hz - 1e-6 <= estops[0][0] <= trip_t + 1e-6, (estops, trip_t)
    events = [m.data for _, m in run["/safety/event"]]
    assert "-> ESTOP: estop" in events[-1]
    damping = [m for t, m in run["/joint_commands"] if t > trip_t]
    assert damping and all(m.header.frame_id == "damping" for m in damping)
    assert open_recording(files[0]).metadata["lucid_ros.trip"]["state"] == "ESTOP"


def test_sigkill_of_lucid_ros_sim_record_leaves_a_file_readable_up_to_the_last_flush(tmp_path):
    path = tmp_path / "killed.mcap"
    cmd = [sys.executable, "-m", "lucid_ros.cli", "sim", "--duration", "120", "--record", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        t0, sim_t = time.monotonic(), 0.0
        while sim_t < 3.0:  # progress lines: "[lucid-ros sim] t=  3.1/120 s ..."
            line = proc.stderr.readline()
            assert line, f"lucid-ros sim died (exit {proc.poll()})"
            if line.startswith("[lucid-ros sim] t="):
                sim_t = float(line.split("t=", 1)[1].split("/", 1)[0])
            assert time.monotonic() - t0 < 60, "the sim did not reach 3 s"
        time.sleep(1.5)  # > flush_seconds (1 s): what came before is flushed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    # independent reader: the mcap library's streaming reader, until the cut
    factory, schemas, channels, stamps = DecoderFactory(), {}, {}, []
    with open(path, "rb") as f:
        try:
            for record in StreamReader(f, validate_crcs=True).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message) and channels[record.channel_id].topic == "/joint_states":
                    m = factory.decoder_for("cdr", schemas[channels[record.channel_id].schema_id])(record.data)
                    stamps.append(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)
        except Exception:  # noqa: BLE001 - the unfinished tail, whatever error it gives; the prefix is what counts
            pass
    assert stamps and stamps[-1] >= sim_t - 0.5, (stamps[-1] if stamps else None, sim_t)
    assert all(abs(b - a - 0.02) < 1e-6 for a, b in zip(stamps, stamps[1:], strict=False))  # a gap-free prefix

    rec = open_recording(path)
    assert not rec.complete and rec.count("joint_states") == len(stamps)
    fixed = recover(path, tmp_path / "fixed.mcap")
    with AnyReader([tmp_path / "fixed.mcap"]) as reader:
        assert {c.topic: c.msgcount for c in reader.connections}["/joint_states"] == len(stamps) == fixed.count("joint_states")
