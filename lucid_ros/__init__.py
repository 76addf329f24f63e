"""lucid_ros: learned legged locomotion and visual parkour on ROS 2 robots and MuJoCo.

The core (everything outside `lucid_ros.nodes`) imports no rclpy: it takes arrays and
timestamps and returns arrays or decisions, so unit tests reach it in milliseconds.
"""

__version__ = "0.1.0"
