"""`lucid-ros`: the command line. Exit status 0 success, 1 the run failed (fall, unexpected safety
trip, validation mismatch), 2 bad usage or configuration (the message names the file and field).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from lucid_ros.bringup import resolve_policy
from lucid_ros.errors import ConfigError, exit_status
from lucid_ros.hardware import BACKENDS
from lucid_ros.hardware.options import seed_arg

DEFAULT_ROBOT = "go1"
DEFAULT_COURSE = "flat"


def _cmd_vel(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cmd-vel expects VX,VY,WZ numbers, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"--cmd-vel expects three numbers VX,VY,WZ, got {text!r}")
    return parts  # type: ignore[return-value]


def _latency_ms_for(flag: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects milliseconds, got {text!r}") from None
        if not (value >= 0.0 and value < 10_000):
            raise argparse.ArgumentTypeError(f"{flag} expects 0 <= MS < 10000, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lucid-ros", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sim", help="run the whole node graph against MuJoCo, headless")
    s.add_argument("--robot", default=DEFAULT_ROBOT, help="robot description name or YAML path (default: go1)")
    s.add_argument("--policy", default=None, help="policy spec name or YAML path (default: the robot's shipped policy)")
    s.add_argument("--course", default=DEFAULT_COURSE, help="course name or YAML path (default: flat)")
    s.add_argument("--duration", type=float, default=None,
                   help="simulated seconds to run (default: 10; on a course, until its outcome is decided or the success table's time limit)")  # fmt: skip
    s.add_argument("--seed", type=seed_arg, default=0, help="course variant: 0 = the course as written, N >= 1 = variant N (default: 0)")
    s.add_argument("--cmd-vel", type=_cmd_vel, default=None, metavar="VX,VY,WZ", help="velocity command (default: 0.5,0,0 for a walking policy)")
    s.add_argument(
        "--start-pose",
        default=None,
        choices=("default", "crouch", "lying"),
        help="initial pose (default: lying for quadrupeds, which stand up through safety/stand; default for humanoids)",
    )
    s.add_argument("--no-auto", action="store_true", help="do not walk PASSIVE -> STANDING -> RUNNING; wait for the safety services")
    s.add_argument("--realtime", action="store_true", help="pace the sim to the wall clock")
    s.add_argument(
        "--camera-latency",
        type=_latency_ms_for("--camera-latency"),
        default=0.0,
        metavar="MS",
        help="hold every camera frame back MS ms of sim time after its capture (robustness to camera delay)",
    )
    s.add_argument(
        "--action-latency",
        type=_latency_ms_for("--action-latency"),
        default=0.0,
        metavar="MS",
        help="apply every joint command MS ms of sim time late, in whole physics steps (robustness to bus and driver delay)",
    )
    s.add_argument("--summary", type=Path, default=None, metavar="FILE.json", help="write the run summary as JSON")
    s.add_argument("--record", type=Path, default=None, metavar="FILE.mcap", help="record every topic to MCAP (rosbag2 profile: ros2 bag, Foxglove)")
    s.add_argument(
        "--black-box", type=float, default=None, metavar="SECONDS", help="keep the last SECONDS in memory; write them to a file when safety trips"
    )
    s.add_argument("--black-box-dir", type=Path, default=Path("blackbox"), metavar="DIR", help="where --black-box files go (default: ./blackbox)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")

    r = sub.add_parser("report", help="plots and an HTML page from a recording (--record, --black-box)")
    r.add_argument("recording", type=Path, metavar="RUN.mcap")
    r.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default: RUN_report beside the file)")

    c = sub.add_parser("check-policy", help="validate a policy (ONNX + spec) against a robot")
    c.add_argument("--robot", default=None, help="robot to check against (default: the spec's robot)")
    c.add_argument("policy", help="policy spec name or YAML path")

    for name, what in (("robot", "--backend"), ("fake-robot", "--protocol")):
        h = sub.add_parser(name, help=f"hardware bringup ({what} {' | '.join(BACKENDS)})")
        h.add_argument("--robot", default=DEFAULT_ROBOT)
        h.add_argument(what, dest="backend", required=True, choices=BACKENDS)
        from lucid_ros.hardware.options import add_arguments

        add_arguments(h, fake=name == "fake-robot")

    e = sub.add_parser("success-table", help="per-course success rates of policies over seeded course variants, through the whole graph")
    e.add_argument("--robot", default=DEFAULT_ROBOT)
    e.add_argument(
        "--policies",
        default=None,
        metavar="P[,P...]",
        help="policy names or spec paths, LABEL=P to name a column (default: the robot's shipped policy)",
    )
    e.add_argument("--courses", default="hurdle,gaps,stairs_up,stairs_down,parkour", metavar="C[,C...]")
    e.add_argument("--episodes", type=int, default=30, help="seeded variants per course and policy (default: 30)")
    e.add_argument("--first-seed", type=seed_arg, default=1, help="variants FIRST_SEED .. FIRST_SEED + EPISODES - 1 (default: 1)")
    e.add_argument("--cmd-vel", type=_cmd_vel, default=(0.5, 0.0, 0.0), metavar="VX,VY,WZ", help="forward command (default: 0.5,0,0)")
    e.add_argument("--camera-latency", default="0", metavar="MS[,MS...]", help="added camera latency, one table per value (default: 0)")
    e.add_argument("--out", type=Path, default=Path("success"), metavar="DIR", help="table.md and results.json go here (default: ./success)")
    e.add_argument("--jobs", type=int, default=1, help="episodes run in this many processes at once (default 1; one per core is the useful maximum)")
    e.add_argument(
        "--steer",
        choices=("track", "none"),
        default="track",
        help="track (default): an operator sets the yaw rate to keep the robot on the course's line (lucid_ros.evaluation.steer); "
        "none: the fixed --cmd-vel, so heading drift counts against the policy",
    )

    i = sub.add_parser("import-policy", help="convert a trainer's checkpoint into ONNX + a policy spec, proved equivalent, checked against the robot")
    i.add_argument("checkpoint", help="the file the trainer wrote (TorchScript motion.pt, model_<iter>.pt, ...)")
    i.add_argument("--from", dest="fmt", required=True, metavar="FORMAT", help="unitree_rl_gym | rsl_rl | extreme_parkour | lucidsim")
    i.add_argument("--robot", required=True, help="the robot the policy drives (its description must be shipped or a YAML path)")
    i.add_argument(
        "--config",
        default=None,
        metavar="TRAINER_CFG",
        help="the trainer's own config (scales, gains, default pose); absent: documented per-trainer defaults",
    )
    i.add_argument("--name", default=None, help="output name: NAME.onnx + NAME.yaml (default: ROBOT_FORMAT)")
    i.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="output folder (default: the current one)")
    i.add_argument("--steps", type=int, default=500, help="policy steps of the equivalence check (default: 500)")
    i.add_argument("--force", action="store_true", help="replace existing NAME.onnx / NAME.yaml")

    t = sub.add_parser("teleop", help="drive the robot: keyboard (this terminal) or a gamepad, to cmd_vel and the safety services")
    t.add_argument("--gamepad", default="", metavar="/dev/input/eventN", help="a gamepad's evdev device (default: the keyboard)")
    t.add_argument("--config", default="", metavar="YAML", help="key/button mapping (default: config/teleop/{keyboard,gamepad}.yaml)")
    t.add_argument("--rate", type=float, default=20.0, help="cmd_vel rate while commanding, Hz (default: 20)")
    t.add_argument("--take-over", dest="take_over", action="store_true",
                   help="take the operator lease from whoever holds it (default: refuse and name the holder)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sim":
            from lucid_ros.app.sim import run_sim

            return run_sim(args)
        if args.command == "report":
            from lucid_ros.report import make_report

            print(make_report(args.recording, args.out or args.recording.with_name(args.recording.stem + "_report")))
            return 0
        if args.command == "check-policy":
            return check_policy_cmd(args)
        if args.command == "success-table":
            from lucid_ros.app.success import run_success_table

            return run_success_table(args)
        if args.command == "import-policy":
            from lucid_ros.importers import cli as import_cli

            return import_cli(args)
        if args.command == "teleop":
            from lucid_ros.nodes.teleop import run as run_teleop

            return run_teleop(overrides={"device": args.gamepad, "config": args.config, "rate": args.rate, "take_over": args.take_over})
        from lucid_ros.app.robot import run_fake_robot, run_robot

        if args.command == "robot":  # before any rclpy context exists: the middleware reads it at init
            from lucid_ros.discovery import robot_discovery

            env, line = robot_discovery(args.expose, os.environ)
            os.environ.update(env)
            print(f"[lucid-ros robot] {line}", file=sys.stderr, flush=True)
        return run_robot(args) if args.command == "robot" else run_fake_robot(args)
    except (ConfigError, KeyboardInterrupt) as exc:
        return exit_status(exc, "lucid-ros")


def check_policy_cmd(args) -> int:
    from lucid_ros.policy.check import check_policy

    t0 = time.perf_counter()
    report = check_policy(resolve_policy(args.policy), args.robot)
    print(report.text())
    print(f"checked in {time.perf_counter() - t0:.2f} s")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
