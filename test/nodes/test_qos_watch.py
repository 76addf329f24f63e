"""Our nodes go without rclpy's per-endpoint QoS-event handlers (they cost 60 % of every executor
spin); GraphNode's QoS watch must still say, loudly and by name, when a publisher's QoS can never
reach one of our subscriptions - the silent failure those handlers existed to report."""

import os

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from lucid_ros.nodes import qos  # noqa: E402
from lucid_ros.nodes.common import GraphNode  # noqa: E402
from lucid_ros.nodes.inprocess import InProcessGraph  # noqa: E402


def test_a_best_effort_publisher_to_a_reliable_subscription_is_named_and_a_matching_one_is_not():
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    try:
        ours = GraphNode("qos_watch_under_test", context=ctx)
        ours.create_subscription(String, "qos_watch_topic", lambda m: None, qos.STATE)  # reliable
        assert not list(ours.waitables), "no QoS-event waitables on our endpoints"
        good = rclpy.create_node("matching_talker", context=ctx)
        good.create_publisher(String, "qos_watch_topic", qos.STATE)
        bad = rclpy.create_node("best_effort_talker", context=ctx)
        bad.create_publisher(String, "qos_watch_topic", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        assert InProcessGraph.wait_until(lambda: ours.count_publishers("/qos_watch_topic") == 2, 5.0)
        found = ours.check_qos()
        assert len(found) == 1 and "/best_effort_talker" in found[0] and "(Best effort publisher and reliable subscription)" in found[0], found
        assert ours.check_qos() == []  # said once, not every period
    finally:
        rclpy.shutdown(context=ctx)


def test_incompatible_judges_the_profiles_the_graph_uses():
    assert qos.incompatible(qos.STATE, qos.STATE) is None
    assert qos.incompatible(qos.SENSOR, qos.STATE) is None  # a reliable publisher reaches a best-effort reader
    assert qos.incompatible(qos.STATE, qos.SENSOR) is not None
    assert qos.incompatible(qos.LATCHED, qos.STATE) is not None  # we ask transient-local, they offer volatile
