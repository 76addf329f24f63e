"""Every shipped humanoid walking policy walks through the whole graph (issue 16).

`h1_walk` and `g1_walk` (trained by train_walk --robot h1|g1): hung from the hoist, stood, lowered and run by the
sim's auto sequence (all on sim time), lockstep, flat ground. The README's humanoid table asks a
mean vx of at least 0.8 x a 0.5 m/s command and a yaw rate of at least 0.7 x 0.5 rad/s, without a
fall. Velocity is the MuJoCo ground truth, not the estimate.
"""

import numpy as np
import pytest
from graph_tools import mean_walk_velocity

from lucid_ros import paths

SETTLE = 1.0  # s after RUNNING before anything is measured
SECONDS = 10.0
SHIPPED = [r for r in ("h1", "g1") if (paths.config_dir() / "policies" / f"{r}_walk.yaml").is_file()]


def mean_velocity(robot: str, cmd: tuple[float, float, float]) -> tuple[np.ndarray, list]:
    return mean_walk_velocity(robot, cmd, SETTLE, SECONDS, start_pose="default", auto_sequence=True)


def test_a_humanoid_walking_policy_is_shipped():
    assert SHIPPED == ["h1", "g1"], "config/policies/{h1,g1}_walk.yaml: without one, lucid-ros sim --robot R would only stand"


@pytest.mark.parametrize("robot", SHIPPED)
def test_forward_at_half_a_metre_per_second(robot):
    vel, falls = mean_velocity(robot, (0.5, 0.0, 0.0))
    assert falls == []
    assert 0.8 * 0.5 <= vel[0] <= 1.25 * 0.5, f"{robot}: mean vx {vel[0]:.3f} m/s at a 0.5 m/s command"
    assert abs(vel[1]) < 0.15, f"{robot}: mean vy {vel[1]:.3f} m/s while asked to go straight"


@pytest.mark.parametrize("robot", SHIPPED)
def test_turns_at_half_a_radian_per_second(robot):
    vel, falls = mean_velocity(robot, (0.0, 0.0, 0.5))
    assert falls == []
    assert vel[2] >= 0.7 * 0.5, f"{robot}: mean yaw rate {vel[2]:.3f} rad/s at a 0.5 rad/s command"


@pytest.mark.parametrize("robot", SHIPPED)
def test_zero_command_stands_still(robot):
    vel, falls = mean_velocity(robot, (0.0, 0.0, 0.0))
    assert falls == []
    assert np.abs(vel[:2]).max() < 0.05 and abs(vel[2]) < 0.05, f"{robot}: drifts at zero command: {vel}"
