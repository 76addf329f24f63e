"""Seeded course episodes through the whole graph, judged by lucid_ros.sim.outcome.

`lucid-ros success-table` runs these: for each (course, policy, seed) a fresh SimGraph (every
node, real rclpy, the camera node in the loop for image policies) on course variant `seed`, the
robot standing at the spawn, walked to RUNNING by the supervisor, then commanded forward
(steered back to the course's line by `evaluation.steer.TrackSteer` unless `steer=False`) until
the outcome is decided (crossed, fell, stuck, bypassed) or the time limit passes. A safety trip
(DAMPING/ESTOP) counts as a failure of its own, `tripped`: the stack stopped the robot.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lucid_ros.evaluation.jumps import ContactRecorder, as_dicts, crossings
from lucid_ros.evaluation.steer import TrackSteer
from lucid_ros.evaluation.table import Episode
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.safety.states import TRIPS, SafetyState
from lucid_ros.sim.courses import difficulty
from lucid_ros.sim.outcome import judge

DECIDED = ("succeeded", "fell", "stuck", "bypassed")
TRIPPED = TRIPS
CHECK_EVERY_S = 0.5  # sim seconds between outcome checks while running (the sim held at each: SimGraph.run_until)
STAND_LIMIT_S = 30.0  # sim seconds from the start for the auto sequence to reach RUNNING
FOREIGN_EVERY_S = 4.0  # sim seconds between looks for other graphs' publishers on this one's topics
# wall seconds from an episode's start before its last look for them may clear it: DDS discovery of
# another process's endpoints takes ~1-3 s, and a lockstep episode can end sooner (one did, in 3 s,
# and the table reported a result another graph's teleop was on the domain to steer)
DISCOVERY_S = 5.0
DOMAIN_TRIES = 3
DOMAIN_WAIT_S = 5.0


def episode_time_limit(course, vx: float, slack: float = 2.0, margin: float = 10.0) -> float:
    """Sim seconds of RUNNING allowed: twice the time the course takes at the commanded speed, plus 10 s."""
    length = (course.goal_x if course.goal_x is not None else 10.0) - course.spawn_xy[0]
    return slack * max(length, 0.0) / max(abs(vx), 0.1) + margin


class DomainShared(RuntimeError):
    """Another graph published on this episode's topics (same ROS domain): its result would be theirs too."""


def run_episode(
    robot: str, policy: str | Path, course: str, seed: int, cmd_vel: tuple[float, float, float] = (0.5, 0.0, 0.0),
    camera_latency_ms: float = 0.0, label: str | None = None, max_time: float | None = None, steer: bool = True,
) -> Episode:  # fmt: skip
    """One judged episode. An episode that another graph on its ROS domain published into (a probe
    someone started on a worker's domain, a second table) is not a result: it is run again once the
    domain is quiet, and after DOMAIN_TRIES such runs the table stops with DomainShared, naming them."""
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    msg = ""
    for attempt in range(DOMAIN_TRIES):
        if attempt:
            print(f"[success-table] {msg}; running it again", file=sys.stderr, flush=True)
            time.sleep(DOMAIN_WAIT_S)
        ep, foreign = _episode(robot, policy, course, seed, cmd_vel, camera_latency_ms, label, max_time, steer)
        if not foreign:
            return ep
        msg = f"{course} seed {seed}: other nodes published on this episode's topics (ROS_DOMAIN_ID={domain}): {', '.join(foreign)}"
    raise DomainShared(msg + "; give the success table its domains to itself (it uses ROS_DOMAIN_ID+1 .. +jobs with --jobs)")


