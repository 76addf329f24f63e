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
t0 = time.monotonic()
while pub.get_subscription_count() == 0 and time.monotonic() - t0 < 20.0:
    time.sleep(0.01)
print("matched", pub.get_subscription_count(), flush=True)
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    pub.publish(convert.command_msg(JointCommand.passive(robot.n_joints, time.time()), robot.joint_names))
    n += 1
    time.sleep(0.002)
print("sent", n, flush=True)
node.destroy_node()
rclpy.shutdown()
"""


@pytest.fixture
def rogue_commander():
    """start(robot, seconds) -> Popen of the rogue process (stdout: 'matched N', 'sent N'); killed at teardown."""
    import subprocess
    import sys

    procs = []

    def start(robot: str = "go1", seconds: float = 3.0):
        p = subprocess.Popen([sys.executable, "-c", ROGUE, robot, str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
