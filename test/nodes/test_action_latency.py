"""`lucid-ros sim --action-latency MS` (sim_bridge.action_latency): every joint command reaches the
simulated motors that much later, in whole physics steps, as a real robot's bus and driver delay
it; a robustness knob like --camera-latency. Refused by name when negative or absurd."""

import copy
import subprocess
import sys

import numpy as np
import pytest

from lucid_ros.errors import ConfigError

pytest.importorskip("rclpy")


def test_a_command_reaches_the_motors_the_latency_later():
    from lucid_ros.nodes.graph import SimGraph

    with SimGraph(robot="go1", policy="go1_walk", auto_sequence=False, overrides={"sim_bridge": {"action_latency": 0.02}}) as g:
        assert int(g.sim.sim.motor.latency_steps) == 10  # 20 ms at the Go1's 2 ms physics step
        # the bridge's motor as configured (a copy: the sim thread owns the live one): a target
        # change shows in the torque 10 physics steps on
        motor = copy.deepcopy(g.sim.sim.motor)
        n = g.sim.robot.n_joints
        q, dq, eff = np.zeros(n), np.zeros(n), np.full(n, 100.0)
        motor.reset()
        cmd = np.zeros((5, n))
        cmd[3] = 20.0  # kp
        taus = []
        for step in range(15):
            cmd[0] = 0.1 if step >= 2 else 0.0
            taus.append(motor.torque(q, dq, cmd, eff)[0])
        assert taus[11] == 0.0 and taus[12] == pytest.approx(2.0)


@pytest.mark.parametrize("value", [-0.01, 20.0])
def test_a_negative_or_absurd_action_latency_is_refused_by_name(value):
    from lucid_ros.nodes.graph import SimGraph

    with pytest.raises(ConfigError, match="action_latency"):
        with SimGraph(robot="go1", policy="go1_walk", auto_sequence=False, overrides={"sim_bridge": {"action_latency": value}}):
            pass


def test_the_cli_refuses_a_negative_action_latency():
    r = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "sim", "--action-latency", "-5"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--action-latency expects 0 <= MS < 10000" in r.stderr, r.stderr
