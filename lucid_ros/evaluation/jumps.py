"""Did the robot jump? Per-obstacle evidence of how a course was crossed (issue 17).

A success rate alone cannot tell a jump from a climb or a shuffle: a 0.25 m hurdle can be crossed
by stepping onto its top, and a narrow gap by stretching over it. The success table therefore
records, for every obstacle a run reached, what the physics did there:

- **flight phases**: every foot under FLIGHT_FORCE_N of contact force for at least FLIGHT_MIN_S
  (all four feet off the ground; the base may still brush the obstacle), while the base is at the
  obstacle (from APPROACH_M before its near edge to PAST_M after its far edge);
- **take-off vertical speed**: the base's vertical speed at the start of the longest of them, and
  the **landing**: how far past the obstacle's far edge the first foot down after it touched (a gap's
  landing wants > 2 cm past the edge; negative: it came down short, on or before the far edge);
- **foot clearance**: the lowest foot bottom over the obstacle's footprint minus the obstacle's top
  (a hurdle's top, a gap's rim: the highest ground within RIM_M of the footprint). About 0 is a
  foot standing on the top, and a landing foot sinks a few cm into it (MuJoCo's contacts are soft:
  ~3 cm for a Go1 foot stepping onto a hurdle); clearly negative over a gap is a foot in it;
- **trunk clearance**: the base's height above that top while the base is over the footprint;
- **top contact** and **side contact**: seconds of robot contact with the course on the footprint's
  top (stepping on a hurdle: a climb) and on near-vertical faces at the obstacle (a hurdle's front,
  a pit's walls).

ContactRecorder samples every physics step (500 Hz on the Go1): at the 50 Hz tick a 0.1 s flight
would be 4 or 5 samples. It only reads MjData, so the trajectory (and its hash) is unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import mujoco
import numpy as np

from lucid_ros.evaluation.table import difficulty_bins
from lucid_ros.sim.courses import Course
from lucid_ros.sim.heights import CourseHeights
from lucid_ros.sim.world import WorldIndex, foot_bottom

FLIGHT_FORCE_N = 3.0  # a foot under this normal force is off the ground
FLIGHT_MIN_S = 0.1  # a flight phase is at least this long with every foot off
APPROACH_M = 0.6  # the base this far before an obstacle's near edge is at it (a take-off stride)
PAST_M = 0.4  # ... and this far past its far edge (the landing)
RIM_M = 0.05  # the obstacle's top: the highest ground within this of its footprint
TOP_NORMAL = 0.7  # a contact whose normal has this much world z is on a top face
SIDE_NORMAL = 0.5  # ... and one with less than this, on a side face


class ContactRecorder:
    """Per physics step, from MjData: time, base position and vertical speed, foot bottoms, per-foot
    normal force, and the robot's contacts with the course (point, the course side's outward
    normal). Call it after each mj_step (SimRobot.physics_hooks)."""

    def __init__(self, model: mujoco.MjModel, index: WorldIndex) -> None:
        self.index = index
        self.feet = np.asarray(index.feet)
        self.foot_drop = foot_bottom(model, self.feet)
        self.course_geom = np.zeros(model.ngeom, dtype=bool)
        self.course_geom[index.course_geoms] = True
        self.robot_geom = index.robot_body[model.geom_bodyid]
        self.foot_slot = np.full(model.ngeom, -1)
        self.foot_slot[self.feet] = np.arange(len(self.feet))
        self.t: list[float] = []
        self.base: list[np.ndarray] = []  # (x, y, z, vz)
        self.foot_z: list[np.ndarray] = []  # (F, 3) foot bottoms
        self.force: list[np.ndarray] = []  # (F,)
        self.contacts: list[tuple[float, float, float, float, float, float, float]] = []  # t, point xyz, normal xyz
        self._f6 = np.zeros(6)

    def __call__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        ix = self.index
        r, v = ix.root_qpos, ix.root_qvel
        self.t.append(float(data.time))
        self.base.append(np.array([*data.qpos[r : r + 3], data.qvel[v + 2]]))
        feet = data.geom_xpos[self.feet].copy()
        feet[:, 2] -= self.foot_drop
        self.foot_z.append(feet)
        force = np.zeros(len(self.feet))
        for i in range(data.ncon):
            c = data.contact[i]
            if c.exclude != 0:
                continue
            g1, g2 = int(c.geom1), int(c.geom2)
            course1, course2 = self.course_geom[g1], self.course_geom[g2]
            if course1 == course2 or not (self.robot_geom[g1] or self.robot_geom[g2]):
                continue  # robot-robot (or course-course): not what this records
            mujoco.mj_contactForce(model, data, i, self._f6)
            foot = self.foot_slot[g2] if course1 else self.foot_slot[g1]
            if foot >= 0:
                force[foot] += abs(self._f6[0])
            n = np.asarray(c.frame[:3]) * (1.0 if course1 else -1.0)  # from geom1 to geom2: out of the course side
            self.contacts.append((float(data.time), *map(float, c.pos), *map(float, n)))
        self.force.append(force)

    def arrays(self, t_from: float = -np.inf, t_to: float = np.inf) -> dict[str, np.ndarray]:
        """The samples with t_from <= t <= t_to (a run from RUNNING to its decision)."""
        t = np.asarray(self.t)
        keep = (t >= t_from) & (t <= t_to)
        nf = len(self.feet)
        con = np.asarray(self.contacts, dtype=np.float64).reshape(-1, 7)
        con = con[(con[:, 0] >= t_from) & (con[:, 0] <= t_to)]
        return {
            "t": t[keep],
            "base": np.asarray(self.base).reshape(-1, 4)[keep],
            "feet": np.asarray(self.foot_z).reshape(-1, nf, 3)[keep],
            "force": np.asarray(self.force).reshape(-1, nf)[keep],
            "contacts": con,
            "foot_r": self.foot_drop,
        }


@dataclass(frozen=True)
class Crossing:
    """Evidence at one obstacle the base reached (see the module doc)."""

    obstacle: str
    crossed: bool  # the base passed its far edge
    top_m: float  # the obstacle's top (hurdle) or rim (gap), world z
    flights: int
    longest_flight_s: float
    takeoff_vz: float | None  # m/s at the start of the longest flight
    landing_past_m: float | None  # x of the first foot down after the longest flight, minus the far edge
    foot_clearance_m: float | None
    trunk_clearance_m: float | None
    top_contact_s: float
    side_contact_s: float


def flight_phases(t: np.ndarray, force: np.ndarray, threshold: float = FLIGHT_FORCE_N, min_s: float = FLIGHT_MIN_S) -> list[tuple[int, int]]:
    """(start, end) sample index ranges (end exclusive) where every foot is under `threshold` N for at
    least `min_s` seconds (the last sample's time minus the first's, plus one sample period)."""
    off = np.all(np.asarray(force) < threshold, axis=1)
    if len(t) < 2 or not off.any():
        return []
    dt = float(np.median(np.diff(t)))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], off.astype(np.int8), [0]])))
    out = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if t[b - 1] - t[a] + dt >= min_s - 1e-9:
            out.append((int(a), int(b)))
    return out


def obstacle_top(heights: CourseHeights, o, rim: float = RIM_M) -> float:
    """The highest ground on or within `rim` of an obstacle's footprint: a hurdle's top, a gap's rim,
    a riser's upper step."""
    xs = np.linspace(o.x0 - rim, o.x1 + rim, max(3, int((o.x1 - o.x0 + 2 * rim) / 0.02) + 1))
    ys = np.linspace(o.y0, o.y1, max(3, int((o.y1 - o.y0) / 0.05) + 1))
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    h = heights(np.stack([gx, gy], axis=-1))
    return float(np.max(h[np.isfinite(h)])) if np.isfinite(h).any() else float("nan")


