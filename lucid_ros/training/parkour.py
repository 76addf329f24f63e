"""The teacher's world: WalkEnv on the shipped parkour courses, with privileged terrain heights.

Same physics, motors, observation builder and action path as the walking policy (it is WalkEnv;
only the worlds, spawns, commands and episode ends differ). The worlds are the courses in
config/courses/ drawn at fixed difficulty levels: level 0 is the easy end of each course's
`variants:` range for its difficulty number (hurdle height, gap width, riser), level 1 the hard
end (the facts' scale); the other numbers (spacing, widths, friction) are drawn as the course's
variants draw them. Every world is a mujoco.batch sub-batch, so a training step covers all levels.

The teacher reads `height_scan` exactly as the runtime computes it for a privileged policy:
`policy.observations.height_scan` over `sim.heights.scan_points`, from `sim.heights.CourseHeights`
of the concrete course the world was built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.evaluation.steer import TrackSteer
from lucid_ros.mathutil import quat_to_rpy
from lucid_ros.policy.observations import height_scan
from lucid_ros.policy.spec import PolicySpec
from lucid_ros.robots.description import RobotDescription
from lucid_ros.sim.courses import DIFFICULTY, Course, load_course, randomize
from lucid_ros.training.config import EnvConfig, ObsConfig, spec_dict
from lucid_ros.training.env import Terrain, WalkEnv, _World
from lucid_ros.training.rewards import RewardWeights, moving

# Scan dots: 1.2 m ahead (a hurdle or gap two strides out at 0.5 m/s), 0.45 m behind and to the
# sides (the hind feet; block edges on the gaps course). 12 x 7 = 84 points.
SCAN_X = (-0.45, 1.2, 0.15)
SCAN_Y = (-0.45, 0.45, 0.15)
# The scan is the newest frame only (history 1): the terrain does not need three copies of itself
# (84 x 3 = 252 of the shipped teacher's 393 inputs); the proprioception keeps its history.
SCAN_TERM = {"name": "height_scan", "x": list(SCAN_X), "y": list(SCAN_Y), "offset": -0.3, "scale": 3.0, "clip": 1.5, "history": 1}


def teacher_weights() -> RewardWeights:
    """The walking weights, loosened where obstacles need it: climbing moves the base up and
    pitches it, so vertical speed, tilt and height are penalised less; feet lifted at an obstacle
    just ahead are paid (rewards.obstacle_clearance). Standing still at a zero command is paid as in
    walking (ParkourConfig.p_stand)."""
    return replace(RewardWeights(), lin_vel_z=-0.5, orientation=-0.5, base_height=-5.0, ang_vel_xy=-0.02, obstacle_clearance=0.6)


@dataclass
class ParkourConfig:
    levels: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: {
            "hurdle": (0.0, 0.3, 0.45, 0.55, 0.65, 0.75, 1.0),
            "stairs_up": (0.0, 0.25, 0.5, 0.75, 1.0),
            "stairs_down": (0.0, 0.5, 1.0),
            "gaps": (0.0, 0.33, 0.66, 1.0),
        }
    )
    # Relative share of the envs each level gets (same order as `levels`; parkour per seed). Most
    # go to the frontier: the levels the teacher starts to fail at, where experience pays most.
    shares: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: {
            "hurdle": (0.5, 1.0, 1.5, 2.0, 2.0, 1.5, 0.5),
            "stairs_up": (0.75, 0.75, 1.5, 2.0, 1.5),
            "stairs_down": (0.5, 0.5, 1.0),
            "gaps": (0.5, 0.5, 0.5, 0.5),
            "parkour": (0.5, 0.5),
        }
    )
    parkour_seeds: tuple[int, ...] = (1, 2)
    # Levels of the mixed course (None: one fully random variant per `parkour_seeds`, the climb
    # recipe's two layouts). Level f sets each of PARKOUR_LEVEL_KEYS at lo + f * (hi - lo) of its
    # variants range (friction is drawn per level): gentle, barely staggered ramps, a low hurdle and
    # narrow gaps at 0, the table's steepest, most staggered ramps, highest hurdle and widest gaps at 1.
    parkour_levels: tuple[float, ...] | None = None
    vx: tuple[float, float] = (0.3, 0.8)
    spawn_tries: int = 12
    corridor: float = 0.5  # m of lateral offset from the track's line that ends an episode as a failure
    # No new progress for this long ends the episode as a failure, as sim.outcome's `stuck` fails a
    # run: a teacher that may stand in front of a hurdle and keep collecting its gait rewards
    # learns to stop there (the first teacher did, 18 of 30 hurdle runs); ending it makes trying free.
    stuck_s: float = 5.0
    stuck_m: float = 0.2
    # The ground this far ahead of each foot along the heading (m) is what it has to clear
    # (rewards.obstacle_clearance): walking clearance (7 cm) lifts no foot onto a 0.22 m hurdle,
    # and the teacher trained without this stopped in front of every hurdle from 0.217 m up.
    clear_reach: tuple[float, ...] = (0.05, 0.10, 0.15, 0.20)
    # Yaw-rate commands. On a course the success table (and an operator) steers the robot back to
    # the line with yaw rate (evaluation.steer.TrackSteer); commanding vx alone taught students that
    # the yaw-rate input means nothing, and students that drifted right never came back. This share
    # of the envs is steered with that same law, every step; the rest hold a constant yaw rate from
    # `wz_free` until their next command, so following wz is learned beyond what steering asks.
    steer_share: float = 0.8
    wz_free: tuple[float, float] = (-0.4, 0.4)
    # Zero commands. The shipped teacher (trained with none) walks 0.8 m and turns 0.9 rad in 10 s
    # at cmd_vel 0, and its students do the same (test_zero_command): this share of the command
    # draws is (0, 0, 0), unsteered, with the walking recipe's stand-still term paying for the
    # default pose, and a standing env is never ended as stuck.
    p_stand: float = 0.1
    # Promote/demote by distance (issue 17; extreme-parkour's rule). Off: every env stays on its level,
    # one world per level, envs split by `shares`. On: each course is one world holding every level's
    # obstacles, each env stands on one level at a time (the other levels' boxes do not collide for it
    # and are not in its height map); an env that reaches the goal goes up a level (from the top level
    # to a random one, so the easy levels are not forgotten; only if it spawned before the last
    # obstacle), one whose episode ends short of
    # `demote_below` of the way from its spawn to the goal goes down, standing envs stay. `shares` is
    # then where the envs start, and `course_shares` how many envs each course gets.
    curriculum: bool = False
    demote_below: float = 0.5
    # This share of the spawns is at the course's own spawn point (+-0.3 m along, +-0.1 m across), where
    # the success table starts every run; the rest anywhere on level ground along the course. With
    # spawns spread only, most of the mixed course's episodes began past its rolled ramps, and the
    # teacher that crossed 97 % of hurdles failed the first ramp from the start 112 of 112 times.
    start_share: float = 0.0
    course_shares: dict[str, float] | None = None  # None: the sum of each course's level shares

    def groups(self) -> list[tuple[str, list[float]]]:
        """(course name, its levels' shares) in training_courses' order; the mixed course's levels are
        `parkour_levels`, or its seeds."""
        shares = self.world_shares()
        out, k = [], 0
        for name, n in [*((c, len(lv)) for c, lv in self.levels.items()), ("parkour", self.n_parkour())]:
            out.append((name, shares[k : k + n]))
            k += n
        return [(name, sh) for name, sh in out if sh]

    def world_shares(self) -> list[float]:
        """One share per training course, in training_courses' order."""
        out = []
        for name, levels in self.levels.items():
            sh = self.shares.get(name, (1.0,) * len(levels))
            if len(sh) != len(levels):
                raise ValueError(f"ParkourConfig.shares[{name!r}] has {len(sh)} entries for {len(levels)} levels")
            out += list(sh)
        n = self.n_parkour()
        sh = self.shares.get("parkour", (1.0,) * n)
        if len(sh) != n:
            raise ValueError(f"ParkourConfig.shares['parkour'] has {len(sh)} entries for {n} mixed-course levels")
        return out + list(sh)

    def n_parkour(self) -> int:
        """How many worlds (levels) of the mixed course: its levels, else its seeds."""
        return len(self.parkour_levels) if self.parkour_levels is not None else len(self.parkour_seeds)


def jump_weights() -> RewardWeights:
    """The jumping teacher's reward (issue 17; extreme-parkour's terms and weights where they carry
    over, docs/training.md): progress toward the goal capped at the command instead of an exp kernel
    on the velocity error, no gait clock terms (no diagonal-pair contact, air-time or swing-height
    asks), a cost for every step a forward command is not followed and for feet on edges, collisions
    at -10, and the walking penalties relaxed where a leap needs it (vertical speed, body height)."""
    return replace(
        RewardWeights(),
        tracking_lin_vel=0.0, tracking_goal_vel=1.5, tracking_ang_vel=0.5, stall=-3.0, feet_edge=-1.0,
        lin_vel_z=-0.5, ang_vel_xy=-0.02, orientation=-0.5, base_height=0.0, collision=-10.0,
        torques=-1e-5, dof_acc=-2.5e-7, action_rate=-0.1, feet_air_time=0.0, gait_contact=0.0, swing_height=0.0,
        obstacle_clearance=0.0, hip_pose=-0.5,
    )  # fmt: skip


RECIPES = ("climb", "jump")  # climb: the shipped teacher's (teacher_weights); jump: jump_weights, no zero clip


def parkour_config(recipe: str = "climb") -> ParkourConfig:
    """The worlds for a recipe: fixed levels for the climb (the shipped teacher's), the promote/demote
    curriculum for the jump, with more of the envs on gaps (10 % of them had gaps before)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown teacher recipe {recipe!r}; expected one of {list(RECIPES)}")
    if recipe == "climb":
        return ParkourConfig()
    base = ParkourConfig()
    return ParkourConfig(
        levels={**base.levels, "gaps": JUMP_GAP_LEVELS}, parkour_levels=JUMP_PARKOUR_LEVELS,
        shares={**base.shares, "gaps": (1.0,) * len(JUMP_GAP_LEVELS), "parkour": (1.0,) * len(JUMP_PARKOUR_LEVELS)},
        start_share=JUMP_START_SHARE, curriculum=True, course_shares=JUMP_COURSE_SHARES,
    )  # fmt: skip


# How the jump recipe splits its envs over the courses. Phases 1-11 gave the mixed course 0.2 (and
# hurdles 0.3, gaps 0.25, stairs 0.15 / 0.1); after phase 10 every single-obstacle course met its
# target through the whole graph (hurdles 100 %, gaps 93 %, stairs 100 % / 100 %) and the mixed
# course did not (13 %): from phase 12 it gets twice the envs. A resumed run re-splits the saved
# levels course by course (ParkourEnv.load_state_dict).
JUMP_COURSE_SHARES = {"hurdle": 0.2, "gaps": 0.2, "stairs_up": 0.1, "stairs_down": 0.1, "parkour": 0.4}


# How far past an obstacle's far end the trunk still counts as at it (training.closed_loop's
# windows, code_fit's distances of the captures).
NEAR_PAST = 0.3
# The code's R² by how far the trunk is from the next obstacle's start (m; below 0: on it, up to
# NEAR_PAST past its end): a crossing is decided in the last stride or two.
DISTANCE_BINS = (("0.8-2 m before", 0.8, 2.0), ("0.4-0.8 m before", 0.4, 0.8), ("0-0.4 m before", 0.0, 0.4), ("on it", -np.inf, 0.0))


def distance_ahead(x: np.ndarray, courses: list) -> np.ndarray:
    """(n,) m from each trunk x to the start of the first obstacle it has not yet left (NEAR_PAST
    past its end): negative while on it, inf past the last."""
    out = np.full(len(x), np.inf)
    for i, (xi, c) in enumerate(zip(x, courses, strict=True)):
        left = [o.x0 - xi for o in c.obstacles if xi <= o.x1 + NEAR_PAST]
        if left:
            out[i] = min(left)
    return out


def recipe_of(teacher: PolicySpec) -> str:
    """The recipe a teacher was trained with (its spec's `training.recipe`; the shipped teacher, from
    before recipes, is the climb). ConfigError naming the spec and the field for one this code does
    not know."""
    recipe = str(teacher.training.get("recipe", "climb"))
    if recipe not in RECIPES:
        raise ConfigError(
            teacher.path, "training.recipe",
            f"teacher {teacher.name!r} was trained with recipe {recipe!r}, which this code does not know (expected one of {list(RECIPES)})",
        )  # fmt: skip
    return recipe


def distill_config(teacher: PolicySpec, course_weights: dict[str, float] | None = None) -> ParkourConfig:
    """The worlds a teacher's students learn on: the teacher's own recipe's courses and levels
    (students of the jumping teacher see its finer gaps and graded mixed course, and its start
    share), on fixed levels: a curriculum world holds every level's boxes at once, and the students'
    cameras would see them all. `course_weights` (course name -> factor, 1 for a course not named)
    scales each course's envs: the students' weak courses get more of them (`distill --course-weights`)."""
    pk = replace(parkour_config(recipe_of(teacher)), curriculum=False)
    if not course_weights:
        return pk
    known = [name for name, _ in pk.groups()]
    bad = {k: w for k, w in course_weights.items() if k not in known or not w > 0}
    if bad:
        raise ValueError(f"course weights {bad}: each must name one of the courses {known} with a factor > 0")
    shares = dict(pk.shares)
    for name, sh in pk.groups():
        shares[name] = tuple(course_weights.get(name, 1.0) * s for s in sh)
    return replace(pk, shares=shares)


# The jump recipe's gap levels: 0.15 -> 0.60 m in 0.075 m steps (the climb recipe's four levels step
# 0.15 m). An env goes up only by crossing every gap of its course (six), and after 114 min the
# teacher crossed 92 % of 0.15 m gaps and 63 % of 0.30 m ones, one at a time: 0.92^6 = 0.61 of its
# episodes promoted, 0.63^6 = 0.06 from the next level, so the curriculum sat at 0.04 of the top.
# Half steps put the next level within reach (docs/training.md, phase 5).
JUMP_GAP_LEVELS = tuple(k / 6 for k in range(7))
# A third of the jump recipe's spawns at the course's start, as the success table runs (phase 8 on).
JUMP_START_SHARE = 0.33
# The jump recipe's mixed course in levels (phase 10 on). Its two random layouts (the climb
# recipe's) both rolled their ramps 0.38-0.40 rad, near the top of the table's 0.2-0.45: from the
# start the teacher crossed the first ramp 0 of 112 times, then 28 of 101 with the start share.
# Phase 10's five levels left the ramps' stagger and gaps drawn, and its table (13 %) failed on the
# ramps only, staggered 0.23-0.44 m: every number of the course rises with the level (phase 11 on),
# in seven steps.
JUMP_PARKOUR_LEVELS = tuple(k / 6 for k in range(7))
# The mixed course's numbers that make it harder (its variants ranges' hard ends): ParkourConfig.parkour_levels.
PARKOUR_LEVEL_KEYS = ("ramps.angle", "ramps.stagger", "ramps.gap", "hurdle.height", "blocks.gap", "up.riser", "down.riser")


# What a step of moving costs the jump recipe besides the stall term (action rate, collisions, joint
# acceleration, stand-still, hips, body motion, slip): 0.026 per step over phase 1's last iterations
# (docs/training.md). It sizes JUMP_FALL_COST.
JUMP_MOVING_COST = 0.026
# A fall (or the stuck rule, or leaving the corridor while steered along it) costs this once.
# Phase 1 ran without it: its steps summed below zero, a fall ended them, and episodes shortened
# 6.0 -> 2.9 s while falls rose 10 -> 22 per env-minute. Sized so that, at gamma 0.99 (a ~2 s
# horizon), carrying on slowly (JUMP_MOVING_COST a step, a quarter of the goal speed, yaw tracked)
# is worth more than falling (-0.85 against -3), and falling more than refusing at an edge until the
# stuck rule ends it (the stall cost for 5 s, then this cost: -4.8), so trying beats refusing and
# carrying on beats giving up. test_jump_recipe checks the order; the stall weight (-3, was -1) is
# what puts refusing below a fall.
JUMP_FALL_COST = -3.0


def teacher_env_config(n_envs: int, recipe: str = "climb") -> EnvConfig:
    if recipe not in RECIPES:
        raise ValueError(f"unknown teacher recipe {recipe!r}; expected one of {list(RECIPES)}")
    jump = recipe == "jump"
    return EnvConfig(
        n_envs=n_envs, episode_s=30.0, p_zero_command=0.0, push_force=(0.0, 0.0), weights=jump_weights() if jump else teacher_weights(),
        max_tilt=1.0, clip_reward_at_zero=not jump, fall_cost=JUMP_FALL_COST if jump else 0.0,
    )  # fmt: skip


def teacher_spec_dict(robot: RobotDescription, obs: ObsConfig, name: str) -> dict:
    """The walking spec plus the privileged height scan (docs/policy-spec.md)."""
    spec = spec_dict(robot, obs, name=name)
    spec["observation"]["terms"].append(dict(SCAN_TERM))
    return spec


def level_course(course: Course, level: float, seed: int, keys: tuple[str, ...] | None = None) -> Course:
    """The course's variant `seed` with its difficulty number (courses.DIFFICULTY), or each of
    `keys` ("segment.param"), fixed at lo + level * (hi - lo) of the course's own variants range."""
    if keys is None:
        key = DIFFICULTY.get(course.name)
        keys = () if key is None else (key,)
    missing = set(keys) - {f"{s}.{p}" for s, p, _, _ in course.variants.geometry}
    if missing:
        raise ValueError(f"course {course.name!r} has no variants range for {sorted(missing)}")
    geom = []
    for s, p, lo, hi in course.variants.geometry:
        if f"{s}.{p}" in keys:
            v = lo + float(level) * (hi - lo)
            lo = hi = v
        geom.append((s, p, lo, hi))
    return randomize(replace(course, variants=replace(course.variants, geometry=tuple(geom))), seed)


def ground_ahead(terrain_height, foot_xy: np.ndarray, yaw: np.ndarray, reach: tuple[float, ...]) -> np.ndarray:
    """(B, F) highest ground under each foot (B, F, 2) and at `reach` metres ahead of it along the
    base heading `yaw` (B,): what a swing foot has to clear. `terrain_height(xy (..., 2)) -> (...)`."""
    foot_xy = np.asarray(foot_xy, dtype=np.float64)
    r = np.concatenate([[0.0], np.asarray(reach, dtype=np.float64)])
    d = np.stack([np.cos(yaw), np.sin(yaw)], axis=-1)  # (B, 2)
    pts = foot_xy[:, :, None, :] + r[None, None, :, None] * d[:, None, None, :]  # (B, F, R, 2)
    return np.asarray(terrain_height(pts), dtype=np.float64).reshape(pts.shape[:-1]).max(axis=-1)


GOAL_LOOKAHEAD_M = 1.0  # the goal direction points at the course line this far ahead
EDGE_M, EDGE_RISE_M = 0.05, 0.05  # a foot within EDGE_M of a step of more than EDGE_RISE_M stands on an edge


def goal_speed(xy: np.ndarray, vel_xy: np.ndarray, line_y: float | np.ndarray, lookahead: float = GOAL_LOOKAHEAD_M) -> np.ndarray:
    """(B,) world speed toward the point `lookahead` metres ahead (+x) on the course's line y = line_y
    (one for all, or one per env):
    forward progress that steers back to the line, as extreme-parkour's waypoint direction."""
    d = np.column_stack([np.full(len(xy), lookahead), line_y - xy[:, 1]])
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return np.sum(vel_xy * d, axis=1)


def on_edge(terrain_height, foot_xy: np.ndarray, reach: float = EDGE_M, rise: float = EDGE_RISE_M) -> np.ndarray:
    """(B, F) bool: the ground within `reach` of the foot (4 points: +-x, +-y) differs from the ground
    under it by more than `rise` (a hurdle's or block's rim, a stair nosing)."""
    offs = np.array([[reach, 0.0], [-reach, 0.0], [0.0, reach], [0.0, -reach]])
    pts = np.concatenate([foot_xy[..., None, :], foot_xy[..., None, :] + offs], axis=-2)  # (B, F, 5, 2)
    h = np.asarray(terrain_height(pts), dtype=np.float64).reshape(pts.shape[:-1])
    return np.max(np.abs(h[..., 1:] - h[..., :1]), axis=-1) > rise


def training_courses(cfg: ParkourConfig, seed: int = 0) -> list[Course]:
    out = []
    k = 0
    for name, levels in cfg.levels.items():
        base = load_course(name)
        for lv in levels:
            k += 1
            out.append(level_course(base, lv, 1000 * (seed + 1) + k))
    parkour = load_course("parkour")
    if cfg.parkour_levels is None:
        return out + [randomize(parkour, s) for s in cfg.parkour_seeds]
    return out + [level_course(parkour, lv, 1000 * (seed + 1) + k + j + 1, PARKOUR_LEVEL_KEYS) for j, lv in enumerate(cfg.parkour_levels)]


def split_envs(n: int, shares: list[float]) -> list[int]:
    """n envs over worlds in proportion to `shares` (largest remainder); at least one each when
    there are enough envs (with fewer, as in a smoke run, the smallest shares get none)."""
    w = np.asarray(shares, dtype=np.float64)
    if n < 1 or (w <= 0).any():
        raise ValueError(f"cannot split {n} envs over shares {shares}: needs n >= 1 and positive shares")
    floor = 1 if n >= len(w) else 0
    exact = floor + (n - floor * len(w)) * w / w.sum()
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: n - counts.sum()]] += 1
    return counts.tolist()


