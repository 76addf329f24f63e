"""A file cut short (the recorder SIGKILLed, a torn last page) reads up to its last whole chunk,
and `recover` turns it into a finished file an index-only reader (rosbags) opens."""

import os

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from lucid_ros.recording import offered_qos
from lucid_ros.recording.mcap_writer import McapFile
from lucid_ros.recording.reader import open_recording, recover

TS = get_typestore(Stores.ROS2_JAZZY)
PER_CHUNK = 100


def imu(i: int) -> bytes:
    T = TS.types
    msg = T["sensor_msgs/msg/Imu"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=i, nanosec=0), frame_id="imu_link"),
        orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9),
        angular_velocity=T["geometry_msgs/msg/Vector3"](x=float(i), y=0.0, z=0.0),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )
    return bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/Imu"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Five flushed chunks of 100 messages; returns (path, file size after each flush)."""
    path = tmp_path_factory.mktemp("reader") / "run.mcap"
    f = McapFile(path)
    f.add_channel("/imu/data", "sensor_msgs/msg/Imu", offered_qos())
    f.add_metadata("lucid_ros.run", {"robot": "go1"})
    sizes = []
    for i in range(5 * PER_CHUNK):
        f.write("/imu/data", i * 20_000_000, imu(i))
        if (i + 1) % PER_CHUNK == 0:
            f.flush()
            sizes.append(os.path.getsize(path))
    f.close()
    return path, sizes


def cut(src, dst, size: int):
    dst.write_bytes(src.read_bytes()[:size])
    return dst


@pytest.mark.parametrize("chunks, extra", [(0, 37), (2, 0), (2, 400), (4, 9)])
def test_a_cut_file_reads_up_to_its_last_whole_chunk(finished, tmp_path, chunks, extra):
    path, sizes = finished
    at = (sizes[chunks - 1] if chunks else 200) + extra  # inside the next chunk (or inside the first)
    rec = open_recording(cut(path, tmp_path / "cut.mcap", at))
    assert not rec.complete
    assert rec.count("imu/data") == chunks * PER_CHUNK
    got = [m.angular_velocity.x for _, _, m in rec.messages()]
    assert got == [float(i) for i in range(chunks * PER_CHUNK)]
    assert rec.metadata == {"lucid_ros.run": {"robot": "go1"}}


def test_a_cut_in_the_summary_keeps_every_message_and_recover_finishes_the_file(finished, tmp_path):
    path, sizes = finished
    rec = open_recording(cut(path, tmp_path / "cut.mcap", os.path.getsize(path) - 30))
    assert not rec.complete and rec.count("/imu/data") == 5 * PER_CHUNK
    fixed = recover(tmp_path / "cut.mcap", tmp_path / "fixed.mcap")
    assert fixed.complete and fixed.count("/imu/data") == 5 * PER_CHUNK
    with AnyReader([tmp_path / "fixed.mcap"]) as reader:
        assert [c.msgcount for c in reader.connections] == [5 * PER_CHUNK]
        last = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()][-1]
    assert last.angular_velocity.x == 5 * PER_CHUNK - 1
    assert fixed.metadata["lucid_ros.run"] == {"robot": "go1"}


def test_zeros_after_the_last_chunk_read_as_the_end(finished, tmp_path):
    path, sizes = finished
    damaged = tmp_path / "torn.mcap"
    damaged.write_bytes(path.read_bytes()[: sizes[1]] + b"\0" * 4096)  # a power cut: a page of zeros
    assert open_recording(damaged).count("imu/data") == 2 * PER_CHUNK
