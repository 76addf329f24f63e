"""Push recovery through the whole graph: seeded lateral shoves while the robot walks.

`python -m lucid_ros.evaluation.pushes --robot h1 --policy P --forces 50,100 --pushes 10`

Each push is its own episode (a fresh SimGraph, lockstep, the robot's full start-up: hoist for a
humanoid, stand-up for a quadruped), so one fall never hides the next push's outcome: the robot
walks at `--cmd-vel` for `--settle` s of RUNNING, then a horizontal force of the given size acts
on its base for `--duration` s, pointing left or right with a seeded random deviation of up to
±30° from lateral, at a seeded moment of the gait cycle; it survives when it has not fallen (the
ground-truth fall detector) and the supervisor is still RUNNING `--after` s later. Every episode
runs in sim time: the same seed gives the same push on any machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lucid_ros.safety.states import SafetyState


@dataclass(frozen=True)
class Push:
    seed: int
    force: float  # N
    direction_deg: float  # in the horizontal plane of the world, 90 = +y (left of a robot facing +x)
    delay: float  # s after the settle time, a fraction of a gait cycle

    def vector(self) -> np.ndarray:
        a = np.radians(self.direction_deg)
        return np.array([self.force * np.cos(a), self.force * np.sin(a), 0.0])


def schedule(force: float, n: int, first_seed: int = 1) -> list[Push]:
    """n seeded pushes of `force` N: left or right (±30° about lateral), at a random phase of 1 s."""
    out = []
    for seed in range(first_seed, first_seed + n):
        rng = np.random.default_rng(seed)
        side = 90.0 if rng.random() < 0.5 else -90.0
        out.append(Push(seed, force, side + rng.uniform(-30.0, 30.0), rng.uniform(0.0, 1.0)))
    return out


def run_push(robot: str, policy: str, push: Push, cmd=(0.5, 0.0, 0.0), settle: float = 2.0, duration: float = 0.2, after: float = 3.0) -> dict:
    from lucid_ros.nodes.graph import SimGraph
    from lucid_ros.robots import load_robot

    start = "lying" if load_robot(robot).kind == "quadruped" else "default"
    with SimGraph(robot=robot, policy=policy, start_pose=start, cmd_vel=cmd) as g:
        running = g.wait_for_event(SafetyState.RUNNING, wall_timeout=120)
        if running is None:
            return {**asdict(push), "survived": False, "reason": f"never RUNNING ({g.state})"}
        # The push is placed in sim time (the RUNNING event's stamp + settle + delay) and fired by
        # the sim thread itself, so where the main thread happens to be does not move it.
        t_push = float(running["time"]) + settle + push.delay
        fired: list[float] = []

        def shove(t: float, sim) -> None:
            if not fired and t >= t_push - 1e-9:
                fired.append(t)
                sim.apply_push(push.vector(), duration)

        g.sim.on_tick.append(shove)
        if g.sim_time >= t_push:
            return {**asdict(push), "survived": False, "reason": f"the sim ran past the push time ({g.sim_time:.2f} > {t_push:.2f} s)"}
        g.run_until(t_push + duration + after)
        state, falls, events = g.state, list(g.monitor.metrics.falls), list(g.monitor.events)
    fell = [t for t in falls if t >= t_push]
    ok = not fell and state == SafetyState.RUNNING
    reason = "" if ok else (f"fell at {fell[0] - t_push:.2f} s after the push" if fell else f"safety tripped: {events[-1] if events else state}")
    return {**asdict(push), "at": round(t_push, 3), "survived": ok, "reason": reason}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lucid_ros.evaluation.pushes", description=__doc__.split("\n")[0])
    p.add_argument("--robot", required=True)
    p.add_argument("--policy", required=True)
    p.add_argument("--forces", default="50,100", help="newtons, comma-separated (default 50,100)")
    p.add_argument("--pushes", type=int, default=10, help="seeded pushes per force (default 10)")
    p.add_argument("--duration", type=float, default=0.2, help="s each push lasts (default 0.2)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.json")
    args = p.parse_args(argv)
    results = []
    for force in (float(f) for f in args.forces.split(",")):
        for push in schedule(force, args.pushes):
            r = run_push(args.robot, args.policy, push, duration=args.duration)
            results.append(r)
            print(f"[pushes] {args.robot} {Path(args.policy).stem}: {force:g} N at {push.direction_deg:+.0f} deg (seed {push.seed}): "
                  f"{'survived' if r['survived'] else 'NOT SURVIVED: ' + r['reason']}", file=sys.stderr, flush=True)  # fmt: skip
    table = {}
    for r in results:
        table.setdefault(r["force"], []).append(r["survived"])
    for force, ok in table.items():
        print(f"{args.robot} {Path(args.policy).stem}: {force:g} N x {args.duration:g} s lateral: survived {sum(ok)} of {len(ok)}")
    if args.out:
        args.out.write_text(json.dumps({"robot": args.robot, "policy": args.policy, "pushes": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
