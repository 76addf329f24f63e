"""`lucid-ros success-table`: seeded course episodes per policy, a markdown table, JSON for scripts."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.evaluation.jumps import evidence_table
from lucid_ros.evaluation.table import Episode, by_difficulty, failures, markdown, to_json
from lucid_ros.nodes.episodes import DomainShared, run_table
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots import load_robot
from lucid_ros.sim.courses import load_course


def parse_policies(text: str | None, robot: str) -> list[tuple[str, str]]:
    """'go1_walk,teacher=path/to/t.yaml' -> [(label, spec path)]; each spec loads against the robot
    now, so a typo fails before an hour of episodes, not in the middle."""
    from lucid_ros.bringup import default_policy

    items = [x.strip() for x in (text or default_policy(robot)).split(",") if x.strip()]
    out = []
    rob = load_robot(robot)
    for item in items:
        label, _, ref = item.rpartition("=")
        path = paths.resolve("policies", ref)
        load_spec(path, rob)
        out.append((label or Path(ref).stem, str(path)))
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        raise ConfigError(None, "--policies", f"two columns have the same label: {labels}; name them LABEL=POLICY")
    return out


def run_success_table(args) -> int:
    policies = parse_policies(args.policies, args.robot)
    courses = [c.strip() for c in args.courses.split(",") if c.strip()]
    for c in courses:
        load_course(c)
    try:
        latencies = [float(x) for x in args.camera_latency.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(None, "--camera-latency", f"expected MS[,MS...], got {args.camera_latency!r}") from None
    if args.jobs < 1:
        raise ConfigError(None, "--jobs", f"expected at least 1 worker process, got {args.jobs}")
    if args.episodes < 1 or not latencies or min(latencies) < 0:
        raise ConfigError(None, "--episodes/--camera-latency", "need at least one episode and latencies >= 0")
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    n = len(latencies) * len(courses) * len(policies) * len(seeds)
    print(f"[success-table] {len(courses)} course(s) x {len(policies)} policy(ies) x {len(seeds)} seed(s) x {len(latencies)} latency(ies) "
          f"= {n} episodes through the whole graph", file=sys.stderr, flush=True)  # fmt: skip
    t0 = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "episodes.jsonl"  # every episode as it finishes: an hour of runs survives a crash or Ctrl-C
    log.write_text("")

    def progress(ep: Episode, k: int, total: int) -> None:
        with log.open("a") as f:
            f.write(json.dumps(dataclasses.asdict(ep)) + "\n")
        eta = (time.monotonic() - t0) / k * (total - k)
        print(f"[{k}/{total}] {ep.course:<12} {ep.policy:<16} seed {ep.seed:<3} {ep.status:<10} {ep.distance_m:5.1f} m "
              f"{ep.obstacles_crossed}/{ep.obstacles_total} obstacles ({ep.wall_s:.0f} s; ~{eta / 60:.0f} min left)  {ep.reason}",
              file=sys.stderr, flush=True)  # fmt: skip

    try:
        episodes = run_table(args.robot, policies, courses, seeds, tuple(args.cmd_vel), latencies, progress, jobs=args.jobs,
                             steer=args.steer == "track")  # fmt: skip
    except DomainShared as exc:
        print(f"success-table: stopped: {exc}. The episodes finished so far are in {log}", file=sys.stderr)
        return 1
    labels = [lab for lab, _ in policies]
    parts = []
    for lat in latencies:
        eps = [e for e in episodes if e.camera_latency_ms == lat]
        cmd = f"vx {args.cmd_vel[0]:g} m/s steered to the course line" if args.steer == "track" else f"cmd_vel {tuple(args.cmd_vel)}"
        head = f"Success rate, {len(seeds)} seeded variants per course (seeds {seeds[0]}-{seeds[-1]}), {cmd}"
        body = "\n\n".join(
            x
            for x in (
                markdown(eps, courses, labels),
                failures(eps, courses, labels),
                by_difficulty(eps, courses, labels),
                evidence_table(eps, courses, labels),
            )
            if x
        )
        parts.append(f"{head}, added camera latency {lat:g} ms\n\n{body}")
    text = "\n\n".join(parts) + "\n"
    (out / "table.md").write_text(text)
    (out / "results.json").write_text(json.dumps(to_json(episodes), indent=1))
    print(text)
    print(f"wrote {out / 'table.md'} and {out / 'results.json'} ({(time.monotonic() - t0) / 60:.1f} min)", file=sys.stderr)
    return 0
