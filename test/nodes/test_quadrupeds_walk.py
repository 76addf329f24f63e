"""Every shipped quadruped walks on its own shipped policy, through the whole graph (issue 20).

Go2 (`go2_walk`, trained by train_walk --robot go2) and the MIT Mini Cheetah (`mini_cheetah_walk`, trained by train_walk --robot
mini_cheetah) from lying, lockstep, flat ground: the README's quadruped table asks a mean vx of at
least 0.8 x a 0.5 m/s command and a yaw rate of at least 0.7 x 0.5 rad/s, without a fall. (The
Go1's own numbers are test_graph_walk's.) Velocity is the MuJoCo ground truth, not the estimate.
"""

import numpy as np
import pytest
from graph_tools import mean_walk_velocity

SETTLE = 1.0  # s after RUNNING before anything is measured
SECONDS = 10.0


def mean_velocity(robot: str, cmd: tuple[float, float, float]) -> tuple[np.ndarray, list]:
    return mean_walk_velocity(robot, cmd, SETTLE, SECONDS, start_pose="lying")


@pytest.mark.parametrize("robot", ["go2", "mini_cheetah"])
def test_forward_at_half_a_metre_per_second(robot):
    vel, falls = mean_velocity(robot, (0.5, 0.0, 0.0))
    assert falls == []
    assert 0.8 * 0.5 <= vel[0] <= 1.25 * 0.5, f"{robot}: mean vx {vel[0]:.3f} m/s at a 0.5 m/s command"
    assert abs(vel[1]) < 0.1, f"{robot}: mean vy {vel[1]:.3f} m/s while asked to go straight"


@pytest.mark.parametrize("robot", ["go2", "mini_cheetah"])
def test_turns_at_half_a_radian_per_second(robot):
    vel, falls = mean_velocity(robot, (0.0, 0.0, 0.5))
    assert falls == []
    assert vel[2] >= 0.7 * 0.5, f"{robot}: mean yaw rate {vel[2]:.3f} rad/s at a 0.5 rad/s command"