def _episode(robot, policy, course, seed, cmd_vel, camera_latency_ms, label, max_time, steer) -> tuple[Episode, list[str]]:
    wall0 = time.monotonic()
    overrides = {"sim_bridge": {"camera_latency": camera_latency_ms / 1000.0}}
    with SimGraph(robot=robot, policy=policy, course=course, seed=seed, start_pose="default", auto_sequence=True, cmd_vel=cmd_vel,
                  overrides=overrides) as graph:  # fmt: skip
        variant = graph.sim.sim.course  # the concrete variant this seed built
        name = label or Path(str(policy)).stem
        key, value = difficulty(variant) or ("", None)
        # what every Episode of this run shares after its (status, reason, time, distance, crossed, total, wall)
        tail = dict(camera_latency_ms=camera_latency_ms, difficulty_key=key, difficulty=value)
        if steer:
            graph.monitor.steer = TrackSteer.for_course(variant).wz
        contacts = ContactRecorder(graph.sim.sim.model, graph.sim.sim.index)  # how each obstacle was crossed (evaluation.jumps)
        graph.sim.sim.physics_hooks.append(contacts)
        foreign: set[str] = set()
        m = graph.monitor
        try:  # held every CHECK_EVERY_S of sim time until RUNNING: the run from there is the same every time
            graph.run_until(STAND_LIMIT_S, wall_timeout=60, stop_when=lambda: running_since(m) is not None, check_every=CHECK_EVERY_S)
        except TimeoutError:
            pass
        t_run = running_since(m)
        if t_run is None:
            foreign.update(graph.foreign_publishers())
            return Episode(name, course, seed, "tripped", f"never reached RUNNING (state {graph.state})", 0.0, 0.0, 0,
                           len(variant.obstacles), time.monotonic() - wall0, **tail, **hashes(graph)), sorted(foreign)  # fmt: skip
        limit = t_run + (max_time if max_time is not None else episode_time_limit(variant, cmd_vel[0]))
        last = [t_run, t_run]  # last outcome check, last look for other graphs
        foreign.update(graph.foreign_publishers())

        def decided() -> bool:
            if any(s in TRIPPED for t, s in list(m.states) if t >= t_run):
                return True
            if graph.sim_time - last[1] >= FOREIGN_EVERY_S:
                last[1] = graph.sim_time
                foreign.update(graph.foreign_publishers())
            if graph.sim_time - last[0] < CHECK_EVERY_S - 1e-6:
                return False
            last[0] = graph.sim_time
            return judge_since(m, variant, t_run).status in DECIDED

        graph.run_until(limit, wall_timeout=max(120.0, 20.0 * (limit - t_run)), stop_when=decided, check_every=CHECK_EVERY_S)
        time.sleep(max(0.0, DISCOVERY_S - (time.monotonic() - wall0)))
        foreign.update(graph.foreign_publishers())
        tail.update(hashes(graph))
        outcome = judge_since(m, variant, t_run)
        tail["crossings"] = as_dicts(crossings(variant, contacts.arrays(t_run, outcome.time_s)))
        trip = next(((t, s) for t, s in list(m.states) if t >= t_run and s in TRIPPED), None)
        if trip is not None and not (outcome.status in DECIDED and outcome.time_s <= trip[0]):
            cause = next((e.get("cause", "") for e in m.metrics.events if e.get("state") == trip[1]), "")
            return Episode(name, course, seed, "tripped", f"safety {trip[1]} at {trip[0] - t_run:.1f} s: {cause}", trip[0] - t_run,
                           outcome.distance_m, outcome.obstacles_crossed, outcome.obstacles_total, time.monotonic() - wall0,
                           **tail), sorted(foreign)  # fmt: skip
    return Episode(name, course, seed, outcome.status, outcome.reason, outcome.time_s - t_run, outcome.distance_m, outcome.obstacles_crossed,
                   outcome.obstacles_total, time.monotonic() - wall0, **tail), sorted(foreign)  # fmt: skip


def running_since(monitor) -> float | None:
    """Sim time of the first tick the supervisor was RUNNING (the monitor's per-tick record), or None."""
    return next((t for t, s in list(monitor.states) if s == SafetyState.RUNNING), None)


def hashes(graph) -> dict:
    """The episode's trajectory hash, tick count and lockstep timeouts (SimGraph.trajectory)."""
    tr = graph.trajectory
    return {k: tr.get(k, 0) for k in ("trajectory_sha256", "ticks_hashed", "lockstep_timeouts")}


def judge_since(monitor, variant, t_run: float):
    """The course outcome of a run monitor's ground truth from sim time `t_run` (RUNNING) on."""
    met = monitor.metrics
    n = min(len(met.t), len(met.pos), len(met.quat))
    t = np.asarray(met.t[:n])
    keep = t >= t_run
    if not keep.any():
        keep[-1:] = True
    return judge(variant, t[keep], np.asarray(met.pos[:n])[keep], np.asarray(met.quat[:n])[keep])


def run_table(
    robot: str, policies: list[tuple[str, str]], courses: list[str], seeds: list[int], cmd_vel: tuple[float, float, float],
    latencies_ms: list[float], progress: Callable[[Episode, int, int], None] | None = None, jobs: int = 1, steer: bool = True,
) -> list[Episode]:  # fmt: skip
    """Every (latency, course, policy, seed) episode; `policies` are (label, name-or-path).

    `jobs` > 1 runs episodes in that many worker processes, each on its own ROS domain (a graph
    per process, as `lucid-ros sim` runs one): episodes are lockstep and seeded, so the table is
    the same as with one job, only sooner. Results come back in the order of the job list."""
    work = [(lat, c, p, s) for lat in latencies_ms for c in courses for p in policies for s in seeds]
    out: list[Episode | None] = [None] * len(work)
    if jobs <= 1:
        for k, (lat, course, (label, policy), seed) in enumerate(work):
            out[k] = run_episode(robot, policy, course, seed, cmd_vel, lat, label=label, steer=steer)
            if progress is not None:
                progress(out[k], k + 1, len(work))
        return out  # type: ignore[return-value]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = mp.get_context("spawn")
    domains = ctx.Queue()
    base = int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
    for k in range(jobs):
        domains.put((base + 1 + k) % 200)
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_domain, initargs=(domains,)) as pool:
        futures = {
            pool.submit(run_episode, robot, policy, course, seed, cmd_vel, lat, label, None, steer): k
            for k, (lat, course, (label, policy), seed) in enumerate(work)
        }
        try:
            for f in as_completed(futures):
                out[futures[f]] = f.result()
                done += 1
                if progress is not None:
                    progress(out[futures[f]], done, len(work))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # stop now: not after every queued episode
            raise
    return out  # type: ignore[return-value]


def _worker_domain(domains) -> None:
    """A worker process's own ROS domain, set before rclpy is first used in it."""
    os.environ["ROS_DOMAIN_ID"] = str(domains.get())
