"""Joint-target clipping and rate limiting: the one implementation runtime and training share.

Training imports `clip_targets` so a policy learns under exactly the limits the supervisor
will impose on the robot; a second copy would drift and the robot would meet limits it never saw.
"""

from __future__ import annotations

import numpy as np

from lucid_ros.robots.description import RobotDescription


def clip_targets(
    q_target: np.ndarray,
    prev_target: np.ndarray | None,
    robot: RobotDescription,
    max_step: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rate-limit `q_target` to within `max_step` of `prev_target`, then clip to [lower, upper].

    Arrays are (..., n_joints) in canonical order; leading batch dimensions broadcast (training
    passes (num_envs, n)). `max_step` is rad per control tick (default: the robot's
    `safety.max_target_step`); `prev_target=None` skips the rate limit (first command).
    The position limits are applied last so they always win: even if `prev_target` were outside
    them, the result is not. NaN propagates (it is the caller's check to refuse it; hiding it
    here would hide a broken policy from training).

    Returns (clipped, was_clipped) where was_clipped is a bool mask of the same shape.
    """
    q = np.asarray(q_target, dtype=np.float64)
    out = q
    if prev_target is not None:
        step = robot.safety.max_target_step if max_step is None else max_step
        prev = np.asarray(prev_target, dtype=np.float64)
        out = np.clip(out, prev - step, prev + step)
    out = np.clip(out, robot.lower, robot.upper)
    was_clipped = ~(out == q)  # NaN != NaN, so a NaN target reports as clipped
    return out, was_clipped
