"""Test-session isolation: a private DDS domain on loopback, headless rendering."""

import os
import random

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# A domain of our own, so concurrent test runs on one machine never hear each other.
os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid()).randint(1, 100))


# A separate process on the test's DDS domain that publishes passive (zero-torque) joint_commands,
# QoS matched, at ~500 Hz: what issue 18 measured collapsing the robot. argv: robot, seconds.
# It starts ('ready'), waits until a subscriber matched ('matched N'), then for a line on stdin
# before it publishes: start it (and wait for `ready()`) before the graph, so its start-up (a
# Python interpreter and rclpy) does not starve the graph under test.
ROGUE = """
import sys, time
import rclpy
from rclpy.node import Node
from trajectory_msgs.msg import JointTrajectory
from lucid_ros.nodes import convert, qos
from lucid_ros.robots import load_robot
from lucid_ros.types import JointCommand

robot, seconds = load_robot(sys.argv[1]), float(sys.argv[2])
rclpy.init()
node = Node("rogue_commander")
pub = node.create_publisher(JointTrajectory, "joint_commands", qos.COMMAND)
print("ready", flush=True)
t0 = time.monotonic()
while pub.get_subscription_count() == 0 and time.monotonic() - t0 < 20.0:
    time.sleep(0.01)
print("matched", pub.get_subscription_count(), flush=True)
sys.stdin.readline()
msg = convert.command_msg(JointCommand.passive(robot.n_joints), robot.joint_names)
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    msg.header.stamp = convert.to_time(time.time())
    pub.publish(msg)
    n += 1
    time.sleep(0.002)
print("sent", n, flush=True)
node.destroy_node()
rclpy.shutdown()
"""


class Rogue:
    """The rogue_commander process: `ready()` once started, `matched()` once it hears a subscriber, `go()` starts the flood,
    `sent()` waits for the end and returns how many commands it published."""

    def __init__(self, robot: str, seconds: float):
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-c", ROGUE, robot, str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)  # fmt: skip
        self.out = ""

    def _line(self, word: str) -> bool:
        while word not in self.out and self.proc.poll() is None:
            self.out += self.proc.stdout.readline()
        return word in self.out

    def ready(self) -> bool:
        return self._line("ready")

    def matched(self) -> bool:
        return self._line("matched") and int(self.out.split("matched")[1].split()[0]) > 0

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def running(self) -> bool:
        return self.proc.poll() is None

    def sent(self, timeout: float = 30.0) -> int:
        out, _ = self.proc.communicate(timeout=timeout)
        self.out += out
        assert "sent" in self.out, self.out
        return int(self.out.split("sent")[-1])


@pytest.fixture
def rogue_commander():
    """start(robot, seconds) -> Rogue (started, waiting for a subscriber then for go()); killed at teardown."""
    rogues = []

    def start(robot: str = "go1", seconds: float = 3.0) -> Rogue:
        rogues.append(Rogue(robot, seconds))
        return rogues[-1]

    yield start
    for r in rogues:
        if r.proc.poll() is None:
            r.proc.kill()
        r.proc.wait(timeout=10)
