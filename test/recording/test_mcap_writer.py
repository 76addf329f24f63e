"""The writer makes rosbag2-profile MCAP that an independent reader (rosbags) opens and decodes:
complete .msg definitions, cdr channels, QoS metadata; and the recorder flushes whole chunks to
the OS on its own, so a file that is still being written is readable up to its last flush."""

import threading
import time

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability
from rosbags.typesys import Stores, get_typestore

from lucid_ros.recording import Recorder, message_definition, offered_qos
from lucid_ros.recording.mcap_writer import McapFile, split_type
from lucid_ros.recording.reader import open_recording

TS = get_typestore(Stores.ROS2_JAZZY)


def joint_state(i: int) -> bytes:
    T = TS.types
    msg = T["sensor_msgs/msg/JointState"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=i // 50, nanosec=(i % 50) * 20_000_000), frame_id=""),
        name=["FR_hip_joint", "FR_thigh_joint"],
        position=np.array([0.01 * i, -1.5]),
        velocity=np.array([0.5, 0.0]),
        effort=np.array([], dtype=np.float64),
    )
    return bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


def string(text: str) -> bytes:
    return bytes(TS.serialize_cdr(TS.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String"))


def test_message_definition_is_complete_ros2msg():
    text = message_definition("trajectory_msgs/msg/JointTrajectory")
    assert "JointTrajectoryPoint[] points" in text.split("=" * 80)[0]  # the type itself comes first
    for dep in ("std_msgs/msg/Header", "builtin_interfaces/msg/Time", "trajectory_msgs/msg/JointTrajectoryPoint", "builtin_interfaces/msg/Duration"):
        assert f"{'=' * 80}\nMSG: {dep}\n" in text
    assert text.count("MSG: builtin_interfaces/msg/Time") == 1
    assert message_definition("no_such_pkg/msg/Nothing") == ""
    with pytest.raises(ValueError):
        split_type("JointState")


def test_rosbags_reads_types_contents_and_qos(tmp_path):
    path = tmp_path / "run.mcap"
    f = McapFile(path)
    f.add_channel("/joint_states", "sensor_msgs/msg/JointState", offered_qos())
    f.add_channel("/safety/state", "std_msgs/msg/String", offered_qos(transient_local=True, depth=1))
    f.add_channel("/cmd_vel", "geometry_msgs/msg/Twist", offered_qos())  # silent topic: still listed
    for i in range(100):
        f.write("/joint_states", i * 20_000_000, joint_state(i))
    f.write("/safety/state", 1_000_000_000, string("RUNNING"))
    f.close()

    with AnyReader([path]) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert set(conns) == {"/joint_states", "/safety/state", "/cmd_vel"}
        assert conns["/joint_states"].msgtype == "sensor_msgs/msg/JointState"
        assert conns["/joint_states"].msgcount == 100 and conns["/cmd_vel"].msgcount == 0
        assert conns["/safety/state"].ext.offered_qos_profiles[0].durability == QosDurability.TRANSIENT_LOCAL
        msgs = [(t, reader.deserialize(raw, c.msgtype)) for c, t, raw in reader.messages(connections=[conns["/joint_states"]])]
    assert [t for t, _ in msgs] == [i * 20_000_000 for i in range(100)]
    assert msgs[42][1].name == ["FR_hip_joint", "FR_thigh_joint"]
    assert msgs[42][1].position[0] == pytest.approx(0.42)
    assert msgs[42][1].header.stamp.nanosec == 42 % 50 * 20_000_000


def test_recorder_flushes_on_time_so_an_open_file_is_readable(tmp_path):
    path = tmp_path / "live.mcap"
    rec = Recorder("full", path, flush_seconds=0.2)
    try:
        rec.add_topic("/joint_states", "sensor_msgs/msg/JointState", offered_qos())
        for i in range(50):
            rec.put("/joint_states", i * 20_000_000, joint_state(i))
        time.sleep(0.6)  # > flush_seconds: the writer thread has closed a chunk and handed it to the OS
        live = open_recording(path)
        assert not live.complete
        assert live.count("joint_states") == 50
        assert [round(t * 1e-9, 2) for _, t, _ in live.messages(["joint_states"])][-1] == 0.98
    finally:
        rec.close()
    done = open_recording(path)
    assert done.complete and done.count("/joint_states") == 50
    assert done.metadata["lucid_ros.run"]["mode"] == "full"
    assert rec.stats()["dropped"] == 0 and rec.error is None


def test_recorder_drops_rather_than_grows_when_the_writer_falls_behind(tmp_path):
    rec = Recorder("full", tmp_path / "x.mcap", max_queue=10)
    gate = threading.Event()
    write = rec.sink.on_message
    rec.sink.on_message = lambda *a: (gate.wait(5.0), write(*a))  # a disk that stalls
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState", offered_qos())
    for i in range(100):
        rec.put("/joint_states", i * 20_000_000, joint_state(i))
    gate.set()
    rec.close()
    s = rec.stats()
    assert s["received"] == 100 and s["dropped"] >= 80
    assert open_recording(tmp_path / "x.mcap").count("joint_states") == 100 - s["dropped"]
