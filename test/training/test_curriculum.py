"""The jumping teacher's promote/demote curriculum (issue 17): one world per course holding every
level's obstacles, each env on one level at a time. What must hold: an env collides with its own
level's boxes only, and that is the same physics as a world built from that level alone; its height
map, goal and steering are its level's; reaching the goal moves it up, stopping short moves it down,
and a resumed run keeps the levels."""

import shutil
import subprocess
import sys
from dataclasses import replace

import mujoco
import numpy as np
import pytest
import yaml
from mujoco import batch as mjbatch

from lucid_ros.errors import ConfigError
from lucid_ros.paths import config_dir
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.sim.courses import load_course, randomize
from lucid_ros.sim.heights import CourseHeights
from lucid_ros.sim.world import build_model
from lucid_ros.training.parkour import (
    JUMP_PARKOUR_LEVELS,
    JUMP_START_SHARE,
    PARKOUR_LEVEL_KEYS,
    ParkourConfig,
    ParkourEnv,
    distill_config,
    level_course,
    next_levels,
    parkour_config,
    split_envs,
    teacher_env_config,
    training_courses,
    union_course,
)

LEVELS = (0.0, 1.0)  # hurdles 0.10 m and 0.305 m


def curriculum_env(recipe: str = "climb") -> ParkourEnv:
    """Four Go1 envs on the two hurdle levels, the curriculum on, reset."""
    robot = load_robot("go1")
    spec = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    pk = ParkourConfig(levels={"hurdle": LEVELS}, shares={"hurdle": (1.0, 1.0)}, parkour_seeds=(), p_stand=0.0, curriculum=True)
    cfg = replace(teacher_env_config(4, recipe), latency_steps=(0, 0))
    e = ParkourEnv(robot, spec, cfg, pk, seed=5, nthread=1)
    e.reset_all()
    return e


@pytest.fixture(scope="module")
def env():
    return curriculum_env()


def test_the_rule_up_at_the_goal_down_when_short_and_past_the_top_anywhere():
    rng = np.random.default_rng(0)
    level = np.array([0, 1, 2, 2, 1, 1, 0])
    reached = np.array([True, True, False, False, False, True, False])
    progress = np.array([1.0, 1.0, 0.2, 0.7, 0.1, 1.0, 0.1])
    judged = np.array([True, True, True, True, True, False, True])
    out = next_levels(level, 2, reached, progress, judged, rng, demote_below=0.5)
    assert out.tolist() == [1, 2, 1, 2, 0, 1, 0]  # up, up, down (short), stays (0.7), down, standing: stays, floor
    tops = next_levels(np.full(200, 2), 2, np.ones(200, bool), np.ones(200), np.ones(200, bool), rng)
    assert set(tops.tolist()) == {0, 1, 2}  # past the top: a random level, the easy ones not forgotten


