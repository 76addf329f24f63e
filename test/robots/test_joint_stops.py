"""Every shipped robot model's joint stops hold as mechanical stops do.

Under MuJoCo's default limit softness (time constant 0.02 s) a leg swinging into its stop at
20 rad/s went 0.12-0.14 rad past it on every model (the overshoot scales with speed, not mass),
and a Go1 calf held there by 35 N.m sat 0.06 rad past: angles no robot reaches, which the
supervisor reads as a joint beyond 1.1 x its range and damps the robot (it ended table episodes
that a robot would have finished). Here the base is held still in zero gravity and one knee is
driven into its stop, as a landing or a swing drives it.
"""

from __future__ import annotations

import re

import mujoco
import numpy as np
import pytest

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import load_robot

KNEES = {"go1": "FR_calf_joint", "go2": "FR_calf_joint", "mini_cheetah": "FR_calf_joint", "h1": "left_knee_joint", "g1": "left_knee_joint"}  # fmt: skip


def _knee_into_stop(name: str, speed: float, torque: float, steps: int = 200) -> tuple[float, float]:
    """Swing the robot's knee at `speed` rad/s toward its upper stop with `torque` N.m on its motor.

    Returns (the furthest it got past the stop, how far past it sits after `steps` physics steps), rad."""
    model = mujoco.MjModel.from_xml_path(str(load_robot(name).mjcf_path))
    model.opt.gravity[:] = 0.0
    data = mujoco.MjData(model)
    joint = model.joint(KNEES[name])
    qa, va = int(joint.qposadr[0]), int(joint.dofadr[0])
    stop = float(model.jnt_range[joint.id][1])
    motor = model.actuator(KNEES[name]).id
    data.qpos[qa] = stop - 0.3
    data.qvel[va] = speed
    furthest = -np.inf
    for _ in range(steps):
        data.qpos[:7] = [0.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0]  # base held
        data.qvel[:6] = 0.0
        data.ctrl[:] = 0.0
        data.ctrl[motor] = torque
        mujoco.mj_step(model, data)
        furthest = max(furthest, float(data.qpos[qa]))
    return furthest - stop, float(data.qpos[qa]) - stop


@pytest.mark.parametrize("name", sorted(KNEES))
def test_every_hinge_has_the_stiff_stop(name):
    model = mujoco.MjModel.from_xml_path(str(load_robot(name).mjcf_path))
    hinges = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
    soft = [model.joint(j).name for j in hinges if model.jnt_solref[j][0] > 2 * model.opt.timestep + 1e-9]
    assert not soft, f"{name}: joints with MuJoCo's soft default stop: {soft}"


@pytest.mark.parametrize("name", sorted(KNEES))
@pytest.mark.parametrize("speed", [10.0, 20.0])
def test_a_swing_into_the_knee_stop_stops_there(name, speed):
    """20 rad/s is about a Go1 calf's velocity limit; the 1.1 x range trip sits 0.097 rad past a Go1 calf's stop."""
    over, _ = _knee_into_stop(name, speed, torque=0.0)
    assert over < 0.05, f"{name}: a {speed} rad/s swing overshot the knee stop by {over:.3f} rad"


def test_full_torque_holds_the_go1_calf_at_its_stop():
    _, held = _knee_into_stop("go1", 0.0, torque=35.55)  # the calf motor's effort limit
    assert held < 0.005, f"35.55 N.m held the calf {held:.4f} rad past its stop"


def test_a_model_with_soft_stops_is_refused_naming_the_joint_and_the_fix(tmp_path):
    """A robot brought from elsewhere (MuJoCo's default stops) is refused before anything runs."""
    for f in ("go1.urdf", "go1.xml"):
        text = (paths.urdf_dir() / f).read_text()
        if f.endswith(".xml"):
            text, n = re.subn(r' solreflimit="[^"]*"', "", text)
            assert n == 1
        (tmp_path / f).write_text(text)
    (tmp_path / "go1.yaml").write_text((paths.config_dir() / "robots" / "go1.yaml").read_text())
    with pytest.raises(ConfigError) as err:
        load_robot(tmp_path / "go1.yaml")
    assert err.value.field == "joint FR_hip_joint" and 'solreflimit="0.004 1"' in err.value.message
