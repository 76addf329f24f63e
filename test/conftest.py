"""Test-session isolation: a private DDS domain on loopback, headless rendering."""

import os
import random

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# A domain of our own, so concurrent test runs on one machine never hear each other.
os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid()).randint(1, 100))
