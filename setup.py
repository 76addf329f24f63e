"""ament_python package: builds with colcon on a ROS 2 install, or with pip on a machine without ROS.

`pip install -e '.[standalone]'` brings ROS 2 Jazzy's Python core from its PyPI wheels;
on a robot with a ROS install, colcon uses the distro's rclpy and messages instead.
"""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "lucid_ros"


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """Every file below `folder`, grouped by directory, as data_files entries under share/."""
    entries = []
    for root, _dirs, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.endswith((".pyc", "~"))]
        if paths:
            entries.append((os.path.join("share", PACKAGE, root), paths))
    return entries


ROS_WHEELS = [
    "ros-jazzy-rclpy[fastrtps]",
    "ros-jazzy-std-msgs",
    "ros-jazzy-std-srvs",
    "ros-jazzy-sensor-msgs",
    "ros-jazzy-geometry-msgs",
    "ros-jazzy-nav-msgs",
    "ros-jazzy-trajectory-msgs",
    "ros-jazzy-diagnostic-msgs",
    "ros-jazzy-visualization-msgs",
    "ros-jazzy-rosgraph-msgs",
]

CORE = ["numpy>=1.24", "pyyaml>=6", "mujoco>=3.2", "onnxruntime>=1.17"]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        *tree("config"),
        *tree("urdf"),
    ],
    install_requires=CORE,
    extras_require={
        # Everything the sim graph needs on a machine with no ROS install; mcap for the flight
        # recorder (lucid_ros/recording: `lucid-ros sim --record`, Writer.flush needs mcap 1.6).
        "standalone": ROS_WHEELS + ["mcap>=1.6", "mcap-ros2-support>=0.5"],
        # `lucid-ros report RUN.mcap`: read a recording back and plot it (no ROS needed).
        "report": ["mcap>=1.6", "mcap-ros2-support>=0.5", "matplotlib>=3.7"],
        # Test tools: pytest, onnx to build policy fixtures, rosbags as an independent MCAP reader,
        # matplotlib for the report tests.
        # The Go1 vendor binding and lcm let the hardware tests cross-check our wire codecs.
        "test": ["pytest>=7", "pytest-timeout", "onnx>=1.15", "rosbags>=0.10", "matplotlib>=3.7", "lcm>=1.5",
                 "unitree-legged-sdk; platform_machine == 'x86_64' and python_version == '3.11'",
                 # librealsense's software_device lets the RealSense source be tested with injected frames.
                 "pyrealsense2; platform_machine == 'x86_64'"],
        # Training tools only: torch stays out of the runtime install.
        "train": ["torch==2.13.0", "onnx>=1.15", "matplotlib"],
        # `lucid-ros import-policy`: reads trainers' checkpoints with torch (CPU); the runtime stays torch-free.
        "import": ["torch==2.13.0", "onnx>=1.15", "pyyaml>=6"],
        # Hardware backends (lucid_ros/hardware; docs/hardware.md).
        "go1": ["unitree-legged-sdk"],  # vendor binding: only for cross-checking our Go1 codec
        "lcm": ["lcm>=1.5"],
        "dds": ["cyclonedds==0.10.2"],  # builds from source: docker/build_cyclonedds.sh
        "realsense": ["pyrealsense2"],  # Intel RealSense cameras (lucid_ros/vision/realsense.py)
    },
    python_requires=">=3.10",
    zip_safe=False,
    maintainer="lucid_ros maintainers",
    description="Learned legged-locomotion and visual-parkour policies on ROS 2 robots and MuJoCo.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "lucid-ros = lucid_ros.cli:main",
            "sim_bridge = lucid_ros.nodes.sim_bridge:main",
            "proprioception = lucid_ros.nodes.proprioception:main",
            "policy_runner = lucid_ros.nodes.policy_runner:main",
            "camera = lucid_ros.nodes.camera:main",
            "vision_policy = lucid_ros.nodes.vision_policy:main",
            "safety_supervisor = lucid_ros.nodes.safety_supervisor:main",
            "robot_driver = lucid_ros.nodes.robot_driver:main",
            "monitor = lucid_ros.nodes.monitor:main",
            "teleop = lucid_ros.nodes.teleop:main",
        ],
    },
)