def crossings(course: Course, rec: dict[str, np.ndarray]) -> list[Crossing]:
    """Evidence for every obstacle of `course` (the concrete variant) that the base came within
    APPROACH_M of, from ContactRecorder.arrays()."""
    t, base, feet, force, con = rec["t"], rec["base"], rec["feet"], rec["force"], rec["contacts"]
    if len(t) == 0:
        return []
    heights = CourseHeights(course)
    flights = flight_phases(t, force)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    out = []
    for o in sorted(course.obstacles, key=lambda o: o.x1):
        bx = base[:, 0]
        near = (bx >= o.x0 - APPROACH_M) & (bx <= o.x1 + PAST_M)
        if not near.any():
            continue
        top = obstacle_top(heights, o)
        half = max(0.0, 0.02 - (o.x1 - o.x0) / 2)  # a riser's zero-width footprint: +-2 cm
        x0, x1 = o.x0 - half, o.x1 + half
        mine = [(a, b) for a, b in flights if near[a:b].any()]
        longest = max(mine, key=lambda ab: t[ab[1] - 1] - t[ab[0]], default=None)
        fx, fy = feet[..., 0], feet[..., 1]
        r = rec["foot_r"][None, :]  # a foot counts as over the footprint when all of it is: not scraping an edge
        over = (fx >= x0 + r) & (fx <= x1 - r) & (fy >= o.y0) & (fy <= o.y1)
        base_over = (bx >= x0) & (bx <= x1)
        at = (con[:, 1] >= x0 - 0.03) & (con[:, 1] <= x1 + 0.03) & (con[:, 2] >= o.y0 - 0.03) & (con[:, 2] <= o.y1 + 0.03)
        on_top = at & (con[:, 6] > TOP_NORMAL) & (con[:, 3] >= top - 0.01)
        on_side = at & (np.abs(con[:, 6]) < SIDE_NORMAL)
        out.append(
            Crossing(
                obstacle=o.name,
                crossed=bool((bx > o.x1).any()),
                top_m=round(top, 4),
                flights=len(mine),
                longest_flight_s=round(float(t[longest[1] - 1] - t[longest[0]] + dt), 4) if longest else 0.0,
                takeoff_vz=round(float(base[longest[0], 3]), 3) if longest else None,
                landing_past_m=_landing(feet, force, longest, o.x1),
                foot_clearance_m=round(float((feet[..., 2][over]).min() - top), 4) if over.any() else None,
                trunk_clearance_m=round(float(base[base_over, 2].min() - top), 4) if base_over.any() else None,
                top_contact_s=round(len(np.unique(con[on_top, 0])) * dt, 4),
                side_contact_s=round(len(np.unique(con[on_side, 0])) * dt, 4),
            )
        )
    return out


