"""The teleop node on the real graph, fed input_event bytes from a pipe as a gamepad would write
them: stand through safety/stand, cmd_vel only with the dead-man held, and a pulled pad damping
the robot."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from geometry_msgs.msg import Twist

from lucid_ros.nodes import qos
from lucid_ros.nodes.common import parameters
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.nodes.teleop import TeleopNode
from lucid_ros.policy.fixtures import make_mlp_policy, write_spec
from lucid_ros.robots import load_robot
from lucid_ros.teleop.evdev import ABS_CODES, EV_ABS, EV_KEY, EV_SYN, KEY_CODES, SYN_REPORT, pack

SYN = pack(EV_SYN, SYN_REPORT, 0)


def key(name, value):
    return pack(EV_KEY, KEY_CODES[name], value) + SYN


def test_gamepad_stands_the_robot_drives_cmd_vel_with_the_deadman_and_a_pulled_pad_damps(tmp_path):
    robot = load_robot("go1")
    onnx = make_mlp_policy(tmp_path / "hold.onnx", 9 + 3 * robot.n_joints, robot.n_joints, kind="zeros")
    policy = write_spec(tmp_path / "hold.yaml", onnx, robot)
    r, w = os.pipe()
    with SimGraph(robot="go1", policy=policy, auto_sequence=False) as g:
        teleop = TeleopNode(context=g.context, parameter_overrides=parameters({"device": f"/proc/self/fd/{r}", "rate": 50.0}))
        os.close(r)
        g.executor.add_node(teleop)
        seen: list[tuple[float, float, float]] = []
        lock = threading.Lock()

        def on_cmd(m: Twist) -> None:
            with lock:
                seen.append((m.linear.x, m.linear.y, m.angular.z))

        g.monitor.set_cmd(0.0, 0.0, 0.0)
        g.monitor.create_subscription(Twist, "cmd_vel", on_cmd, qos.STATE)
        try:
            # the supervisor grants the operator lease; the clients exist only then
            assert g.wait_until(lambda: teleop.safety_clients and all(c.service_is_ready() for c in teleop.safety_clients.values()), 10)
            os.write(w, key("BTN_SOUTH", 1) + key("BTN_SOUTH", 0))  # stand without the dead-man: ignored
            g.run_for(0.3, wall_timeout=10)
            assert g.state == "PASSIVE"
            os.write(w, key("BTN_TL", 1) + key("BTN_SOUTH", 1) + key("BTN_SOUTH", 0))
            assert g.wait_for_state("STANDING", wall_timeout=10), g.monitor.events

            os.write(w, pack(EV_ABS, ABS_CODES["ABS_Y"], -32768) + SYN)  # full forward, dead-man held
            assert g.wait_until(lambda: any(abs(c[0] - 0.8) < 1e-6 for c in seen), 5), seen[-5:]
            os.write(w, key("BTN_TL", 0))  # let go: zero at once, stick still forward
            with lock:
                n = len(seen)
            assert g.wait_until(lambda: len(seen) > n and seen[-1] == (0.0, 0.0, 0.0), 5)

            os.close(w)  # the pad is pulled out
            w = -1
            assert g.wait_for_state("DAMPING", wall_timeout=10), g.monitor.events
            assert any("damp" in e for e in g.monitor.events), g.monitor.events
        finally:
            if w >= 0:
                os.close(w)
            g.executor.remove_node(teleop)
            teleop.destroy_node()


def test_cli_teleop_refuses_a_missing_device_and_a_bad_mapping_by_name(tmp_path):
    bad = tmp_path / "pad.yaml"
    bad.write_text("deadman: BTN_NOPE\naxes: {}\nbuttons: {}\n")
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    for argv, needle in (
        (["--gamepad", "/dev/input/no_such_event"], "/dev/input/no_such_event"),
        (["--gamepad", "/dev/null", "--config", str(bad)], "deadman"),
    ):
        p = subprocess.run(
            [sys.executable, "-m", "lucid_ros.cli", "teleop", *argv], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
        )
        assert p.returncode == 2 and needle in p.stderr, (p.returncode, p.stderr)