def test_an_env_collides_with_its_own_levels_boxes_only_and_the_physics_is_that_levels_alone(env):
    """A Go1 dropped 0.4 m above the 0.305 m level's first hurdle: on level 1 it comes to rest on the
    box, on level 0 (0.10 m hurdles, elsewhere) below its top; each trajectory equals (1e-9) the one
    in a model built from that level's course alone."""
    robot = env.robot
    w = env.worlds[0]
    assert len(w.terrain.courses) == 2 and w.terrain.level.tolist() == [0, 0, 1, 1]
    box = w.terrain.courses[1].boxes[0]
    x = box.pos[0]
    top = box.pos[2] + box.size[2] / 2
    union, _spans = union_course(w.terrain.courses)
    for lev, course in enumerate(w.terrain.courses):
        alone, aix = build_model(robot, course)
        solo = mjbatch.Batch(alone, 1, nthread=1)
        rows = np.flatnonzero(w.terrain.level == lev)[:1]
        ix = w.index
        q0 = np.array(w.qpos[rows[0]])
        q0[ix.root_qpos : ix.root_qpos + 3] = [x, 0.0, top + 0.4]
        q0[ix.root_qpos + 3 : ix.root_qpos + 7] = [1, 0, 0, 0]
        q0[ix.joint_qpos] = robot.default_pose
        # the same friction the env drew for this row, in both models
        fr_union = np.array(w.friction[rows[0]])
        sq, sv, sf = solo.bind("qpos"), solo.bind("qvel"), solo.expand("geom_friction")
        sf[0, aix.ground, :] = fr_union[ix.ground]
        sf[0, aix.boxes, :] = fr_union[ix.boxes[_spans[lev]]]
        solo.expand("body_mass")[0] = w.body_mass[rows[0]]  # the env's drawn payload
        solo.set_const(np.array([0]))
        qpos, qvel = w.qpos[:], w.qvel[:]
        qpos[rows[0]], qvel[rows[0]] = q0, 0.0
        w.qpos[:], w.qvel[:] = qpos, qvel
        w.ctrl[:] = 0.0
        w.xfrc[:] = 0.0
        sq[0], sv[0] = q0, 0.0
        w.batch.forward(rows)
        solo.forward(np.array([0]))
        for _ in range(400):  # 0.8 s: falls 0.4 m and settles
            w.batch.step(stage=mujoco.mjtStage.mjSTAGE_NONE.value)
            solo.step(stage=mujoco.mjtStage.mjSTAGE_NONE.value)
            np.testing.assert_allclose(w.qpos[rows[0]], sq[0], rtol=0, atol=1e-9)
        z = float(w.qpos[rows[0], ix.root_qpos + 2])
        if lev == 1:
            assert z > top + 0.05, f"level 1: the trunk should rest above the 0.305 m box, z {z:.3f}"
        else:
            assert z < top, f"level 0: the 0.305 m box is not there, yet the trunk rests at z {z:.3f}"
    env.reset_all()


def test_height_map_goal_and_steering_are_the_envs_level(env):
    w = env.worlds[0]
    env.reset_all()
    s = env.state
    scan = env._extra_inputs(s)["height_scan"]
    from lucid_ros.policy.observations import height_scan

    for i in range(env.n):
        course = w.terrain.courses[w.terrain.level[i]]
        want = height_scan(env.scan_offsets, s["pos"][i : i + 1], s["yaw"][i : i + 1], CourseHeights(course))
        np.testing.assert_allclose(scan[i : i + 1], want)
        assert env.goal_x[i] == course.goal_x
        assert env.courses[env.course_of[i]] is course


def test_reaching_the_goal_promotes_stopping_short_demotes_and_the_collisions_follow(env):
    w = env.worlds[0]
    env.reset_all()
    t = w.terrain
    contype = env.box_bits[0][0]
    spans = env.level_boxes[0]
    ids = np.arange(env.n)
    env.command[:, 0] = 0.5  # told to walk: judged
    env.t[:], env.t_limit[:] = 3.0, env.cfg.episode_s
    env.reached[:] = [True, False, True, False]
    env.spawn_x[:] = np.minimum(env.spawn_x, env.last_obstacle_x0 - 0.1)  # each had a hurdle to cross
    env.end_x[:] = env.spawn_x + [5.0, 0.1, 5.0, 5.0]
    before = t.level.copy()  # [0, 0, 1, 1]
    env._reset(ids)
    after = t.level.tolist()
    boxes = w.index.boxes
    for i, lev in enumerate(after):
        on = contype[i, boxes[spans[lev]]]
        off = contype[i, boxes[spans[1 - lev]]]
        assert (on != 0).all() and (off == 0).all(), f"env {i} on level {lev}"
        assert env.goal_x[i] == t.courses[lev].goal_x
    assert after[0] == 1 and after[1] == 0  # promoted; demoted from 0 stays at 0
    assert after[2] in (0, 1)  # past the top: a random level
    assert after[3] == 1  # short of the goal but more than half way (it timed out walking): stays
    assert env.moves["up"] >= 1 and before.tolist() == [0, 0, 1, 1]
    # the first episodes end at random times (desynchronised): such an ending is not judged
    t.level[:] = [1, 1, 1, 1]
    env.t[:], env.t_limit[:] = 3.0, [3.0, env.cfg.episode_s, 3.0, env.cfg.episode_s]
    env.reached[:], env.end_x[:] = False, env.spawn_x + 0.1
    env.command[:, 0] = 0.5
    env._reset(ids)
    assert t.level.tolist() == [1, 0, 1, 0]
    # reaching the goal from a spawn past the last hurdle earns nothing
    t.level[:] = 0
    env.t[:], env.t_limit[:] = 3.0, env.cfg.episode_s
    env.command[:, 0] = 0.5
    env.spawn_x[:] = env.last_obstacle_x0 + [0.5, 0.5, -0.5, -0.5]
    env.reached[:], env.end_x[:] = True, env.goal_x + 0.3
    env._reset(ids)
    assert t.level.tolist() == [0, 0, 1, 1]


