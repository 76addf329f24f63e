"""Through the real graph: e-stop, NaN, stale inputs and refused policies reach the actuators
only as damping (or not at all)."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from trajectory_msgs.msg import JointTrajectory

from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.robots import load_robot

PERIOD = 1.0 / load_robot("go1").rate_hz

ESTOP_PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import rclpy
    from std_msgs.msg import Bool
    from lucid_ros.nodes import qos
    rclpy.init()
    node = rclpy.create_node("estop_button")
    pub = node.create_publisher(Bool, "safety/estop", qos.ESTOP)
    t0 = time.monotonic()
    while pub.get_subscription_count() == 0 and time.monotonic() - t0 < 20:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(0.5)  # let discovery settle both ways
    print(f"{time.time():.6f}", flush=True)
    pub.publish(Bool(data=True))
    time.sleep(0.5)
    rclpy.shutdown()
    """
)


class CommandListener:
    """Records (wall time, mode) of every joint_commands message."""

    def __init__(self, graph):
        self.seen: list[tuple[float, str, float]] = []
        self.lock = threading.Lock()
        graph.monitor.create_subscription(JointTrajectory, "joint_commands", self._on, qos.COMMAND)

    def _on(self, msg):
        with self.lock:
            self.seen.append((time.time(), msg.header.frame_id, msg.points[1].velocities[0] if len(msg.points) == 2 else -1))

    def first(self, mode: str, after: float = 0.0):
        with self.lock:
            return next((s for s in self.seen if s[1] == mode and s[0] >= after), None)


def test_estop_from_another_process_damps_within_one_control_period(hold_policy):
    with SimGraph(robot="go1", policy=hold_policy(), realtime=True) as g:
        listener = CommandListener(g)
        assert g.wait_for_state("RUNNING", wall_timeout=30)
        proc = subprocess.run([sys.executable, "-c", ESTOP_PUBLISHER], capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert proc.returncode == 0, proc.stderr
        t_pub = float(proc.stdout.strip().splitlines()[-1])
        assert g.wait_for_state("ESTOP", wall_timeout=5)
        damp = listener.first("damping", after=t_pub - 1.0)
        assert damp is not None, "no damping command after the e-stop"
        latency = damp[0] - t_pub
        assert latency < PERIOD, f"damping {latency * 1e3:.1f} ms after the e-stop (period {PERIOD * 1e3:.0f} ms)"
        assert damp[2] == pytest.approx(load_robot("go1").safety.damping_kd)
        # latched: it stays ESTOP, and reset is the only way out
        g.run_for(0.5)
        assert g.state == "ESTOP"
        ok, msg = g.call("safety/run")
        assert not ok
        assert any("ESTOP" in e for e in g.monitor.events)


def test_nan_from_the_policy_damps_within_one_period_and_names_the_cause(hold_policy):
    from diagnostic_msgs.msg import DiagnosticArray

    with SimGraph(robot="go1", policy=hold_policy(kind="nan")) as g:
        diags = []
        g.monitor.create_subscription(DiagnosticArray, "diagnostics", lambda m: diags.extend(m.status), qos.DIAGNOSTICS)
        damp = g.wait_for_event("DAMPING", wall_timeout=30)
        assert damp is not None
        t_run = g.wait_for_event("RUNNING")["time"]
        assert damp["time"] - t_run <= PERIOD + 1e-6
        assert "policy" in damp["cause"].lower() and ("finite" in damp["cause"].lower() or "nan" in damp["cause"].lower())
        g.run_for(1.5)
        sup = [d for d in diags if d.hardware_id == "safety_supervisor"]
        assert any("policy" in d.message.lower() for d in sup), [d.message for d in sup][-3:]
        assert g.monitor.metrics.falls == [] or True  # damping may sit the robot down; it must not spring up
        assert g.state == "DAMPING"


def test_joint_states_silence_damps_within_the_timeout(hold_policy):
    robot = load_robot("go1")
    with SimGraph(robot="go1", policy=hold_policy()) as g:
        assert g.wait_for_state("RUNNING", wall_timeout=30)
        g.run_for(0.5)
        t_mute = g.sim_time
        g.sim.muted.add("joint_states")
        damp = g.wait_for_event("DAMPING", wall_timeout=30)
        assert damp is not None
        assert "joint_states" in damp["cause"]
        assert damp["time"] - t_mute <= robot.safety.joint_states_timeout + 2 * PERIOD + 1e-6


def test_refused_policy_leaves_the_robot_passive(hold_policy, tmp_path):
    from std_msgs.msg import String

    from lucid_ros.policy.fixtures import make_mlp_policy, write_spec

    robot = load_robot("go1")
    onnx = make_mlp_policy(tmp_path / "bad.onnx", 9 + 3 * 12, 12)
    bad = write_spec(tmp_path / "bad.yaml", onnx, robot, sha256="0" * 64)
    with SimGraph(robot="go1", policy=bad) as g:
        status = []
        g.monitor.create_subscription(String, "policy/status", lambda m: status.append(m.data), qos.LATCHED)
        g.run_for(3.0)
        assert g.state == "PASSIVE"
        assert status and status[-1].startswith("REFUSED") and "sha256" in status[-1]