class LevelTerrain:
    """The ground of one parkour world whose envs may stand on different levels of one course: one
    Terrain (and one TrackSteer) per level, and `level`, each env's level in the world's row order.
    `heights(pts)` / `height(x, y)` take the world's envs as their leading axis and answer each env
    from its own level's height map; `heights_of(level, pts)` does it for any rows. With one level it
    is that level's Terrain."""

    rough = False  # parkour courses lie on planes

    def __init__(self, courses: list[Course], count: int):
        self.courses = list(courses)
        self.course = self.courses[0]
        self.terrains = [Terrain(c) for c in self.courses]
        self.steers = [TrackSteer.for_course(c) for c in self.courses]
        self.level = np.zeros(count, dtype=np.int64)

    def heights_of(self, level: np.ndarray, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=np.float64)
        if len(self.terrains) == 1:
            return np.asarray(self.terrains[0].heights(pts), dtype=np.float64)
        out = np.empty(pts.shape[:-1])
        for k in np.unique(level):
            rows = level == k
            out[rows] = self.terrains[k].heights(pts[rows])
        return out

    def heights(self, pts: np.ndarray) -> np.ndarray:
        return self.heights_of(self.level, pts)

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.heights(np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)], axis=-1))


def union_course(courses: list[Course]) -> tuple[Course, list[np.ndarray]]:
    """One course holding every level's boxes (level k's named l<k>_<name>), for a world whose envs
    switch levels by switching collisions; and each level's positions in its boxes. The levels must
    lie on one ground (textures aside): ValueError naming the course otherwise."""
    ground = replace(courses[0].ground, texture=None)
    boxes, spans = [], []
    for k, c in enumerate(courses):
        if replace(c.ground, texture=None) != ground:
            raise ValueError(f"course {c.name!r}: level {k} lies on another ground than level 0, so its levels cannot share one world")
        spans.append(np.arange(len(boxes), len(boxes) + len(c.boxes)))
        boxes += [replace(b, name=f"l{k}_{b.name}") for b in c.boxes]
    return replace(courses[0], boxes=tuple(boxes)), spans


