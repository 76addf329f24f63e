"""A teacher policy (privileged terrain scan) through the whole sim graph: the sim bridge answers
its scan every tick with the course's true heights, operators see it on policy/height_scan, and
the same spec is refused outside the simulator."""

from __future__ import annotations

import threading

import numpy as np
from sensor_msgs.msg import PointCloud2

from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.policy.fixtures import DOC_TERMS, make_policy
from lucid_ros.robots import load_robot
from lucid_ros.sim.heights import CourseHeights

ROBOT = load_robot("go1")
SCAN = {"name": "height_scan", "x": [-0.3, 1.2, 0.3], "y": [-0.3, 0.3, 0.3], "offset": -0.3, "scale": 5.0, "clip": 1.0}


def teacher(tmp_path):
    return make_policy(tmp_path, ROBOT, kind="zeros", name="teacher", terms=[*DOC_TERMS, SCAN])


def test_teacher_gets_the_true_terrain_under_its_scan_every_tick(tmp_path):
    spec_path = teacher(tmp_path)
    graph = SimGraph(robot="go1", policy=spec_path, course="hurdle", start_pose="default")
    seen, clouds, lock = [], [], threading.Lock()
    runtime = graph.nodes["policy_runner"].runtime
    real_step = runtime.step

    def step(inputs, now, images=None):
        with lock:
            seen.append((now, inputs.height_scan.copy()))
        return real_step(inputs, now, images)

    runtime.step = step
    graph.monitor.create_subscription(PointCloud2, "policy/height_scan", clouds.append, qos.STATE)
    sim = graph.nodes["sim_bridge"].sim
    truth = []  # on_tick runs after the step: s.time is the tick whose sensors (and scan) come next
    graph.nodes["sim_bridge"].on_tick.insert(0, lambda _t, s: truth.append((s.time, s.ground_truth().pos.copy(), s.ground_truth().quat.copy())))
    try:
        graph.start()
        assert graph.wait_for_state("RUNNING", wall_timeout=60)
        graph.run_for(1.0, wall_timeout=60)
    finally:
        graph.close()
    assert len(seen) >= 40, f"the teacher ran {len(seen)} steps in 1 s of RUNNING"
    heights = CourseHeights(sim.course)
    term = runtime.spec.observation.terms[-1]
    by_t = {round(t, 6): (p, q) for t, p, q in truth}
    checked = 0
    for now, scan in seen[-20:]:
        pos, quat = by_t[round(now, 6)]
        yaw = np.arctan2(2 * (quat[0] * quat[3] + quat[1] * quat[2]), 1 - 2 * (quat[2] ** 2 + quat[3] ** 2))
        c, s = np.cos(yaw), np.sin(yaw)
        pts = term.scan_points()
        world = pos[:2] + np.stack([c * pts[:, 0] - s * pts[:, 1], s * pts[:, 0] + c * pts[:, 1]], axis=1)
        np.testing.assert_allclose(scan[0], pos[2] - heights(world), atol=1e-9)
        checked += 1
    assert checked == 20
    assert 0.2 < np.median(seen[-1][1]) < 0.4, "standing on flat ground the scan reads the base height"
    assert clouds and clouds[-1].width == term.size and clouds[-1].header.frame_id == ROBOT.base_body


def test_teacher_is_refused_outside_the_simulator(tmp_path):
    import rclpy

    from lucid_ros.nodes.common import parameters
    from lucid_ros.nodes.policy_runner import PolicyRunnerNode

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = PolicyRunnerNode(context=ctx, parameter_overrides=parameters({"robot": "go1", "policy": str(teacher(tmp_path))}))
        assert node.runtime is None
        assert "privileged" in node.refusal and "height_scan" in node.refusal and "student" in node.refusal
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
