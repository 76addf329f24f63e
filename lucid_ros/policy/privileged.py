"""Privileged observation terms: inputs only a simulator can give (a teacher's terrain scan).

A teacher policy trained with privileged terrain heights is a training tool and a sim baseline;
on a robot nothing measures them, and a runner that fed it zeros would walk the robot blind into
the first obstacle while everything looked healthy. So a spec with a privileged term is refused
unless the graph says it runs in a simulator (`allow_privileged`, set by the sim bringup only).

In the sim the runner asks the graph's in-process bus for the scan (`request_scan`), and the sim
bridge answers every tick, before it publishes the tick's sensors, with
`lucid_ros.policy.observations.height_scan` over the course's height map: the function training
uses, so the grid's order, frame and sign cannot differ.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.mathutil import quat_rotate_inverse, yaw_of
from lucid_ros.policy.spec import PRIVILEGED_TERMS, PolicySpec, TermSpec


def privileged_terms(spec: PolicySpec) -> list[TermSpec]:
    return [t for t in spec.observation.terms if t.name in PRIVILEGED_TERMS]


def check_privileged(spec: PolicySpec, allowed: bool) -> None:
    """Refuse a policy that reads simulator-only terms outside a simulator."""
    terms = [t.name for t in privileged_terms(spec)]
    if terms and not allowed:
        raise ConfigError(
            spec.path,
            "observation.terms",
            f"policy '{spec.name}' reads privileged term(s) {terms} that only the simulator provides (a teacher policy); "
            "on a robot deploy a student that reads the camera instead",
        )


def scan_points_base(offsets: np.ndarray, heights: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """The scan as points in the base frame for operators (rviz): offsets (N, 2) in the yaw frame,
    heights (N,) = base_z - terrain_z, quat (w, x, y, z) world-from-base. Returns (N, 3)."""
    from lucid_ros.sim.heights import scan_points

    xy = scan_points(np.zeros(2), yaw_of(np.asarray(quat, dtype=np.float64)), offsets)  # the grid turned by the heading
    rel = np.concatenate([xy, -np.asarray(heights, dtype=np.float64)[:, None]], axis=1)
    return quat_rotate_inverse(np.broadcast_to(np.asarray(quat, dtype=np.float64), (len(rel), 4)), rel)
