"""Jump evidence (evaluation.jumps): a Go1 thrown over a hurdle is a flight with the launch's vertical
speed and no touch; a Go1 standing on a hurdle's top is a climb with no flight. Real MuJoCo
contacts, recorded every physics step the way the success table records them."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lucid_ros.evaluation.jumps import ContactRecorder, crossings, evidence_table, flight_phases
from lucid_ros.evaluation.table import Episode
from lucid_ros.robots import load_robot
from lucid_ros.sim.robot_sim import SimRobot
from lucid_ros.sim.world import place_on_ground
from lucid_ros.types import JointCommand


def test_flight_phases_need_every_foot_off_for_a_tenth_of_a_second():
    t = np.arange(200) * 0.002
    force = np.full((200, 4), 40.0)
    force[20:75] = 0.5  # 0.11 s with all four feet off: a flight
    force[100:140] = 0.0  # 0.08 s: too short
    force[150:190] = 0.0
    force[150:190, 2] = 10.0  # one foot still pushing: not a flight
    assert flight_phases(t, force) == [(20, 75)]
    assert flight_phases(t, force, min_s=0.05) == [(20, 75), (100, 140)]


def _stand_at(sim: SimRobot, robot, xy: tuple[float, float]) -> None:
    """At rest in the default pose, just touching the course at xy, the motors holding the pose."""
    sim.reset("default")
    place_on_ground(sim.model, sim.data, sim.index, robot.default_pose, xy, 0.0)
    mujoco.mj_forward(sim.model, sim.data)
    n = robot.n_joints
    sim.apply(JointCommand(sim.time, robot.default_pose.copy(), np.zeros(n), np.zeros(n), np.full(n, 40.0), np.full(n, 1.0)))


@pytest.fixture(scope="module")
def go1():
    return load_robot("go1")


def _first_hurdle(sim: SimRobot):
    o = min(sim.course.obstacles, key=lambda o: o.x0)
    return o, next(b for b in sim.course.boxes if b.name.endswith(o.name))


def test_a_thrown_robot_clears_the_hurdle_in_flight(go1):
    sim = SimRobot(go1, "hurdle", seed=0)
    o, box = _first_hurdle(sim)
    top = box.pos[2] + box.size[2] / 2
    rec = ContactRecorder(sim.model, sim.index)
    sim.physics_hooks.append(rec)
    # standing 1 m before the hurdle, then launched: 4 m/s forward, 3 m/s up
    _stand_at(sim, go1, (o.x0 - 1.0, 0.5 * (o.y0 + o.y1)))
    sim.step(100)  # settle 0.2 s
    v = sim.index.root_qvel
    sim.data.qvel[v : v + 3] = [4.0, 0.0, 3.0]
    sim.step(600)
    [c] = [c for c in crossings(sim.course, rec.arrays()) if c.obstacle == o.name]
    assert c.crossed and c.flights >= 1, c
    # ballistic: it lands at its take-off height, so the flight lasts 2 vz / g
    assert abs(c.takeoff_vz - 3.0) < 0.1 and abs(c.longest_flight_s - 2 * c.takeoff_vz / 9.81) < 0.03, c
    assert c.foot_clearance_m is not None and c.foot_clearance_m > 0.05, c
    assert c.landing_past_m is not None and c.landing_past_m > 0.05, c  # came down beyond the far edge
    assert c.top_contact_s == 0.0 and c.side_contact_s == 0.0, c
    assert c.trunk_clearance_m > 0.1 and abs(c.top_m - top) < 1e-6


def test_a_robot_on_the_hurdle_top_is_a_climb_not_a_jump(go1):
    sim = SimRobot(go1, "hurdle", seed=0)
    o, _ = _first_hurdle(sim)
    rec = ContactRecorder(sim.model, sim.index)
    sim.physics_hooks.append(rec)
    _stand_at(sim, go1, (0.5 * (o.x0 + o.x1), 0.5 * (o.y0 + o.y1)))  # on the top
    sim.step(250)
    [c] = [c for c in crossings(sim.course, rec.arrays()) if c.obstacle == o.name]
    assert not c.crossed and c.flights == 0, c
    assert c.top_contact_s > 0.4, c
    assert c.foot_clearance_m is not None and abs(c.foot_clearance_m) < 0.01, c


def test_the_table_shows_flights_and_climbs_per_bin():
    def ep(policy, difficulty, flights, top):
        x = dict(obstacle="h0", crossed=True, top_m=0.2, flights=flights, longest_flight_s=0.15 * flights, takeoff_vz=1.5 if flights else None, landing_past_m=None,
                 foot_clearance_m=0.05, trunk_clearance_m=0.2, top_contact_s=top, side_contact_s=0.0)  # fmt: skip
        return Episode(
            policy, "hurdle", 0, "succeeded", "", 10.0, 10.0, 1, 1, 1.0, difficulty_key="hurdles.height", difficulty=difficulty, crossings=(x,)
        )

    text = evidence_table([ep("a", 0.1, 0, 0.5), ep("a", 0.3, 1, 0.0), ep("b", 0.3, 0, 0.3)], ["hurdle"], ["a", "b"], bins=2)
    rows = [r for r in text.splitlines() if r.startswith("| 0.")]
    assert rows[0].startswith("| 0.1–0.2 | a | 1/1 | 0% | — | +0.050 m | 100% | 0% |"), text
    assert rows[1].startswith("| 0.2–0.3 | a | 1/1 | 100% | +1.50 m/s |"), text
    assert rows[2].startswith("| 0.2–0.3 | b | 1/1 | 0% | — |"), text
