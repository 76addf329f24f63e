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