def next_levels(level: np.ndarray, top: int, reached: np.ndarray, progress: np.ndarray, judged: np.ndarray,
                rng: np.random.Generator, demote_below: float = 0.5) -> np.ndarray:  # fmt: skip
    """The promote/demote rule (ParkourConfig.curriculum) for envs whose episodes just ended: up one
    level at the goal (past the top level: a random level), down one when the episode ended short of
    `demote_below` of the way from spawn to goal; envs not `judged` (standing on command) stay."""
    out = np.asarray(level, dtype=np.int64).copy()
    out[judged & reached] += 1
    out[judged & ~reached & (progress < demote_below)] -= 1
    over = out > top
    out[over] = rng.integers(0, top + 1, int(over.sum()))
    return np.clip(out, 0, top)


class ParkourEnv(WalkEnv):
    """WalkEnv over the parkour courses: spawn on level ground before the goal, forward commands,
    episodes end at the goal (not a fall) or in a pit; `height_scan` is observed. With
    `ParkourConfig.curriculum` the envs move between levels by how far they get (next_levels)."""

    def __init__(self, robot: RobotDescription, spec: PolicySpec, cfg: EnvConfig, pk: ParkourConfig, seed: int = 0, nthread: int = 2):
        self.pk = pk
        self.courses = training_courses(pk, seed)  # every level of every course, in ParkourConfig order
        self.steered = np.ones(cfg.n_envs, dtype=bool)  # per env: yaw rate from the course's TrackSteer
        self.left_free = np.zeros(cfg.n_envs, dtype=bool)  # ended off the corridor on a free yaw command
        super().__init__(robot, spec, cfg, seed=seed, nthread=nthread)
        # Touching a hurdle with the body is penalised as a collision, not ended as a fall: an episode
        # that ends at the first touch gives the policy no time to find out how to get over.
        self.trunk_contact_ends = False
        self.knee_bodies = np.append(self.knee_bodies, self.worlds[0].index.base_body)
        term = next(t for t in spec.observation.terms if t.name == "height_scan")
        self.scan_offsets = term.scan_points()
        self.world_course = np.zeros(self.n, dtype=int)  # env -> its world
        for i, w in enumerate(self.worlds):
            self.world_course[w.sl] = i
        n = self.n
        # per env, from the level it stands on (set at every reset)
        self.course_of = np.zeros(n, dtype=int)  # index into self.courses
        self.goal_x = np.full(n, np.inf)
        self.fall_z = np.full(n, -np.inf)
        self.line_y = np.zeros(n)  # the course's line (its spawn y): the corridor's middle, the goal direction's target
        self.spawn_x = np.zeros(n)
        self.end_x = np.zeros(n)  # where the last episode ended and whether it reached the goal (the curriculum's judge)
        self.reached = np.zeros(n, dtype=bool)
        self.last_obstacle_x0 = np.full(n, -np.inf)  # where the level's last obstacle starts
        self.best_x = np.full(n, -np.inf)  # furthest x so far (in steps of stuck_m) and when
        self.best_t = np.zeros(n)
        self.moves = {"up": 0, "down": 0}  # curriculum moves since the last log_fields()
        # a curriculum world switches levels per env by the boxes' collision bits (expanded per env)
        self.box_bits = []
        for w, spans in zip(self.worlds, self.level_boxes, strict=True):
            if spans is not None:
                boxes = w.index.boxes
                self.box_bits.append((w.batch.expand("geom_contype"), w.batch.expand("geom_conaffinity"),
                                      int(w.model.geom_contype[boxes[0]]), int(w.model.geom_conaffinity[boxes[0]])))  # fmt: skip
            else:
                self.box_bits.append(None)

    def _make_worlds(self, nthread: int) -> list[_World]:
        """Fixed levels: one world per level, envs split by `shares`. Curriculum: one world per course
        (union_course of its levels), envs split by `course_shares`, starting on levels by `shares`."""
        pk, plan, first = self.pk, [], 0
        self.world_levels: list[list[int]] = []  # per world: its levels' indices into self.courses
        self.level_boxes: list[list[np.ndarray] | None] = []  # per world: each level's rows of index.boxes
        if not pk.curriculum:
            for i, (c, k) in enumerate(zip(self.courses, split_envs(self.n, pk.world_shares()), strict=True)):
                if k:
                    plan.append((c, k, LevelTerrain([c], k)))
                    self.world_levels.append([i])
                    self.level_boxes.append(None)
            return self._lay_worlds(plan, nthread)
        shares_of = pk.course_shares
        for name, shares in pk.groups():
            idx = list(range(first, first + len(shares)))
            first += len(shares)
            weight = sum(shares) if shares_of is None else float(shares_of.get(name, 0.0))
            if weight > 0:
                plan.append((name, idx, shares, weight))
        if not plan:
            raise ValueError(f"ParkourConfig.course_shares {shares_of} gives no envs to any of the courses {[g for g, _ in pk.groups()]}")
        worlds = []
        for (_name, idx, shares, _w), k in zip(plan, split_envs(self.n, [p[3] for p in plan]), strict=True):
            if not k:
                continue
            courses = [self.courses[i] for i in idx]
            union, spans = union_course(courses)
            terrain = LevelTerrain(courses, k)
            terrain.level[:] = np.repeat(np.arange(len(shares)), split_envs(k, shares))  # where the envs start
            worlds.append((union, k, terrain))
            self.world_levels.append(idx)
            self.level_boxes.append(spans)
        return self._lay_worlds(worlds, nthread)
        return self._lay_worlds(plan, nthread)

    # ---- episodes ----------------------------------------------------------------------------

    def _spawn(self, w: _World, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each env on its level's course (`_spawn_on`); records where it starts."""
        t, k = w.terrain, len(local)
        lv = t.level[local]
        xy, yaw, z = np.zeros((k, 2)), np.zeros(k), np.zeros(k)
        for lev in np.unique(lv):
            rows = lv == lev
            xy[rows], yaw[rows], z[rows] = self._spawn_on(t.courses[lev], t.terrains[lev], int(rows.sum()))
        self.spawn_x[w.sl.start + local] = xy[:, 0]
        return xy, yaw, z

    def _spawn_on(self, course: Course, terrain: Terrain, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """On level ground (the whole footprint within 1 cm) between the spawn and 1 m before the goal."""
        rng = self.rng
        x0 = course.spawn_xy[0]
        x1 = max(x0, (course.goal_x if course.goal_x is not None else x0 + 3.0) - 1.0)
        xy = np.tile(np.asarray(course.spawn_xy, dtype=np.float64), (k, 1))
        ok = np.zeros(k, dtype=bool)
        fx, fy = np.meshgrid(np.linspace(-0.35, 0.35, 6), np.linspace(-0.18, 0.18, 3), indexing="ij")
        foot = np.stack([fx.ravel(), fy.ravel()], axis=-1)
        for _ in range(self.pk.spawn_tries):
            cand = np.column_stack([rng.uniform(x0, x1, k), course.spawn_xy[1] + rng.uniform(-0.1, 0.1, k)])
            h = terrain.heights(cand[:, None, :] + foot[None])
            good = (h.max(axis=1) - h.min(axis=1) < 0.01) & np.isfinite(h).all(axis=1) & ~ok
            if course.fall_z is not None:
                good &= h.min(axis=1) > course.fall_z
            xy[good] = cand[good]
            ok |= good
        if self.pk.start_share > 0:  # (drawn only then: the climb recipe's random stream is as it was)
            start = rng.random(k) < self.pk.start_share
            jitter = np.column_stack([rng.uniform(-0.3, 0.3, k), rng.uniform(-0.1, 0.1, k)])
            xy[start] = np.asarray(course.spawn_xy, dtype=np.float64) + jitter[start]
        yaw = course.spawn_yaw + rng.uniform(-0.15, 0.15, k)
        z = terrain.heights(xy[:, None, :] + foot[None]).max(axis=1) + 0.34
        return xy, yaw, z

    def _randomize(self, w: _World, local: np.ndarray, glob: np.ndarray) -> None:
        """WalkEnv's randomisation, then the env's level: its boxes collide (a curriculum world's
        other levels' do not) with that level's friction, and its goal, pit and line."""
        super()._randomize(w, local, glob)
        wi = int(self.world_course[glob[0]])
        t, lv = w.terrain, w.terrain.level[local]
        spans = self.level_boxes[wi]
        if spans is not None:
            contype, conaff, bit_t, bit_a = self.box_bits[wi]
            boxes = w.index.boxes
            contype[local[:, None], boxes[None, :]] = 0
            conaff[local[:, None], boxes[None, :]] = 0
            for lev in np.unique(lv):
                rows, ids = local[lv == lev], boxes[spans[lev]]
                contype[rows[:, None], ids[None, :]] = bit_t
                conaff[rows[:, None], ids[None, :]] = bit_a
                w.friction[rows[:, None], ids[None, :], 0] = t.courses[lev].friction
        courses = [t.courses[k] for k in lv]
        self.course_of[glob] = np.asarray(self.world_levels[wi])[lv]
        self.goal_x[glob] = [c.goal_x if c.goal_x is not None else np.inf for c in courses]
        self.fall_z[glob] = [c.fall_z if c.fall_z is not None else -np.inf for c in courses]
        self.line_y[glob] = [c.spawn_xy[1] for c in courses]
        self.last_obstacle_x0[glob] = [max((o.x0 for o in c.obstacles), default=-np.inf) for c in courses]

    def _sample_commands(self, ids: np.ndarray) -> None:
        k = len(ids)
        if k == 0:
            return
        self.command[ids] = 0.0
        stand = self.rng.random(k) < self.pk.p_stand
        self.command[ids, 0] = np.where(stand, 0.0, self.rng.uniform(*self.pk.vx, k))
        self.steered[ids] = (self.rng.random(k) < self.pk.steer_share) & ~stand
        self.command[ids, 2] = np.where(self.steered[ids] | stand, 0.0, self.rng.uniform(*self.pk.wz_free, k))
        self.cmd_timer[ids] = self.rng.uniform(*self.cfg.resample_s, k)

    def _steer(self, s: dict[str, np.ndarray]) -> None:
        """The steered envs' yaw-rate command from their pose now, as the success table's operator sets it."""
        wz = np.zeros(self.n)
        for w in self.worlds:
            t, p, yaw = w.terrain, s["pos"][w.sl], s["yaw"][w.sl]
            part = wz[w.sl]
            for lev in np.unique(t.level):
                rows = t.level == lev
                part[rows] = t.steers[lev].wz_array(p[rows, 0], p[rows, 1], yaw[rows])
        self.command[:, 2] = np.where(self.steered, wz, self.command[:, 2])

    def _observe(self, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        self._steer(s)
        return super()._observe(s)

    def _read(self) -> dict[str, np.ndarray]:
        s = super()._read()
        # the ground "under the robot" is the median of the ground under its feet: over a hurdle the
        # ground right below the base is the hurdle top, and the robot is not 0.28 m too low
        s["ground_base"] = np.median(s["ground_feet"], axis=1)
        s["yaw"] = yaw = quat_to_rpy(s["quat"])[:, 2]  # also the height scan's heading (_extra_inputs)
        foot_xy = s["foot_pos"][..., :2]
        s["clear_ground"] = np.concatenate(
            [ground_ahead(w.terrain.heights, foot_xy[w.sl], yaw[w.sl], self.pk.clear_reach) for w in self.worlds], axis=0
        )
        wts = self.cfg.weights
        if wts.tracking_goal_vel or wts.stall:
            s["goal_speed"] = goal_speed(s["pos"][:, :2], s["vel_w"][:, :2], self.line_y)
        if wts.feet_edge:
            s["foot_edge"] = np.concatenate([on_edge(w.terrain.heights, foot_xy[w.sl]) for w in self.worlds], axis=0)
        return s

    def _episode_ends(self, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        p = s["pos"]
        fell = p[:, 2] < self.fall_z  # in a pit
        # Leaving the track's corridor ends the episode as a failure when the env was being steered
        # along the line: walking around a hurdle is not crossing it (sim.outcome calls it
        # 'bypassed'), and it must not pay. An env holding a free yaw-rate command (`wz_free`) that
        # turns off the course did what it was told: its episode ends, not as a failure (no fall
        # cost, not judged by the curriculum), or following wz would be taught as a way to fall.
        wide = np.abs(p[:, 1] - self.line_y) > self.pk.corridor
        fell |= wide & self.steered
        goal = p[:, 0] > self.goal_x + 0.3
        stuck = self._stuck(p[:, 0]) & ~goal
        # what ended each episode that ends here (the tilt, height and joint checks are WalkEnv's):
        # training.closed_loop tells a pit from a stall with it, as sim.outcome does
        self.ended_by = {"pit": p[:, 2] < self.fall_z, "off_line": wide & self.steered, "stuck": stuck, "goal": goal}
        fell |= stuck
        self.left_free[:] = wide & ~fell
        self.end_x[:], self.reached[:] = p[:, 0], goal
        return fell, goal | self.left_free

    @property
    def standing(self) -> np.ndarray:
        """(n,) envs told to stand still (zero command): the stuck rule does not apply to them."""
        return ~moving(self.command)

    def _reset(self, ids: np.ndarray) -> None:
        if self.pk.curriculum and len(ids):
            self._move_levels(ids)
        super()._reset(ids)
        self.best_x[ids] = -np.inf
        self.best_t[ids] = 0.0

    def _move_levels(self, ids: np.ndarray) -> None:
        """next_levels for the envs whose episodes just ended. Not judged: the first reset (t = 0), the
        first episodes' desynchronised time limits (cut short at random, not failures), standing envs,
        envs that turned off the course on a free yaw-rate command."""
        judged = (self.t[ids] > 0) & ~self.standing[ids] & (self.t_limit[ids] >= self.cfg.episode_s - 1e-9) & ~self.left_free[ids]
        if not judged.any():
            return
        progress = (self.end_x[ids] - self.spawn_x[ids]) / np.maximum(self.goal_x[ids] - self.spawn_x[ids], 1e-6)
        # the goal promotes only an env that had an obstacle to cross (spawns are spread along the course)
        earned = self.reached[ids] & (self.spawn_x[ids] < self.last_obstacle_x0[ids])
        for w in self.worlds:
            inside = (ids >= w.sl.start) & (ids < w.sl.stop)
            if not inside.any():
                continue
            t, local = w.terrain, ids[inside] - w.sl.start
            before = t.level[local]
            after = next_levels(before, len(t.courses) - 1, earned[inside], progress[inside], judged[inside], self.rng, self.pk.demote_below)
            self.moves["up"] += int((after > before).sum())
            self.moves["down"] += int((after < before).sum())
            t.level[local] = after

    def _stuck(self, x: np.ndarray) -> np.ndarray:
        """Envs with no new progress for stuck_s; an env standing on command restarts its window."""
        gained = (x > self.best_x + self.pk.stuck_m) | self.standing
        self.best_x[gained] = x[gained]
        self.best_t[gained] = self.t[gained]
        return self.t - self.best_t > self.pk.stuck_s

    def _extra_inputs(self, s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        yaw = s["yaw"]
        out = np.empty((self.n, len(self.scan_offsets)))
        for w in self.worlds:
            out[w.sl] = height_scan(self.scan_offsets, s["pos"][w.sl], yaw[w.sl], w.terrain.heights)
        return {"height_scan": out}

    # ---- the curriculum's state ----------------------------------------------------------------

    def levels(self) -> dict[str, float]:
        """Mean level per course as a fraction of its top level (curriculum worlds only)."""
        out = {}
        for w in self.worlds:
            t = w.terrain
            if len(t.courses) > 1:
                out[t.course.name] = round(float(t.level.mean()) / (len(t.courses) - 1), 4)
        return out

    def log_fields(self) -> dict:
        """What ppo_loop adds to each iteration's record: the curriculum's levels and moves since last time."""
        if not self.pk.curriculum:
            return {}
        out = {"levels": self.levels(), "level_moves": dict(self.moves)}
        self.moves = {"up": 0, "down": 0}
        return out

    def layout(self) -> list[list]:
        """[course name, env count] per world, in row order: what a checkpoint's levels are laid out by."""
        return [[w.terrain.course.name, w.sl.stop - w.sl.start] for w in self.worlds]

    def state_dict(self) -> dict:
        """The curriculum's per-env levels and how the envs were split over the courses (a checkpoint
        keeps them: a resumed run goes on from them)."""
        if not self.pk.curriculum:
            return {}
        return {"levels": [int(v) for w in self.worlds for v in w.terrain.level], "worlds": self.layout()}

    def load_state_dict(self, state: dict) -> bool:
        """Levels from state_dict(); False (levels as configured) when they do not fit. The same split
        of the envs over the courses (or a checkpoint from before splits were saved, with the same env
        count): env by env. Another split (`course_shares` or `--envs` changed between phases): each
        course's envs take the levels its envs had, spread evenly over their distribution."""
        levels = state.get("levels")
        if not self.pk.curriculum or levels is None:
            return False
        levels = np.asarray(levels, dtype=np.int64)
        saved = state.get("worlds")
        if saved is None or [list(x) for x in saved] == self.layout():
            if len(levels) != self.n:
                return False
            new = [levels[w.sl] for w in self.worlds]
        else:
            if sum(int(k) for _, k in saved) != len(levels):
                return False
            bounds = np.cumsum([0] + [int(k) for _, k in saved])
            had = {name: np.sort(levels[a:b]) for (name, _), a, b in zip(saved, bounds[:-1], bounds[1:], strict=True)}
            new = []
            for w in self.worlds:
                lv, k = had.get(w.terrain.course.name), w.sl.stop - w.sl.start
                if lv is None or len(lv) == 0:
                    return False
                new.append(lv[np.floor((np.arange(k) + 0.5) * len(lv) / k).astype(int)])  # evenly spaced quantiles
        if any(lv.max(initial=0) >= len(w.terrain.courses) or lv.min(initial=0) < 0 for lv, w in zip(new, self.worlds, strict=True)):
            return False
        for lv, w in zip(new, self.worlds, strict=True):
            w.terrain.level[:] = lv
        return True