def test_levels_survive_a_checkpoint_and_a_mismatch_is_refused(env):
    w = env.worlds[0]
    w.terrain.level[:] = [1, 0, 1, 1]
    state = env.state_dict()
    assert state == {"levels": [1, 0, 1, 1], "worlds": [["hurdle", 4]]}
    w.terrain.level[:] = 0
    assert env.load_state_dict(state) and w.terrain.level.tolist() == [1, 0, 1, 1]
    w.terrain.level[:] = 0
    assert env.load_state_dict({"levels": [1, 0, 1, 1]}) and w.terrain.level.tolist() == [1, 0, 1, 1]  # from before splits were saved
    assert not env.load_state_dict({"levels": [1, 0]})  # another env count: levels start as configured
    assert not env.load_state_dict({"levels": [1, 0, 5, 1]})  # a level this world does not have
    assert not env.load_state_dict({"levels": [1, 0], "worlds": [["gaps", 2]]})  # no levels saved for this course


def test_levels_follow_their_course_when_the_envs_are_split_over_the_courses_anew():
    """Between phases the envs may be split over the courses differently (course_shares, --envs):
    each course's envs then take the levels that course's envs had, in the same proportions, and
    never another course's (which a row-by-row copy would have given them, silently)."""
    robot = load_robot("go1")
    spec = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    cfg = replace(teacher_env_config(12, "jump"), latency_steps=(0, 0))

    def make(hurdle: float, gaps: float) -> ParkourEnv:
        pk = ParkourConfig(
            levels={"hurdle": (0.0, 0.5, 1.0), "gaps": (0.0, 0.5, 1.0)}, shares={"hurdle": (1.0,) * 3, "gaps": (1.0,) * 3},
            parkour_seeds=(), p_stand=0.0, curriculum=True, course_shares={"hurdle": hurdle, "gaps": gaps},
        )  # fmt: skip
        return ParkourEnv(robot, spec, cfg, pk, seed=0, nthread=1)

    a = make(0.5, 0.5)
    assert a.layout() == [["hurdle", 6], ["gaps", 6]]
    a.worlds[0].terrain.level[:] = [2, 2, 2, 2, 1, 1]
    a.worlds[1].terrain.level[:] = 0
    b = make(1 / 6, 5 / 6)
    assert b.layout() == [["hurdle", 3], ["gaps", 9]]
    assert b.load_state_dict(a.state_dict())
    assert sorted(b.worlds[0].terrain.level.tolist()) == [1, 2, 2]
    assert b.worlds[1].terrain.level.tolist() == [0] * 9


def test_the_jump_recipe_uses_the_curriculum_and_the_climb_recipe_fixed_levels():
    assert parkour_config("jump").curriculum and not parkour_config("climb").curriculum


def test_the_jump_recipes_gap_levels_step_by_at_most_8_cm_and_span_the_course():
    """An env is promoted only by crossing all six gaps of its course in one episode; the teacher
    crossed 92 % of 0.15 m gaps and 63 % of 0.30 m ones, so 0.15 m steps left it on the first level
    (0.04 of the top after 114 min). The climb recipe keeps its four levels (the shipped teacher's)."""
    course = load_course("gaps")
    lo, hi = next((a, b) for s, p, a, b in course.variants.geometry if (s, p) == ("blocks", "gap"))
    for recipe, most in (("jump", 0.08), ("climb", 0.16)):
        pk = parkour_config(recipe)
        widths = [lo + v * (hi - lo) for v in pk.levels["gaps"]]
        assert widths[0] == pytest.approx(lo) and widths[-1] == pytest.approx(hi), recipe
        assert max(np.diff(widths)) <= most, (recipe, widths)
        assert len(pk.shares["gaps"]) == len(pk.levels["gaps"]), recipe
    assert len(parkour_config("climb").levels["gaps"]) == 4
    with pytest.raises(ValueError, match="unknown teacher recipe"):
        parkour_config("fly")


