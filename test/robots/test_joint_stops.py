"""The Go1 model's joint stops hold as a Go1's mechanical stops do.

A calf is light (0.196 kg), so under MuJoCo's default limit softness (time constant 0.02 s) a leg
swinging into its stop, or pushed there by the ground, went 0.1-0.3 rad past it: an angle a Go1
cannot reach, which the supervisor reads as a joint beyond 1.1 x its range and damps the robot
(it ended table episodes that a robot would have finished). Here the trunk is held still in zero
gravity and one calf is driven into its stop, as a landing or a swing drives it.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lucid_ros.robots.description import load_robot

STOP = -0.888  # the calf's straight-leg stop, rad (urdf/go1.xml class "knee")


def _calf_into_stop(speed: float, torque: float, steps: int = 200) -> tuple[float, float]:
    """Swing FR_calf at `speed` rad/s toward its stop with `torque` N.m on its motor.

    Returns (the furthest angle reached, the angle after 0.4 s)."""
    robot = load_robot("go1")
    model = mujoco.MjModel.from_xml_path(str(robot.mjcf_path))
    model.opt.gravity[:] = 0.0
    data = mujoco.MjData(model)
    joint = model.joint("FR_calf_joint")
    qa, va = int(joint.qposadr[0]), int(joint.dofadr[0])
    motor = model.actuator("FR_calf_joint").id
    data.qpos[qa] = -1.2
    data.qvel[va] = speed
    furthest = -np.inf
    for _ in range(steps):
        data.qpos[:7] = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # trunk held
        data.qvel[:6] = 0.0
        data.ctrl[:] = 0.0
        data.ctrl[motor] = torque
        mujoco.mj_step(model, data)
        furthest = max(furthest, float(data.qpos[qa]))
    return furthest, float(data.qpos[qa])


@pytest.mark.parametrize("speed", [10.0, 20.0])
def test_a_swing_into_the_calf_stop_stops_there(speed):
    """20 rad/s is the calf's velocity limit; the 1.1 x range trip sits 0.097 rad past the stop."""
    furthest, _ = _calf_into_stop(speed, torque=0.0)
    assert furthest - STOP < 0.05, f"a {speed} rad/s swing overshot the calf stop by {furthest - STOP:.3f} rad"


def test_full_torque_holds_the_calf_at_its_stop():
    _, held = _calf_into_stop(0.0, torque=35.55)  # the calf motor's effort limit
    assert held - STOP < 0.005, f"35.55 N.m held the calf {held - STOP:.4f} rad past its stop"
