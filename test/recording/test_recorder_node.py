"""RecorderNode on its own (no sim): topics named by pattern are found by discovery and recorded
with the publisher's reliability; excluded ones are not; a bad configuration is refused by name."""

import threading
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosReliability
from std_msgs.msg import Int32, String

from lucid_ros.errors import ConfigError
from lucid_ros.nodes.recorder import RecorderNode


@pytest.fixture
def context():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    if ctx.ok():
        rclpy.shutdown(context=ctx)


def test_patterns_are_discovered_and_recorded_with_the_publishers_qos(context, tmp_path):
    path = tmp_path / "extra.mcap"
    talker = rclpy.create_node("talker", context=context)
    best_effort = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    pubs = {
        "extra/counter": talker.create_publisher(Int32, "extra/counter", best_effort),
        "extra/secret": talker.create_publisher(String, "extra/secret", 10),
    }
    rec = RecorderNode(
        context=context,
        parameter_overrides=[
            Parameter("path", value=str(path)),
            Parameter("topics", value=["extra/*", "joint_states"]),
            Parameter("exclude", value=["/clock", "*/secret"]),
            Parameter("flush_seconds", value=0.2),
        ],
    )
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(rec)
    executor.add_node(talker)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 10
        while "/extra/counter" not in rec.subscribed:  # the discovery timer runs every second
            assert time.monotonic() < deadline, "extra/counter was never discovered"
            time.sleep(0.05)
        assert rec.wait_matched(timeout=5.0) == []
        for i in range(20):
            pubs["extra/counter"].publish(Int32(data=i))
            pubs["extra/secret"].publish(String(data="no"))
            time.sleep(0.005)
        time.sleep(0.3)
    finally:
        executor.shutdown(timeout_sec=2.0)
        rec.destroy_node()
        talker.destroy_node()
    assert "/extra/secret" not in rec.subscribed and "/joint_states" in rec.subscribed
    with AnyReader([path]) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert "/extra/secret" not in conns
        counter = conns["/extra/counter"]
        assert counter.msgtype == "std_msgs/msg/Int32"
        assert counter.ext.offered_qos_profiles[0].reliability == QosReliability.BEST_EFFORT
        values = [reader.deserialize(raw, c.msgtype).data for c, _, raw in reader.messages(connections=[counter])]
    assert values == list(range(20))


def test_a_bad_configuration_is_refused_by_name(context, tmp_path):
    with pytest.raises(ConfigError, match="recorder.mode"):
        RecorderNode(context=context, parameter_overrides=[Parameter("mode", value="everything")])
    with pytest.raises(ConfigError, match="recorder.path"):
        RecorderNode(context=context, parameter_overrides=[Parameter("mode", value="full")])
