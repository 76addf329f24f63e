"""Issue 18, operator authority, through the whole sim graph with the lease enforced as on a robot:
cmd_vel and stand/run/reset from one operator at a time (lucid_ros.safety.lease); a second
operator's cmd_vel is ignored and named, a silent holder loses the lease and the velocity drops
to zero within 0.6 s, and the e-stop is taken from anyone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np

from lucid_ros.nodes.authority import OperatorLease
from lucid_ros.nodes.graph import SimGraph

ENFORCED = {"safety_supervisor": {"require_lease": True}, "policy_runner": {"require_lease": True}}

SECOND_OPERATOR = textwrap.dedent(
    """
    import sys, time
    import rclpy
    from geometry_msgs.msg import Twist
    from std_msgs.msg import Bool
    from std_srvs.srv import Trigger
    from lucid_ros.nodes import qos
    rclpy.init()
    node = rclpy.create_node("second_operator")
    pub = node.create_publisher(Twist, "cmd_vel", qos.STATE)
    estop = node.create_publisher(Bool, "safety/estop", qos.ESTOP)
    run = node.create_client(Trigger, "safety/run")
    t0 = time.monotonic()
    while pub.get_subscription_count() == 0 and time.monotonic() - t0 < 20:
        rclpy.spin_once(node, timeout_sec=0.05)
    msg = Twist()
    msg.linear.x = 1.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < float(sys.argv[1]):  # cmd_vel without the lease
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.05)
    print("sent", flush=True)
    run.wait_for_service(timeout_sec=10)
    future = run.call_async(Trigger.Request())
    rclpy.spin_until_future_complete(node, future, timeout_sec=10)
    print("run:", future.result().success, future.result().message, flush=True)
    for _ in range(3):
        estop.publish(Bool(data=True))
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(0.5)
    print("estop sent", flush=True)
    rclpy.shutdown()
    """
)


def mean_vx(g, seconds: float) -> float:
    t0 = g.sim_time
    g.run_for(seconds)
    m = g.monitor.metrics
    t, v = np.array(m.t), np.array(m.vel_body)[:, 0]
    return float(v[t > t0].mean())


def test_one_operator_drives_a_second_is_ignored_a_silent_one_loses_it_and_anyone_can_estop():
    with SimGraph(robot="go1", policy="go1_walk", cmd_vel=(0.5, 0.0, 0.0), overrides=ENFORCED) as g:
        runner, sup = g.nodes["policy_runner"], g.nodes["safety_supervisor"]
        assert g.wait_for_state("RUNNING", wall_timeout=60)
        # no lease: the monitor's cmd_vel is not obeyed
        assert mean_vx(g, 1.5) < 0.1
        assert "no operator holds the lease" in runner.lease_refusal

        lease = OperatorLease(g.monitor)  # the monitor becomes the operator
        assert g.wait_until(lambda: lease.granted is True and sup.lease.holder == "/run_monitor", 10)
        g.run_for(1.0)
        assert mean_vx(g, 2.0) > 0.35

        proc = subprocess.Popen([sys.executable, "-c", SECOND_OPERATOR, "2.0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ))  # fmt: skip
        assert g.wait_until(lambda: "/second_operator" in runner.lease_refusal, 30), runner.lease_refusal
        assert np.allclose(runner.command, 0.0)  # neither operator's velocity while one intrudes
        out, _ = proc.communicate(timeout=60)
        assert "run: False safety/run refused:" in out and "/second_operator" in out, out  # its service call too
        assert g.wait_for_state("ESTOP", wall_timeout=10), g.monitor.events  # but its e-stop is obeyed
        events = list(g.monitor.events)
        assert any("operator lease" in e and "/second_operator" in e for e in events), events

        # the holder goes silent: lease lost and velocity zero within 0.6 s of the last renewal
        lease.timer.cancel()
        t_silent = time.monotonic()
        assert g.wait_until(lambda: sup.lease.holder is None and runner.lease.holder is None, 2.0)
        assert time.monotonic() - t_silent < 0.6 + 0.1  # + one renewal period: the last renewal may predate the cancel
        assert np.allclose(runner.command, 0.0)
        assert g.wait_until(lambda: any("lease lost by /run_monitor" in e for e in g.monitor.events), 5), g.monitor.events


def test_a_second_teleop_is_refused_naming_the_holder():
    with SimGraph(robot="go1", policy="go1_stand", overrides=ENFORCED, auto_sequence=False) as g:
        lease = OperatorLease(g.monitor)
        assert g.wait_until(lambda: lease.granted is True, 20)
        p = subprocess.run([sys.executable, "-m", "lucid_ros.cli", "teleop", "--gamepad", "/dev/stdin"], input=b"", capture_output=True,
                           timeout=60, env=dict(os.environ))  # fmt: skip
        err = p.stderr.decode()
        assert p.returncode == 1 and "held by /run_monitor" in err and "--take-over" in err, (p.returncode, err)
        assert g.nodes["safety_supervisor"].lease.holder == "/run_monitor"
