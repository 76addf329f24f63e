"""Policies and listeners the graph tests share."""

from __future__ import annotations

from pathlib import Path

from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
from lucid_ros.robots import load_robot


def fixture_policy(tmp_path: Path, robot_name: str = "go1", kind: str = "zeros", **spec_kwargs) -> Path:
    """A policy over the doc's 45-d style observation (9 + 3 n): 'zeros' holds the default pose."""
    robot = load_robot(robot_name)
    obs_dim = 9 + 3 * robot.n_joints
    onnx = make_mlp_policy(tmp_path / f"{robot_name}_{kind}.onnx", obs_dim, robot.n_joints, kind=kind)
    return write_spec(tmp_path / f"{robot_name}_{kind}.yaml", onnx, robot, **spec_kwargs)


def heights(graph, t_from: float, t_to: float) -> list[float]:
    m = graph.monitor.metrics
    return [p[2] for t, p in zip(m.t, m.pos, strict=True) if t_from <= t <= t_to]


def mean_walk_velocity(robot: str, cmd: tuple[float, float, float], settle: float = 1.0, seconds: float = 10.0, **graph_kwargs):
    """(mean ground-truth body velocity vx, vy, wz over `seconds` after RUNNING + `settle`, falls)
    of the robot's shipped `<robot>_walk` policy in lockstep (SimGraph keyword arguments pass on)."""
    import numpy as np

    from lucid_ros.nodes.graph import SimGraph

    with SimGraph(robot=robot, policy=f"{robot}_walk", cmd_vel=cmd, **graph_kwargs) as g:
        assert g.wait_for_state("RUNNING", wall_timeout=90), g.monitor.events
        g.run_for(settle)
        t0 = g.sim_time
        g.run_until(t0 + seconds)
        assert g.state == "RUNNING", g.monitor.events
    m = g.monitor.metrics
    t = np.array(m.t)
    win = (t >= t0) & (t <= t0 + seconds)
    assert win.sum() > 40 * seconds, "ground truth missing"
    return np.array(m.vel_body)[win].mean(axis=0), list(m.falls)
