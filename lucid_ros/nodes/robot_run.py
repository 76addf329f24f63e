"""`lucid-ros robot` and `lucid-ros fake-robot`: the graph against hardware, without ros2 launch.

RobotGraph runs robot_driver + proprioception + policy_runner + safety_supervisor (+ camera for a
vision policy, lucid_ros.bringup) in one process, on the wall clock: the driver and the supervisor
(one process under ros2 launch) in an executor thread of their own, the rest in another. The supervisor never
sequences itself on a robot unless `auto=True` (`--auto`, for tests and rehearsals against a
fake robot); an operator calls safety/stand and safety/run (or uses the remote: L2+Y, L2+X).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

from geometry_msgs.msg import Twist
from std_msgs.msg import String

from lucid_ros.gcpause import freeze_heap
from lucid_ros.nodes import qos
from lucid_ros.nodes.authority import OperatorLease
from lucid_ros.nodes.common import GraphNode
from lucid_ros.nodes.inprocess import InProcessGraph, node_specs

NODE_NAMES = ("robot_driver", "proprioception", "policy_runner", "safety_supervisor")


class StateMonitor(GraphNode):
    """Records safety/state transitions (with wall times) and safety/event lines; calls services.
    With `cmd_vel` it also publishes that velocity command at 10 Hz (rehearsals against a fake robot).
    As `operator` it holds the operator lease (lucid_ros.safety.lease) so its commands and calls are
    obeyed: tests and `--auto` rehearsals, where this process is the only operator."""

    def __init__(self, cmd_vel: tuple[float, float, float] | None = None, operator: bool = True, **kwargs):
        super().__init__("robot_monitor", **kwargs)
        self.lease = OperatorLease(self) if operator else None
        self.state = "UNKNOWN"
        self.states: list[tuple[float, str]] = []
        self.events: list[str] = []
        self.cmd_vel = cmd_vel
        self.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)
        self.create_subscription(String, "safety/event", lambda m: self.events.append(m.data), qos.EVENTS)
        if cmd_vel is not None:
            self.cmd_pub = self.create_publisher(Twist, "cmd_vel", qos.STATE)
            self.create_timer(0.1, self._publish_cmd)

    def _publish_cmd(self) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in self.cmd_vel)
        self.cmd_pub.publish(msg)

    def _on_state(self, msg: String) -> None:
        self.state = msg.data
        self.states.append((time.monotonic(), msg.data))


def robot_values(robot: str, backend: str, policy: str | Path | None, arm: bool = False, auto: bool = False,
                 driver_options: dict[str, Any] | None = None, camera_serial: str = "", params_file: str | Path | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None):  # fmt: skip
    """RobotGraph's plan and each node's values: robot.launch.py's plan and files (test/test_launch_plan.py)."""
    from lucid_ros.bringup import node_values, params_files, robot_plan

    plan = robot_plan(robot, backend, str(policy) if policy else "", arm=arm, auto=auto, driver_options=driver_options, camera_serial=camera_serial)
    return plan, node_values(plan, robot, params_files(robot, params_file), overrides)


class RobotGraph(InProcessGraph):
    worker = "robot_driver"

    def __init__(self, robot: str = "go1", backend: str = "go1_udp", policy: str | Path | None = None, arm: bool = False,
                 auto: bool = False, driver_options: dict[str, Any] | None = None, params_file: str | Path | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None, cmd_vel: tuple[float, float, float] | None = None,
                 camera_serial: str = "", operator: bool = True):  # fmt: skip
        """Every node of the bring-up plan (lucid_ros.bringup.robot_plan) in this process: a vision
        policy adds the camera node (RealSense by `camera_serial`, empty = the only one connected)
        and the supervisor's camera watch. `operator`: this process's monitor takes the operator
        lease (its cmd_vel and service calls are obeyed); False leaves it to lucid-ros teleop."""
        from lucid_ros.bringup import process_of

        plan, values = robot_values(robot, backend, policy, arm, auto, driver_options, camera_serial, params_file, overrides)
        specs = node_specs(values, NODE_NAMES)
        # the plan's process of the driver and the supervisor spins in a thread of its own, as it is a
        # process of its own under ros2 launch: the 50 ms motor watchdog sees their tick, not the queue
        # behind the policy's callbacks (one shared executor: command gaps up to 54 ms on an idle machine)
        monitor = lambda context: StateMonitor(cmd_vel, operator=operator, context=context)  # noqa: E731
        self._bring_up(specs, monitor, own_threads=(process_of(plan, "robot_driver").names,))

    @property
    def driver(self):
        return self.nodes["robot_driver"].driver

    def wait_for(self, pred, timeout: float = 10.0) -> bool:
        return self.wait_until(pred, timeout)

    def wait_active(self, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda: self.driver.state == "active" or bool(self.driver.refusal), timeout) and self.driver.state == "active"


