"""`lucid-ros robot` and `lucid-ros fake-robot`: the graph against hardware (or a fake robot), without ros2 launch.

RobotGraph (lucid_ros.nodes.robot_run) runs the bring-up plan's nodes in this process, on the wall
clock; the supervisor never sequences itself on a robot unless `--auto` (tests and rehearsals
against a fake robot); an operator calls safety/stand and safety/run (or uses the remote: L2+Y, L2+X).
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from lucid_ros.gcpause import freeze_heap
from lucid_ros.nodes.robot_run import RobotGraph


def driver_options(args) -> dict[str, Any]:
    out = {}
    for key in ("host", "port", "local_ip", "local_port", "domain_id", "interface", "lcm_url", "flavor"):
        v = getattr(args, key, None)
        if v is not None:
            out[key] = v
    return out


def run_robot(args) -> int:
    """Bring the graph up against a robot (or a fake robot); run until Ctrl-C or --duration."""
    from lucid_ros.bringup import default_policy, resolve_policy
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
        from lucid_ros.policy.spec import load_spec

        fake_cam = FakeRealSense(robot, load_spec(policy, robot).camera or "ego")  # the mount the camera node serves this policy
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
        say(g.stalls.summary())
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
    mount = getattr(args, "camera_mount", "ego")
    if getattr(args, "camera_port", None) is not None and mount not in robot.cameras:
        print(f"lucid-ros fake-robot: --camera-mount: robot '{robot.name}' has no camera '{mount}' (cameras: {sorted(robot.cameras)})", file=sys.stderr)
        return 2
    opts = fake_robot_options(args)
    fake = make_fake_robot(args.backend, robot, **opts)
    if getattr(args, "camera_port", None) is not None:
        from lucid_ros.hardware.fake_camera import attach_fake_camera

        cam = attach_fake_camera(fake, args.camera_port, mount)
        signal.signal(signal.SIGHUP, lambda *_: cam.mute(not cam.muted))
    signal.signal(signal.SIGUSR1, lambda *_: fake.mute(not fake.muted))
    signal.signal(signal.SIGUSR2, lambda *_: fake.press(("L2", "B"), 0.3))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    freeze_heap()  # a stalled fake is a stale robot to the stack under test (gcpause)
    print(f"[fake-robot {args.backend}] {robot.name} ready ({_where(fake)}); start pose {args.start_pose}", file=sys.stderr, flush=True)
    fake.run_forever()
    return 0


def fake_robot_options(args) -> dict[str, Any]:
    """make_fake_robot's keyword options from `lucid-ros fake-robot`'s arguments."""
    opts: dict[str, Any] = {"start_pose": args.start_pose, "vendor_controller": args.vendor_controller, "course": args.course,
                            "seed": args.seed, "ground_truth_path": args.ground_truth, "operator": args.operator, "operator_vx": args.operator_vx}  # fmt: skip
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
    return opts


def _where(fake) -> str:
    for attr in ("addr", "endpoint"):
        if hasattr(fake, attr):
            return f"{attr} {getattr(fake, attr)}"
    return "loopback"
