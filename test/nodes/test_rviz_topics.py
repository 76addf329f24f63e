"""config/lucid.rviz against the running graph: every display's topic is published, with the type
the display expects, with a QoS the display's subscription matches, and a message arrives.

Adding a display for a topic nobody publishes (or with the wrong class, or asking Reliable from a
best-effort stream) fails here, not on an operator's laptop. TF has no topic of its own:
robot_state_publisher (started by launch/monitor.launch.py) and the monitor's odom -> base
transform serve it.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import threading
import time
from pathlib import Path

import yaml
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from lucid_ros.nodes.common import parameters
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.nodes.monitor import MonitorNode, odom_transform
from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
from lucid_ros.robots import load_robot

ROOT = Path(__file__).resolve().parents[2]
RVIZ = ROOT / "config" / "lucid.rviz"
ROBOT = load_robot("go1")
DEPTH_INPUT = {
    "input_size": [60, 106], "vfov_deg": 56.19, "crop": [0, 2, 4, 4], "resize": [58, 87], "interpolation": "bicubic",
    "depth": {"clip": [0.0, 2.0], "normalize": "far"}, "rate_hz": 10, "stack": 2,
}  # fmt: skip

# display class -> (the key holding its topic, the message type it subscribes to)
EXPECTS = {
    "rviz_default_plugins/Image": ("Topic", "sensor_msgs/msg/Image"),
    "rviz_default_plugins/MarkerArray": ("Topic", "visualization_msgs/msg/MarkerArray"),
    "rviz_default_plugins/Odometry": ("Topic", "nav_msgs/msg/Odometry"),
    "rviz_default_plugins/RobotModel": ("Description Topic", "std_msgs/msg/String"),
}
NO_TOPIC = {"rviz_default_plugins/Grid", "rviz_default_plugins/TF"}


def get_message(kind: str):
    pkg, _, name = kind.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def displays(node: list) -> list[dict]:
    out = []
    for d in node:
        out += displays(d.get("Displays", [])) if d["Class"] == "rviz_common/Group" else [d]
    return out


def rviz_topics(path: Path = RVIZ) -> list[tuple[str, str, str, dict]]:
    """(display name, topic, expected type, topic QoS block) for every enabled display with a topic."""
    cfg = yaml.safe_load(path.read_text())
    assert cfg["Visualization Manager"]["Global Options"]["Fixed Frame"] == "odom"
    out = []
    for d in displays(cfg["Visualization Manager"]["Displays"]):
        cls = d["Class"]
        if cls in NO_TOPIC:
            continue
        assert cls in EXPECTS, f"{RVIZ.name}: display '{d['Name']}' has class {cls}; teach this test what it subscribes to"
        key, kind = EXPECTS[cls]
        if d.get("Enabled", True):
            out.append((d["Name"], d[key]["Value"], kind, d[key]))
    return out


def qos_of(block: dict) -> QoSProfile:
    rel = {"Reliable": ReliabilityPolicy.RELIABLE, "Best Effort": ReliabilityPolicy.BEST_EFFORT}[block.get("Reliability Policy", "Reliable")]
    dur = {"Volatile": DurabilityPolicy.VOLATILE, "Transient Local": DurabilityPolicy.TRANSIENT_LOCAL}[block.get("Durability Policy", "Volatile")]
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(block.get("Depth", 5)), reliability=rel, durability=dur)


def check_topics(g: SimGraph, probe, wanted, wall_timeout: float = 30.0) -> tuple[list[str], dict, dict]:
    """Subscribe as each display would; return (problems, first message per topic, topic types)."""
    got: dict[str, object] = {}
    lock = threading.Lock()

    def keep(topic):
        def cb(msg):
            with lock:
                got.setdefault(topic, msg)

        return cb

    def publishers(topic: str) -> list[str]:  # by publisher endpoint: our own subscriptions do not count
        return sorted({i.topic_type for i in probe.get_publishers_info_by_topic("/" + topic)})

    problems = []
    subs = []
    try:
        for name, topic, kind, block in wanted:
            published = publishers(topic)
            if published and published != [kind]:
                problems.append(f"display '{name}': /{topic} is published as {published}, rviz expects {kind}")
                continue
            subs.append(probe.create_subscription(get_message(kind), topic, keep(topic), qos_of(block)))
        expect = {t for n, t, k, _ in wanted if not any(f"'{n}'" in p for p in problems)}
        g.wait_until(lambda: expect <= set(got), wall_timeout=wall_timeout)
        for name, topic, kind, _ in wanted:
            if topic in expect and topic not in got:
                problems.append(f"display '{name}': nothing arrived on /{topic} ({kind}); publishers' types: {publishers(topic)}")
            elif topic in got and publishers(topic) != [kind]:
                problems.append(f"display '{name}': /{topic} is published as {publishers(topic)}, rviz expects {kind}")
    finally:
        for s in subs:
            probe.destroy_subscription(s)
    return problems, got, dict(probe.get_topic_names_and_types())


def test_rviz_config_parses_and_names_what_the_issue_asks_for():
    topics = {t for _, t, _, _ in rviz_topics()}
    assert {"robot_description", "camera/color/image_raw", "camera/depth/image_raw", "camera/policy/depth/image", "monitor/markers", "odom"} <= topics
    assert all(not t.startswith("/") for t in topics), "relative names, so a launch namespace applies"


def test_launch_serves_tf_and_the_monitor_makes_odom_to_base():
    launch = (ROOT / "launch" / "monitor.launch.py").read_text()
    for exe in ("robot_state_publisher", "monitor", "rviz2"):
        assert re.search(rf'executable="{exe}"', launch), f"monitor.launch.py does not start {exe}"
    assert "lucid.rviz" in launch


def test_every_rviz_topic_is_published_with_the_displayed_type(tmp_path):
    wall0 = time.monotonic()
    onnx = make_mlp_policy(tmp_path / "vision.onnx", 9 + 3 * ROBOT.n_joints, ROBOT.n_joints, extra_inputs={"depth": [1, 2, 58, 87]})
    spec = write_spec(
        tmp_path / "vision.yaml", onnx, ROBOT, images=[{"input": "depth", "camera": "ego", "stream": "depth", "preprocess": DEPTH_INPUT}]
    )
    wanted = rviz_topics()
    with SimGraph(robot="go1", policy=spec, overrides={"camera": {"streams": "depth,color"}}) as g:
        monitor = MonitorNode(context=g.context, parameter_overrides=parameters({"robot": "go1", "use_sim_time": True}))
        g.executor.add_node(monitor)
        probe = g.monitor  # the graph's own listener node
        try:
            problems, got, types = check_topics(g, probe, wanted)
            assert not problems, problems
            assert "<robot" in got["robot_description"].data and 'name="trunk"' in got["robot_description"].data
            assert got["camera/policy/depth/image"].encoding == "32FC1" and got["camera/color/image_raw"].encoding == "rgb8"
            assert {m.ns for m in got["monitor/markers"].markers} >= {"safety_state", "cmd_vel", "measured_vel", "height_scan"}
            # TF: the monitor's odom -> base transform, from what the estimator publishes
            t = odom_transform(got["odom"])
            assert (t["parent"], t["child"]) == ("odom", ROBOT.base_body)
            if importlib.util.find_spec("tf2_msgs") is not None:  # a ROS 2 install: it is really on /tf
                assert types.get("/tf") == ["tf2_msgs/msg/TFMessage"]
            # the check can fail: a display nobody feeds, or one of the wrong class, is named
            stray = [("stray", "camera/nobody/image_raw", "sensor_msgs/msg/Image", {"Reliability Policy": "Best Effort"}),
                     ("wrong class", "odom", "sensor_msgs/msg/Image", {})]  # fmt: skip
            problems, _, _ = check_topics(g, probe, stray, wall_timeout=1.0)
            assert len(problems) == 2, problems
            assert any("stray" in p and "nothing arrived on /camera/nobody/image_raw" in p and "[]" in p for p in problems), problems
            assert any("wrong class" in p and "nav_msgs/msg/Odometry" in p for p in problems), problems
        finally:
            g.executor.remove_node(monitor)
            monitor.destroy_node()
    assert time.monotonic() - wall0 < 40