def driver_options(args) -> dict[str, Any]:
    out = {}
    for key in ("host", "port", "local_ip", "local_port", "domain_id", "interface", "lcm_url", "flavor"):
        v = getattr(args, key, None)
        if v is not None:
            out[key] = v
    return out


def run_robot(args) -> int:
    """Bring the graph up against a robot (or a fake robot); run until Ctrl-C or --duration."""
    from lucid_ros.bringup import default_policy
    from lucid_ros.cli import resolve_policy
    from lucid_ros.policy.check import check_policy
    from lucid_ros.robots import load_robot

    robot = load_robot(args.robot)
    policy = resolve_policy(args.policy or default_policy(robot.name))
    report = check_policy(policy, robot.name)
    if not report.ok:
        print(report.text(), file=sys.stderr)
        return 1
    say = lambda s: print(f"[lucid-ros robot] {s}", file=sys.stderr, flush=True)  # noqa: E731
    say(f"robot={robot.name} backend={args.backend} policy={policy.name} "
        f"{'ARMED: commands will be sent' if args.arm else 'dry-run: nothing is sent (--arm to send)'}")  # fmt: skip
    serial, overrides, fake_cam = getattr(args, "camera_serial", "") or "", {}, None
    if getattr(args, "fake_camera", None) is not None:  # a fake robot's camera: its frames into a software_device here
        from lucid_ros.hardware.fake_camera import FakeRealSense

        fake_cam = FakeRealSense(robot)
        fake_cam.listen(args.fake_camera)
        serial = fake_cam.serial
        overrides["camera"] = {"realsense.device_provider": fake_cam.register("fake")}
    # --auto rehearsals drive themselves (this process is the operator); otherwise lucid-ros teleop takes the lease
    graph = RobotGraph(robot.name, args.backend, policy, arm=args.arm, auto=args.auto, driver_options=driver_options(args), camera_serial=serial,
                       overrides=overrides, operator=args.auto)  # fmt: skip
    with graph as g:
        if not g.wait_active(timeout=15.0):
            say(f"driver not active: {g.driver.refusal or g.driver.health().message}")
            if args.arm:
                return 1
        say(f"driver {g.driver.state}; safety state {g.state}; call safety/stand and safety/run (or remote L2+Y, L2+X)")
        t0 = time.monotonic()
        last = ""
        try:
            while args.duration is None or time.monotonic() - t0 < args.duration:
                time.sleep(0.5)
                h = g.driver.health()
                line = f"{g.state:<9} driver {h.level}: {h.message}"
                if line != last:
                    say(line)
                    last = line
        except KeyboardInterrupt:
            say("interrupted: damping and stopping")
        say(g.gc_pauses.summary())
    if fake_cam is not None:
        fake_cam.close()
    return 0


def run_fake_robot(args) -> int:
    """Serve a MuJoCo robot behind the backend's wire protocol on loopback until Ctrl-C.

    SIGUSR1 toggles mute (the robot goes silent); SIGUSR2 holds L2+B on the remote for 0.3 s
    (the e-stop combination); with --camera-port, SIGHUP toggles the camera's frames (a stalled or
    unplugged camera), for rehearsing those paths.
    """
    from lucid_ros.hardware import make_fake_robot
    from lucid_ros.robots import load_robot

    robot = load_robot(args.robot)
    opts: dict[str, Any] = {"start_pose": args.start_pose, "vendor_controller": args.vendor_controller, "course": args.course,
                            "ground_truth_path": args.ground_truth}  # fmt: skip
    if args.backend == "go1_udp":
        opts["port"] = args.port if args.port is not None else 8007
        if args.peer:
            host, _, port = args.peer.rpartition(":")
            opts["peer"] = (host or "127.0.0.1", int(port))
    elif args.backend == "unitree_sdk2":
        opts["domain_id"] = args.domain_id if args.domain_id is not None else 0
        if args.flavor:
            opts["flavor"] = args.flavor
    elif args.backend == "mini_cheetah_lcm" and args.lcm_url:
        opts["lcm_url"] = args.lcm_url
    fake = make_fake_robot(args.backend, robot, **opts)
    if getattr(args, "camera_port", None) is not None:
        from lucid_ros.hardware.fake_camera import attach_fake_camera

        cam = attach_fake_camera(fake, args.camera_port)
        signal.signal(signal.SIGHUP, lambda *_: cam.mute(not cam.muted))
    signal.signal(signal.SIGUSR1, lambda *_: fake.mute(not fake.muted))
    signal.signal(signal.SIGUSR2, lambda *_: fake.press(("L2", "B"), 0.3))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    freeze_heap()  # a stalled fake is a stale robot to the stack under test (gcpause)
    print(f"[fake-robot {args.backend}] {robot.name} ready ({_where(fake)}); start pose {args.start_pose}", file=sys.stderr, flush=True)
    fake.run_forever()
    return 0


def _where(fake) -> str:
    for attr in ("addr", "endpoint"):
        if hasattr(fake, attr):
            return f"{attr} {getattr(fake, attr)}"
    return "loopback"
