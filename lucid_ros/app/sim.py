"""`lucid-ros sim`: validate everything, bring the graph up, run, summarise.

Validation happens before any node starts, so a bad robot, course or policy never gets as far as
a simulated actuator, and the message names the file and field.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from lucid_ros.bringup import default_policy, resolve_policy
from lucid_ros.health import percentiles_ms
from lucid_ros.nodes.episodes import CHECK_EVERY_S, episode_time_limit
from lucid_ros.robots import load_robot
from lucid_ros.safety.states import TRIPS, SafetyState
from lucid_ros.sim.courses import load_course
from lucid_ros.sim.outcome import judge

UNEXPECTED_STATES = TRIPS
STAND_TIME = 5.0  # sim s: a lying start stands up and is handed to the policy (2.5 s for Go1), with room


def _progress(graph, duration: float, t_start: float, wall_start: float) -> None:
    m = graph.monitor.metrics
    t = graph.sim_time - t_start
    wall = time.monotonic() - wall_start
    pos = m.pos[-1] if m.pos else None
    vel = m.vel_body[-1] if m.vel_body else None
    where = f"x={pos[0]:+.2f} y={pos[1]:+.2f} z={pos[2]:.3f} m" if pos is not None else ""
    speed = f"vx={vel[0]:+.2f} m/s wz={vel[2]:+.2f} rad/s" if vel is not None else ""
    rt = t / wall if wall > 0 else 0.0
    print(f"[lucid-ros sim] t={t:5.1f}/{duration:.0f} s  {graph.state:<9} {where}  {speed}  {rt:4.1f}x real time", file=sys.stderr, flush=True)


def run_sim(args) -> int:
    from lucid_ros.nodes.graph import SimGraph
    from lucid_ros.policy.check import check_policy

    robot = load_robot(args.robot)
    course = load_course(args.course)
    on_course = course.goal_x is not None  # a course with obstacles and a goal (not the open floor)
    policy = resolve_policy(args.policy or (course_policy(robot.name) if on_course else default_policy(robot.name)))
    report = check_policy(policy, robot.name)
    if not report.ok:
        print(report.text(), file=sys.stderr)
        return 1
    recorders = [{"mode": "full", "path": str(args.record)}] if args.record is not None else []
    if args.black_box is not None:
        recorders.append({"mode": "ring", "path": str(args.black_box_dir), "ring_seconds": float(args.black_box)})
    walking = _follows_commands(policy)
    cmd = args.cmd_vel if args.cmd_vel is not None else ((0.5, 0.0, 0.0) if walking else (0.0, 0.0, 0.0))
    # a course run without --cmd-vel drives as the success table's operator does: forward, steered
    # to the course's line (lucid_ros.evaluation.steer), so the robot reaches what it is there to cross
    steer = args.cmd_vel is None and walking and on_course
    # a course run without --duration runs until its outcome is decided, at most the table's limit
    until_decided = args.duration is None and on_course
    duration = (STAND_TIME + episode_time_limit(course, cmd[0])) if until_decided else (args.duration if args.duration is not None else 10.0)
    args.duration = duration
    quiet = args.quiet
    if not quiet:
        print(f"[lucid-ros sim] robot={robot.name} policy={policy.name} course={args.course} seed={args.seed} "
              f"cmd_vel={cmd}{' steered to the course line' if steer else ''} "
              f"duration={'until the course is decided, at most ' if until_decided else ''}{args.duration:g}s "
              f"{'realtime' if args.realtime else 'lockstep (as fast as the graph)'}", file=sys.stderr, flush=True)  # fmt: skip
    start_pose = args.start_pose or ("lying" if robot.kind == "quadruped" else "default")
    wall0 = time.monotonic()
    with SimGraph(
        robot=args.robot,
        policy=policy,
        course=args.course,
        seed=args.seed,
        realtime=args.realtime,
        start_pose=start_pose,
        auto_sequence=not args.no_auto,
        cmd_vel=cmd,
        recorders=recorders,
        overrides={"sim_bridge": {"camera_latency": args.camera_latency / 1000.0, "action_latency": args.action_latency / 1000.0}},
    ) as graph:
        if steer:
            from lucid_ros.evaluation.steer import TrackSteer

            graph.monitor.steer = TrackSteer.for_course(graph.sim.sim.course).wz  # the seeded variant the sim built
        t0 = 0.0  # the sim starts at 0 and the run ends at exactly `duration` of sim time (held there)
        graph.run_until(
            t0 + args.duration,
            wall_timeout=max(120.0, 30 * args.duration),
            progress=None if quiet else (lambda g: _progress(g, args.duration, t0, wall0)),
            stop_when=_course_decided(graph) if until_decided else None,
            check_every=CHECK_EVERY_S,
        )
        wall = time.monotonic() - wall0
        summary = build_summary(graph, args, policy, cmd, wall)
        summary["steering"] = "track" if steer else "none"
    print(format_summary(summary), flush=True)
    if args.summary is not None:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"summary written to {args.summary}", file=sys.stderr)
    return 1 if summary["failed"] else 0


def course_policy(robot: str) -> str:
    """The policy a course run gets by default: the robot's depth student (the shipped visual-parkour
    policy: it sees the obstacles) where there is one, else its default policy."""
    from lucid_ros import paths

    return f"{robot}_depth" if (paths.config_dir() / "policies" / f"{robot}_depth.yaml").exists() else default_policy(robot)


def _course_decided(graph):
    """stop_when for a course run: true once the outcome since RUNNING is decided (checked every 0.5 s of sim)."""
    from lucid_ros.nodes.episodes import CHECK_EVERY_S, DECIDED, judge_since

    last = [float("-inf")]

    def decided() -> bool:
        running = [t for t, s in list(graph.monitor.states) if s == SafetyState.RUNNING]
        if not running or graph.sim_time - last[0] < CHECK_EVERY_S - 1e-6:
            return False
        last[0] = graph.sim_time
        return judge_since(graph.monitor, graph.sim.sim.course, running[0]).status in DECIDED

    return decided


def _follows_commands(policy: Path) -> bool:
    """A policy that reads cmd_vel gets a walking command by default (an imported policy has no
    '_walk' in its name); the shipped stand policies (`<robot>_stand`, zeros out) get zero."""
    from lucid_ros.policy.spec import load_spec

    return not policy.stem.endswith("_stand") and any(t.name == "velocity_command" for t in load_spec(policy).observation.terms)


def build_summary(graph, args, policy: Path, cmd, wall: float) -> dict:
    sim = graph.sim
    lat = {k: (round(v, 3) if v == v else None) for k, v in percentiles_ms(sim.lockstep.latencies).items()}  # NaN -> null in JSON

    runner = graph.nodes["policy_runner"]
    out = {
        "robot": graph.robot.name,
        "policy": str(policy),
        "course": args.course,
        "seed": args.seed,
        "cmd_vel": list(cmd),
        "mode": "realtime" if args.realtime else "lockstep",
        "wall_time_s": round(wall, 3),
        **graph.monitor.metrics.summary(),
        "final_state": graph.state,
        "latency_ms": {"joint_states_to_joint_commands_p50": lat["p50_ms"], "joint_states_to_joint_commands_p99": lat["p99_ms"]},
        "deadline_misses": sim.lockstep.misses,
        "ticks": sim.lockstep.ticks,
        "policy_inference_ms": runner.inference.percentiles_ms(),
        **graph.trajectory,  # trajectory_sha256 and ticks_hashed: the same seed gives the same hash (lockstep)
    }
    course = sim.sim.course
    m = graph.monitor.metrics
    if course.goal_x is not None and m.t:  # informational: a course not crossed is not a failed run (exit status unchanged)
        n = min(len(m.t), len(m.pos), len(m.quat))
        o = judge(course, np.asarray(m.t[:n]), np.asarray(m.pos[:n]), np.asarray(m.quat[:n]))
        out["course_outcome"] = {"status": o.status, "distance_m": round(o.distance_m, 3), "obstacles_crossed": o.obstacles_crossed,
                                 "obstacles_total": o.obstacles_total, "reason": o.reason}  # fmt: skip
    unexpected = [e for e in out.get("safety_events", []) if e["state"] in UNEXPECTED_STATES]
    out["failed"] = bool(out.get("falls")) or bool(unexpected)
    out["failure_reasons"] = ([f"{out['falls']} fall(s)"] if out.get("falls") else []) + [
        f"{e['state']} at {e['time']} s: {e['cause']}" for e in unexpected
    ]
    return out


def format_summary(s: dict) -> str:
    lines = ["", "lucid-ros sim summary", "---------------------"]
    steered = " steered to the course line" if s.get("steering") == "track" else ""
    lines.append(f"robot {s['robot']}  policy {Path(s['policy']).name}  course {s['course']}  seed {s['seed']}  cmd_vel {s['cmd_vel']}{steered}")
    lines.append(f"simulated {s.get('sim_time_s', 0):.1f} s in {s['wall_time_s']:.1f} s wall ({s['mode']})")
    lines.append(f"final state {s['final_state']}; distance {s.get('distance_m', 0):.2f} m; base height {s.get('base_height_m', {})}")
    vt = s.get("velocity_tracking")
    if vt:
        lines.append(
            f"velocity: mean vx {vt['mean_vx']:+.3f} m/s (|err| {vt['mean_abs_error_vx']:.3f}), mean wz {vt['mean_wz']:+.3f} rad/s (|err| {vt['mean_abs_error_wz']:.3f})"
        )
    if "course_outcome" in s:
        o = s["course_outcome"]
        lines.append(f"course: {o['status']} ({o['obstacles_crossed']}/{o['obstacles_total']} obstacles, {o['distance_m']:.2f} m): {o['reason']}")
    lines.append(
        f"falls {s.get('falls', 0)}; safety events: "
        + (", ".join(f"{e['time']:.2f}s {e['state']}" + (f" ({e['cause']})" if e["cause"] else "") for e in s.get("safety_events", [])) or "none")
    )
    lat = s["latency_ms"]
    lines.append(
        f"joint_states -> joint_commands latency p50 {lat['joint_states_to_joint_commands_p50']} ms, p99 {lat['joint_states_to_joint_commands_p99']} ms; "
        f"deadline misses {s['deadline_misses']} of {s['ticks']} ticks"
    )
    inf = s["policy_inference_ms"]
    lines.append(f"policy inference p50 {inf.get('p50_ms', float('nan')):.3f} ms, p99 {inf.get('p99_ms', float('nan')):.3f} ms")
    lines.append("RESULT: " + ("FAILED: " + "; ".join(s["failure_reasons"]) if s["failed"] else "OK"))
    return "\n".join(lines)
