"""Robot descriptions: config/robots/<robot>.yaml validated against its URDF and MuJoCo model."""

from lucid_ros.robots.description import CameraMount, CameraStream, JointSpec, RobotDescription, SafetyLimits, load_robot

__all__ = ["CameraMount", "CameraStream", "JointSpec", "RobotDescription", "SafetyLimits", "load_robot"]