def _landing(feet: np.ndarray, force: np.ndarray, flight: tuple[int, int] | None, x1: float) -> float | None:
    """x of the first foot to touch down when a flight ends, minus x1; None without a flight or if the
    record ends in the air."""
    if flight is None or flight[1] >= len(force):
        return None
    down = np.flatnonzero(force[flight[1]] >= FLIGHT_FORCE_N)
    if len(down) == 0:
        return None
    return round(float(feet[flight[1], down, 0].min() - x1), 4)


def as_dicts(cs: list[Crossing]) -> tuple[dict, ...]:
    return tuple(asdict(c) for c in cs)


def evidence_table(episodes, courses: list[str], policies: list[str], bins: int = 4) -> str:
    """Per course with a difficulty number: obstacles crossed by difficulty bin and policy, with how
    (markdown). 'flight' is the share of crossings with a flight phase, 'on top' with contact on a
    hurdle's top (a climb), 'sides' with contact on a face or pit wall; take-off speed, foot
    clearance and landing are medians over the crossings that have them."""
    out = []
    for c in courses:
        eps = [e for e in episodes if e.course == c and e.difficulty is not None and e.crossings]
        if not eps:
            continue
        edges, which = difficulty_bins([e.difficulty for e in eps], bins)
        lines = [
            f"{c}: how obstacles were crossed, by {eps[0].difficulty_key}",
            "",
            "| bin | policy | crossed/reached | flight | take-off vz | foot clearance | on top | sides | landing past the edge |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for b in range(len(edges) - 1):
            for p in policies:
                cs = [x for e, k in zip(eps, which, strict=True) if k == b and e.policy == p for x in e.crossings]
                if not cs:
                    continue
                done = [x for x in cs if x["crossed"]]
                vz = [x["takeoff_vz"] for x in done if x["takeoff_vz"] is not None]
                fc = [x["foot_clearance_m"] for x in done if x["foot_clearance_m"] is not None]
                land = [x["landing_past_m"] for x in done if x.get("landing_past_m") is not None]
                lines.append(
                    f"| {edges[b]:.3g}–{edges[b + 1]:.3g} | {p} | {len(done)}/{len(cs)} | {_share(done, 'flights')} | "
                    f"{f'{np.median(vz):+.2f} m/s' if vz else '—'} | {f'{np.median(fc):+.3f} m' if fc else '—'} | "
                    f"{_share(done, 'top_contact_s')} | {_share(done, 'side_contact_s')} | "
                    f"{f'{np.median(land):+.2f} m' if land else '—'} |"
                )
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _share(crossed: list[dict], key: str) -> str:
    """Share of the crossings whose `key` is positive, as a percentage ('—' for none)."""
    return f"{100 * sum(1 for x in crossed if x[key] > 0) / len(crossed):.0f}%" if crossed else "—"