def test_levels_that_lie_on_different_grounds_cannot_share_a_world():
    a, b = load_course("hurdle"), load_course("gaps")
    with pytest.raises(ValueError, match="another ground"):
        union_course([a, b])


def test_leaving_the_corridor_fails_a_steered_env_and_ends_a_free_yaw_one_unjudged():
    """An env steered along the line that leaves the corridor bypassed the obstacle: a failure, with
    the jump recipe's fall cost. One holding a free yaw-rate command that takes it off the course
    did as told: its episode ends (bootstrapped, like a time limit), costs nothing and moves no level."""
    e = curriculum_env("jump")
    hold = np.zeros((e.n, e.robot.n_joints))
    e.step(hold)
    e.t[:] = 3.0  # past the first episodes' random limits: judged if it were a failure
    e.t_limit[:] = e.cfg.episode_s
    e.steered[:] = [True, False, True, False]
    e.command[:, 2] = np.where(e.steered, 0.0, 0.3)
    e.line_y[:] = e.state["pos"][:, 1] + e.pk.corridor + 0.2  # every robot is now beside the course
    levels = e.worlds[0].terrain.level.copy()
    _obs, _priv, rew, fell, timeout, _info = e.step(hold)
    assert fell.tolist() == [True, False, True, False]
    assert timeout.tolist() == [False, True, False, True]
    assert np.all(rew[[0, 2]] < e.cfg.fall_cost + 0.1) and np.all(rew[[1, 3]] > e.cfg.fall_cost + 1.0), rew
    # the steered envs were judged (short of half way: down, or staying at the bottom); the free ones were not
    after = e.worlds[0].terrain.level
    assert after[1] == levels[1] and after[3] == levels[3]
    assert after[0] == max(levels[0] - 1, 0) and after[2] == max(levels[2] - 1, 0)


def test_a_start_share_spawns_envs_where_the_success_table_starts_its_runs():
    """The mixed course's first rolled ramp: the training env, its spawns spread along the course,
    counted it crossed 70 % of the time, while every run from the course's start (the success
    table's) fell on it. The jump recipe starts a share of its envs there; the climb recipe none."""
    robot = load_robot("go1")
    spec = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    cfg = replace(teacher_env_config(16, "jump"), latency_steps=(0, 0))
    for share, near in ((1.0, 16), (0.0, None)):
        pk = ParkourConfig(levels={}, shares={"parkour": (1.0,)}, parkour_seeds=(1,), p_stand=0.0, start_share=share)
        e = ParkourEnv(robot, spec, cfg, pk, seed=3, nthread=1)
        e.reset_all()
        spawn = e.courses[0].spawn_xy
        at_start = int((np.abs(e.spawn_x - spawn[0]) <= 0.3 + 1e-9).sum())
        if near is not None:
            assert at_start == near, e.spawn_x
        else:
            assert at_start <= 4, e.spawn_x  # spread along ~13 m of course: 1 of 16 within 0.3 m of its start
    assert parkour_config("jump").start_share > 0 and parkour_config("climb").start_share == 0


def test_the_jump_recipes_mixed_course_climbs_from_gentle_ramps_to_the_tables_hardest_layout():
    """The climb recipe's two random layouts of the mixed course both roll their ramps 0.38-0.40
    rad (the table draws 0.2-0.45): from the start the teacher crossed the first ramp 0 of 112 times;
    with levels of the ramps' roll but their stagger drawn, the table still failed on the ramps. The
    jump recipe's mixed course has levels: every number of its geometry at the easy end of its
    range at level 0 and at the hard end at the top; the climb recipe's are the same two random
    variants as before."""
    parkour = load_course("parkour")
    ranges = {f"{s}.{p}": (lo, hi) for s, p, lo, hi in parkour.variants.geometry}
    pk = parkour_config("jump")
    courses = [c for c in training_courses(pk) if c.name == "parkour"]
    assert len(courses) == len(pk.parkour_levels) >= 4 and pk.n_parkour() == len(pk.shares["parkour"])
    for key in PARKOUR_LEVEL_KEYS:
        lo, hi = ranges[key]
        drawn = [dict(c.drawn)[key] for c in courses]
        assert drawn[0] == pytest.approx(lo) and drawn[-1] == pytest.approx(hi), key
        assert np.all(np.diff(drawn) > 0), (key, drawn)
    pinned = {k for k, (lo, hi) in ranges.items() if lo != hi}
    assert pinned <= set(PARKOUR_LEVEL_KEYS), pinned - set(PARKOUR_LEVEL_KEYS)  # no number is left to chance
    climb = [c for c in training_courses(parkour_config("climb")) if c.name == "parkour"]
    assert [c.drawn for c in climb] == [randomize(parkour, s).drawn for s in (1, 2)]
    with pytest.raises(ValueError, match="no variants range"):
        level_course(load_course("hurdle"), 0.5, 1, ("ramps.angle",))


