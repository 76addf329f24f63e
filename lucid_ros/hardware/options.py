"""Command-line options of `lucid-ros robot` / `lucid-ros fake-robot` (no rclpy: cli.py imports this)."""

from __future__ import annotations


def seed_arg(text: str) -> int:
    """--seed: a course variant (lucid_ros.sim.courses.randomize), >= 0."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed expects an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be >= 0 (0 = the course as written), got {value}")
    return value


def add_arguments(p, fake: bool) -> None:
    """Options for `robot` / `fake-robot` (cli.py builds the subparsers)."""
    if fake:
        p.add_argument("--course", default="flat")
        p.add_argument("--seed", type=seed_arg, default=0,
                       help="course variant, as `lucid-ros sim --seed` and the success table's seeds: 0 = the course as written (default: 0)")  # fmt: skip
        p.add_argument("--start-pose", default="lying", choices=("default", "crouch", "lying"))
        p.add_argument("--vendor-controller", action="store_true", help="simulate the vendor's controller still running (activation must refuse)")
        p.add_argument("--peer", default=None, metavar="HOST:PORT", help="go1_udp: stream LowState here before any command arrives")
        p.add_argument("--ground-truth", dest="ground_truth", default=None, metavar="FILE.csv",
                       help="write the simulated base's true pose and velocity (50 Hz) to FILE.csv when stopped")  # fmt: skip
        p.add_argument("--operator", default=None, choices=("track",),
                       help="track: play the person with the remote on --course: left stick forward at --operator-vx, right stick "
                            "steering back to the course's line (as `lucid-ros sim` steers); the driver relays the sticks as cmd_vel")  # fmt: skip
        p.add_argument(
            "--operator-vx",
            dest="operator_vx",
            type=float,
            default=0.5,
            metavar="M_S",
            help="--operator track: forward speed asked with the left stick (default 0.5 m/s)",
        )
        p.add_argument("--camera-port", dest="camera_port", type=int, default=None, metavar="PORT",
                       help="render the robot's camera and send its frames to 127.0.0.1:PORT (`lucid-ros robot --fake-camera PORT`); SIGHUP mutes/unmutes it")  # fmt: skip
        p.add_argument("--camera-mount", dest="camera_mount", default="ego", metavar="MOUNT",
                       help="--camera-port: which camera mount of the robot YAML to render (default ego; the policy's inputs.images[].camera)")  # fmt: skip
    else:
        p.add_argument("--policy", default=None)
        p.add_argument("--arm", action="store_true", help="send commands to the robot (default: dry-run, nothing is sent)")
        p.add_argument("--auto", action="store_true", help="walk PASSIVE -> STANDING -> RUNNING by itself (tests, fake robots)")
        p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
        p.add_argument("--expose", action="store_true",
                       help="let other machines on the network discover the graph (default: this host only, ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST; "
                            "ROS_STATIC_PEERS still reaches chosen laptops); see docs/security.md")  # fmt: skip
        p.add_argument("--host", default=None, help="go1_udp: robot address (default 192.168.123.10)")
        p.add_argument("--local-ip", dest="local_ip", default=None)
        p.add_argument("--local-port", dest="local_port", type=int, default=None)
        p.add_argument("--interface", default=None, help="unitree_sdk2: network interface for DDS (e.g. eth0)")
        p.add_argument(
            "--camera-serial", dest="camera_serial", default="", help="vision policies: the RealSense's serial (default: the only one connected)"
        )
        p.add_argument("--fake-camera", dest="fake_camera", type=int, default=None, metavar="PORT",
                       help="vision policies against a fake robot: its camera frames arrive on 127.0.0.1:PORT and open as a RealSense (software_device)")  # fmt: skip
    p.add_argument("--port", type=int, default=None, help="go1_udp: robot UDP port (default 8007)")
    p.add_argument("--domain-id", dest="domain_id", type=int, default=None, help="unitree_sdk2: DDS domain (the robot uses 0)")
    p.add_argument("--lcm-url", dest="lcm_url", default=None, help="mini_cheetah_lcm: LCM URL")
    p.add_argument("--flavor", default=None, choices=("go", "hg"),
                   help="unitree_sdk2: message layout, unitree_go (Go2, B2, H1) or unitree_hg (G1, H1-2); default from the robot's motor slots")  # fmt: skip
