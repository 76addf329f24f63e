"""Can a Go1 jump at all through the motor path a policy has? Issue 17's evidence before hours of RL.

    python bench/jump_capability.py [--trials 30] [--iters 8] [--seed 0] [--only TEXT]

A scripted crouch -> push-off -> tuck -> land (no learning), through what a policy's targets go
through: the spec's action range (default ± scale × clip), the supervisor's per-tick slew limit
(`safety.max_target_step`, 0.5 rad per 20 ms tick) and joint-range clip (`safety.limits.clip_targets`),
then the sim's motor law (PD at 500 Hz, torque limits) on `urdf/go1.xml`, 50 Hz targets. Per motor
path (gains; slew limit on or off; optionally a torque-speed line) a cross-entropy search over the
script's knobs (`Script`) finds the best of:
- vertical: the highest all-feet clearance (the lowest foot's bottom above the floor while no robot
  geom touches anything), flight time, take-off vertical speed, landing upright;
- forward, standing or after a 0.8 m/s approach walked by go1_walk: a hurdle (0.20 / 0.30 m tall,
  0.356 m deep, LucidSim's scale) and a 0.45 m gap between blocks over a 1 m pit. Crossed = the
  trunk ends 0.15 m past the far edge, upright, and no robot geom ever touched the hurdle's box (its
  top included) or the pit floor.
Prints one line per cell; lockstep sim, so the numbers do not depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from lucid_ros.mathutil import quat_to_rpy
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots import load_robot
from lucid_ros.safety.limits import clip_targets
from lucid_ros.sim.course_track import lay_track
from lucid_ros.sim.courses import load_course
from lucid_ros.types import JointCommand

ROBOT = load_robot("go1")
TICK = 1.0 / ROBOT.rate_hz
SUB = int(round(TICK / ROBOT.physics_dt))
DEFAULT = ROBOT.default_pose
FRONT, REAR = np.array([0, 1, 2, 3, 4, 5]), np.array([6, 7, 8, 9, 10, 11])


@dataclass(frozen=True)
class Script:
    """Crouch, push off, tuck, land: per leg pair (front, rear) thigh targets, shared calf targets.
    Go1 thigh: a larger angle puts the foot further back (a push drives the body forward); calf
    near -0.89 rad is a straight knee, -2.7 fully folded."""

    crouch_thigh: float  # rad added to the thighs while crouching
    crouch_calf: float  # rad added to the calves (negative: bend)
    crouch_s: float
    push_thigh_front: float  # absolute thigh targets at push-off
    push_thigh_rear: float
    push_calf: float  # absolute calf target at push-off
    push_s: float
    rear_delay_s: float  # > 0: the rear pair pushes this much after the front; < 0: before it
    tuck_thigh_front: float  # absolute thigh targets in the air
    tuck_thigh_rear: float
    tuck_calf: float
    tuck_s: float
    trigger: float = 0.4  # m from the trunk to the obstacle's near edge when the jump starts

    @staticmethod
    def bounds(forward: bool) -> np.ndarray:
        """(13, 2) search range of each knob, in field order."""
        push = (0.9, 2.0) if forward else (0.4, 1.0)
        return np.array([
            (0.2, 0.7), (-0.9, -0.3), (0.05, 0.5),  # crouch thigh, calf, time
            push, push, (-1.2, -0.89), (0.06, 0.2),  # push thigh front, rear, calf, time
            (-0.1, 0.1) if forward else (0.0, 0.0),  # rear delay
            (-0.2, 1.8), (-0.2, 2.2), (-2.7, -2.0), (0.1, 0.35),  # tuck thigh front, rear, calf, time
            (0.25, 0.7) if forward else (0.4, 0.4),  # trigger distance
        ])  # fmt: skip

    def targets(self, t: float) -> np.ndarray:
        """Joint targets at time t (s from the start of the crouch)."""
        q = DEFAULT.copy()
        if t < self.crouch_s:
            q[1::3] += self.crouch_thigh
            q[2::3] += self.crouch_calf
            return q
        pairs = [(FRONT, max(0.0, -self.rear_delay_s), self.push_thigh_front, self.tuck_thigh_front),
                 (REAR, max(0.0, self.rear_delay_s), self.push_thigh_rear, self.tuck_thigh_rear)]  # fmt: skip
        for idx, delay, push_thigh, tuck_thigh in pairs:
            tl = t - self.crouch_s - delay
            th, ca = idx[1::3], idx[2::3]
            if tl < 0:
                q[th] += self.crouch_thigh
                q[ca] += self.crouch_calf
            elif tl < self.push_s:
                q[th], q[ca] = push_thigh, self.push_calf
            elif tl < self.push_s + self.tuck_s:
                q[th], q[ca] = tuck_thigh, self.tuck_calf
        return q


@dataclass(frozen=True)
class Motor:
    name: str
    kp: float
    kd: float
    slew: float | None  # rad per tick; None = no slew limit
    speed_curve: bool = False  # available torque falls linearly from the limit at rest to 0 at the URDF velocity limit


def _course(kind: str, size: float):
    if kind == "flat":
        return load_course("flat"), None
    if kind == "hurdle":
        c = load_course("hurdle")
        c = lay_track(c, {("hurdles", "height"): size, ("hurdles", "depth"): 0.356, ("hurdles", "spacing"): 2.0}, None)
        x0 = min(o.x0 for o in c.obstacles)
        return c, (x0, x0 + 0.356)
    c = lay_track(load_course("gaps"), {("blocks", "gap"): size, ("blocks", "lateral"): 0.0}, None)
    first = min(c.obstacles, key=lambda o: o.x0)
    return c, (first.x0, first.x1)


def trial(motor: Motor, script: Script, course, obstacle, approach: float = 0.0) -> dict:
    """One scripted jump; metrics from the world's ground truth. With `approach` (m/s) the shipped
    go1_walk policy first walks the robot at that speed from the course's spawn, through the same
    motor path, and the script takes over when the trunk is `script.trigger` m before the obstacle."""
    from lucid_ros.training.evaluate import Episode

    ep = Episode(WALK, ROBOT, course, seed=0)
    sim = ep.sim
    if motor.speed_curve:  # a DC motor's back-EMF bound, not in the sim's motor law (which clips at the stall torque only)
        law, vmax = sim.motor.torque, ROBOT.velocity_limit

        def limited(q, dq, cmd, effort):
            cap = effort * np.clip(1.0 - np.abs(dq) / vmax, 0.0, 1.0)
            return np.clip(law(q, dq, cmd, effort), -cap, cap)

        sim.motor.torque = limited
    model, data, ix = sim.model, sim.data, sim.index
    z12 = np.zeros(12)
    ep.stand(0.5)
    prev = ROBOT.default_pose.copy()
    if approach > 0 and obstacle is not None:
        from lucid_ros.policy.observations import ObsInputs

        ep.runtime.reset()
        cmd = np.array([approach, 0.0, 0.0])
        for _ in range(int(6.0 / TICK)):
            if data.qpos[ix.root_qpos] >= obstacle[0] - script.trigger:
                break
            state, stamp = ep._observe()
            q, kp_w, kd_w, _ = ep.runtime.step(ObsInputs.from_state(state, cmd), stamp)
            q, _ = clip_targets(q, prev, ROBOT)
            prev = q
            sim.apply(JointCommand(stamp, q, z12, z12, kp_w, kd_w))
            sim.step(SUB)
    elif obstacle is not None:  # standing start, `trigger` m before the obstacle
        sim.reset("default", base_xyz=np.array([obstacle[0] - script.trigger, 0.0, float(data.qpos[ix.root_qpos + 2])]))
        ep.stand(0.5)
    x_start = float(data.qpos[ix.root_qpos])
    v_start = float(data.qvel[ix.root_qvel])
    kp, kd = np.full(12, motor.kp), np.full(12, motor.kd)
    flight, best_flight, clearance, vz_max, touches = 0.0, 0.0, -1.0, 0.0, 0
    radius = model.geom_size[ix.feet, 0]
    # what must not be touched: a hurdle's box (its top included: stepping onto it is climbing), a
    # gap's pit floor (the blocks are where the feet belong)
    hazard = set(int(g) for g in (ix.ground if course.name == "gaps" else ix.boxes))
    robot_body = ix.robot_body
    z_min = 1.0
    t = 0.0
    total = script.crouch_s + abs(script.rear_delay_s) + script.push_s + script.tuck_s + 1.2
    while t < total:
        q = np.clip(script.targets(t), DEFAULT - SPEC_RANGE, DEFAULT + SPEC_RANGE)
        q, _ = clip_targets(q, prev, ROBOT, max_step=motor.slew if motor.slew is not None else 1e9)
        prev = q
        sim.apply(JointCommand(sim.time, q, z12, z12, kp, kd))
        for _ in range(SUB):
            sim.step(1)
            g = data.contact.geom[: data.ncon]
            on_robot = robot_body[model.geom_bodyid[g]] if data.ncon else np.zeros((0, 2), bool)
            touching = bool(np.any(on_robot[:, 0] != on_robot[:, 1]))  # any robot geom on anything else
            flight = flight + ROBOT.physics_dt if not touching else 0.0
            best_flight = max(best_flight, flight)
            if not touching:
                clearance = max(clearance, float((data.geom_xpos[ix.feet, 2] - radius).min()))
            vz_max = max(vz_max, float(data.qvel[ix.root_qvel + 2]))
            z_min = min(z_min, float(data.qpos[ix.root_qpos + 2]))
            if obstacle is not None and data.ncon:
                for a, b in g:
                    touches += int((a in hazard and robot_body[model.geom_bodyid[b]]) or (b in hazard and robot_body[model.geom_bodyid[a]]))
        t += TICK
    rpy = quat_to_rpy(data.qpos[ix.root_qpos + 3 : ix.root_qpos + 7])
    z = float(data.qpos[ix.root_qpos + 2])
    upright = abs(rpy[0]) < 0.6 and abs(rpy[1]) < 0.6 and z > 0.15 and z_min > 0.05  # never sank into a pit
    x_end = float(data.qpos[ix.root_qpos])
    crossed = obstacle is not None and upright and touches == 0 and x_end - 0.15 > obstacle[1]
    sim.close()
    return {"flight": best_flight, "clearance": clearance, "vz": vz_max, "upright": bool(upright), "dx": x_end - x_start,
            "crossed": bool(crossed), "touches": touches, "v0": v_start,
            "past": x_end - obstacle[1] if obstacle is not None else 0.0}  # fmt: skip


def score(r: dict, forward: bool) -> float:
    """What the search maximises: crossing first, then how far past the obstacle's far edge an
    upright, untouched trunk ends (forward); the highest upright clearance (vertical)."""
    if not forward:
        return r["clearance"] - (0 if r["upright"] else 0.5)
    return 10.0 * r["crossed"] + (min(r["past"], 1.0) if r["upright"] else -2.0) - (1.0 if r["touches"] else 0.0)


def search(motor: Motor, course, obstacle, forward: bool, population: int, generations: int, seed: int, approach: float = 0.0) -> list[dict]:
    """Cross-entropy search over the script's knobs; every trial's result, in order."""
    rng = np.random.default_rng(seed)
    lo, hi = Script.bounds(forward).T
    mu, sd = (lo + hi) / 2, (hi - lo) / 3
    out = []
    for _ in range(generations):
        xs = np.clip(rng.normal(mu, sd + 1e-9, (population, len(lo))), lo, hi)
        rs = [trial(motor, Script(*x), course, obstacle, approach) for x in xs]
        out += rs
        elite = xs[np.argsort([-score(r, forward) for r in rs])[: max(2, population // 5)]]
        mu, sd = elite.mean(axis=0), np.maximum(elite.std(axis=0), (hi - lo) * 0.02)
    return out


WALK = load_spec("go1_walk").path  # the approach's walking policy
SPEC = load_spec("go1_teacher")
SPEC_RANGE = np.asarray(SPEC.action.scale) * SPEC.action.clip  # rad either side of the default pose


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=30, help="scripts per search generation")
    p.add_argument("--iters", type=int, default=5, help="cross-entropy generations per configuration and task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default=None, help="run only the motor configurations whose name contains this text")
    a = p.parse_args()
    motors = [
        Motor("kp 20 / kd 0.5, slew 0.5 rad/tick (shipped)", 20.0, 0.5, ROBOT.safety.max_target_step),
        Motor("kp 20 / kd 0.5, no slew limit", 20.0, 0.5, None),
        Motor("kp 40 / kd 1.0 (RPL jump), slew 0.5", 40.0, 1.0, ROBOT.safety.max_target_step),
        Motor("kp 20 / kd 0.5, slew 0.5, torque-speed line to 0 at 30/30/20 rad/s", 20.0, 0.5, ROBOT.safety.max_target_step, True),
    ]
    motors = [m for m in motors if a.only is None or a.only in m.name]
    # (course, size, approach m/s): standing starts, and a go1_walk approach at 0.8 m/s
    tasks = [("flat", 0.0, 0.0), ("hurdle", 0.30, 0.0), ("hurdle", 0.20, 0.8), ("hurdle", 0.30, 0.8), ("gaps", 0.45, 0.0), ("gaps", 0.45, 0.8)]
    print(
        f"Go1 scripted jumps: cross-entropy search, {a.iters} x {a.trials} scripts per cell; action range ±{SPEC_RANGE[0]:.2f} rad about the default pose"
    )
    t0 = time.time()
    for motor in motors:
        for kind, size, approach in tasks:
            course, obstacle = _course(kind, size)
            results = search(motor, course, obstacle, kind != "flat", a.trials, a.iters, a.seed, approach)
            if kind == "flat":
                ok = [r for r in results if r["upright"]] or results
                best = max(ok, key=lambda r: r["clearance"])
                line = (f"vertical: feet clear {best['clearance'] * 100:.1f} cm, flight {best['flight'] * 1e3:.0f} ms, "
                        f"take-off vz {best['vz']:.2f} m/s, upright {best['upright']}")  # fmt: skip
            else:
                n = sum(r["crossed"] for r in results)
                best = max(results, key=lambda r: score(r, True))
                start = "standing" if approach == 0 else f"approach {approach:g} m/s (at take-off {best['v0']:.2f})"
                line = (f"{kind} {size:.2f} m, {start}: {n}/{len(results)} scripts cross (best: leap {best['dx']:.2f} m, "
                        f"trunk ends {best['past']:+.2f} m past the far edge, "
                        f"flight {best['flight'] * 1e3:.0f} ms, feet clear {best['clearance'] * 100:.1f} cm, touches {best['touches']}, "
                        f"upright {best['upright']})")  # fmt: skip
            print(f"  [{motor.name}] {line}  ({time.time() - t0:.0f} s)", flush=True)
    print("done")


if __name__ == "__main__":
    main()