def test_students_learn_on_their_teachers_worlds_on_fixed_levels():
    """distill builds its worlds from the teacher's recipe (its spec's training.recipe): the jumping
    teacher's students see its finer gaps and graded mixed course, a teacher's from before recipes
    (no training.recipe) the climb's; never a curriculum world, whose every level's boxes a camera
    would see."""
    robot = load_robot("go1")
    shipped = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    older = replace(shipped, training={k: v for k, v in shipped.training.items() if k != "recipe"})
    assert distill_config(older) == ParkourConfig()
    jumper = replace(shipped, training={**older.training, "recipe": "jump"})
    pk = distill_config(jumper)
    assert not pk.curriculum and pk.levels == parkour_config("jump").levels and pk.parkour_levels == JUMP_PARKOUR_LEVELS
    assert pk.start_share == JUMP_START_SHARE
    with pytest.raises(ConfigError, match="training.recipe: .*recipe 'fly'"):
        distill_config(replace(shipped, training={"recipe": "fly"}))


def test_course_weights_give_the_students_weak_courses_more_envs_and_refuse_an_unknown_course():
    """`distill --course-weights gaps=2.5,parkour=2.5`: those courses' worlds get that many times the
    share (every level of them alike), the others keep theirs; a course the recipe does not have, or
    a factor <= 0, is refused naming the courses there are."""
    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)

    def envs(pk):
        counts, i = {}, 0
        per_world = split_envs(60, pk.world_shares())
        for name, sh in pk.groups():
            counts[name] = sum(per_world[i : i + len(sh)])
            i += len(sh)
        return counts

    plain, weighted = distill_config(teacher), distill_config(teacher, {"gaps": 2.5, "parkour": 2.5})
    assert [sh for _, sh in weighted.groups()][:3] == [sh for _, sh in plain.groups()][:3]
    for name in ("gaps", "parkour"):
        assert dict(weighted.groups())[name] == pytest.approx([2.5 * s for s in dict(plain.groups())[name]])
    before, after = envs(plain), envs(weighted)
    assert sum(after.values()) == 60 and after["gaps"] > 1.4 * before["gaps"] and after["parkour"] > before["parkour"], (before, after)
    assert all(after[c] < before[c] for c in ("hurdle", "stairs_up", "stairs_down")), (before, after)
    for bad in ({"gap": 2.0}, {"gaps": 0.0}):
        with pytest.raises(ValueError, match="hurdle.*gaps.*parkour"):
            distill_config(teacher, bad)


def test_distill_refuses_a_teacher_trained_with_an_unknown_recipe_by_name_with_status_2(tmp_path):
    """A teacher spec naming a recipe this code does not know stops distill before any world is
    built: the spec's path and field on stderr, exit status 2, no traceback."""
    src = config_dir() / "policies"
    spec = yaml.safe_load((src / "go1_teacher.yaml").read_text())
    spec["training"]["recipe"] = "fly"
    (tmp_path / "go1_teacher.yaml").write_text(yaml.safe_dump(spec))
    shutil.copy(src / "go1_teacher.onnx", tmp_path / "go1_teacher.onnx")
    out = subprocess.run(
        [sys.executable, "-m", "lucid_ros.training.distill", "--teacher", str(tmp_path / "go1_teacher.yaml"), "--out-dir", str(tmp_path / "out"), "--minutes", "0.1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "training.recipe" in out.stderr and "'fly'" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "out").exists()
