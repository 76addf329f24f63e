"""Start-up checks: is the robot we are about to command the one the YAML describes, and idle?

Each check returns a list of problems in words an operator can act on; empty means fine.
- pose: every measured joint inside its YAML range (+ margin). A permuted vendor_index (the
  joint-order mistake of what-users-trip-over item 3) puts e.g. a calf angle in a thigh slot.
- symmetry: mirrored joints (FR/FL, RR/RL, left/right) should agree in magnitude at rest.
- stillness: while we command zero torque the joints must not move; if they do, the vendor's
  controller still runs (sport mode not released / not in low-level mode; item 1) or the robot
  is falling.
"""

from __future__ import annotations

import re

import numpy as np

from lucid_ros.robots.description import RobotDescription

_MIRRORS = (("FR", "FL"), ("RR", "RL"), ("left", "right"), ("HR", "HL"))


def mirror_pairs(names: list[str]) -> list[tuple[int, int]]:
    lookup = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, n in enumerate(names):
        for a, b in _MIRRORS:
            m = re.fullmatch(rf"{a}(_.*)", n)
            if m and f"{b}{m.group(1)}" in lookup:
                pairs.append((i, lookup[f"{b}{m.group(1)}"]))
    return pairs


def check_pose(robot: RobotDescription, q: np.ndarray, margin: float = 0.15) -> list[str]:
    out = []
    for i, j in enumerate(robot.joints):
        if not np.isfinite(q[i]):
            out.append(f"{j.name} measures {q[i]} (not finite)")
        elif q[i] < j.lower - margin or q[i] > j.upper + margin:
            out.append(f"{j.name} (vendor slot {j.vendor_index}) measures {q[i]:+.3f} rad, outside its range [{j.lower:+.3f}, {j.upper:+.3f}]")
    if out:
        out.append("check vendor_index in the robot YAML (a swapped joint order) and that the robot is at rest")
    return out


def check_symmetry(robot: RobotDescription, q: np.ndarray, tol: float = 0.8) -> list[str]:
    names = robot.joint_names
    out = []
    for i, k in mirror_pairs(names):
        if abs(abs(q[i]) - abs(q[k])) > tol:
            out.append(f"{names[i]} {q[i]:+.3f} vs {names[k]} {q[k]:+.3f} rad: mirrored joints differ by more than {tol} rad")
    if out:
        out.append("asymmetric legs at rest usually mean a wrong vendor_index in the robot YAML")
    return out


def check_still(robot: RobotDescription, q_history: np.ndarray, tol: float = 0.05) -> list[str]:
    """q_history: (n_samples, n_joints) measured while we sent nothing or zero torque."""
    if len(q_history) < 2:
        return []
    span = q_history.max(axis=0) - q_history.min(axis=0)
    moving = [f"{robot.joint_names[i]} moved {span[i]:.3f} rad" for i in np.flatnonzero(span > tol)]
    if moving:
        return [
            "joints move while lucid_ros commands nothing: the vendor's controller is still running "
            "(release sport mode / enter low-level mode) or the robot is falling: " + ", ".join(moving[:6])
        ]
    return []
