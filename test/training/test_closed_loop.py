"""`training.closed_loop`: an RGB student, its depth guide and each controller on the other's code,
over the same seeded courses (issue 17).

The four drivers differ only in which controller acts and which code it reads: a student whose
controller is the guide's drives exactly as the guide does on the guide's code, and exactly as the
guide's controller does on the student's code. Pairs whose codes are not one space are refused.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from lucid_ros.errors import ConfigError  # noqa: E402
from lucid_ros.policy.spec import load_spec  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.sim.course_types import Obstacle  # noqa: E402
from lucid_ros.training.closed_loop import check_pair, distance_ahead, drive, episode_outcome, main, near_obstacle, obstacles_crossed  # noqa: E402
from lucid_ros.training.config import TrainConfig  # noqa: E402
from lucid_ros.training.distill import DistillEnv, build_students, load_guide, read_guide  # noqa: E402
from lucid_ros.training.parkour import distill_config, teacher_env_config  # noqa: E402

ROBOT = load_robot("go1")
ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "config/policies/go1_teacher.yaml"
GUIDE = ROOT / "runs/carry/go1_depth_color_view/go1_depth.yaml"  # the guide the carried drawing student was fitted to
STUDENT = ROOT / "runs/carry/go1_rgb_draw/go1_rgb.yaml"


def _flags(**on) -> dict[str, bool]:
    return {k: on.get(k, False) for k in ("pit", "off_line", "stuck", "goal")}


def test_each_way_an_episode_ends_has_sim_outcomes_name():
    assert episode_outcome(_flags(goal=True), fell=False) == "succeeded"
    assert episode_outcome(_flags(stuck=True), fell=True) == "stuck"
    assert episode_outcome(_flags(off_line=True), fell=True) == "bypassed"
    assert episode_outcome(_flags(pit=True), fell=True) == "fell"
    assert episode_outcome(_flags(), fell=True) == "fell"  # tilt, height, a joint out of range
    assert episode_outcome(_flags(), fell=False) == "timed_out"


def test_an_obstacle_is_crossed_when_the_trunk_passes_its_far_end_and_only_those_ahead_count():
    obs = [Obstacle(f"h{k}", x0, x0 + 0.3, -1.0, 1.0) for k, x0 in enumerate((1.0, 3.0, 5.0))]
    assert obstacles_crossed(obs, spawn_x=0.0, end_x=3.2) == (1, 3)  # on top of the second: not crossed
    assert obstacles_crossed(obs, spawn_x=0.0, end_x=3.31) == (2, 3)
    assert obstacles_crossed(obs, spawn_x=2.0, end_x=9.0) == (2, 2)  # spawned past the first


def test_near_an_obstacle_is_from_the_window_before_its_start_to_0_3_m_past_its_end():
    class C:
        obstacles = [Obstacle("h", 2.0, 2.3, -1.0, 1.0)]

    x = np.array([1.55, 1.65, 2.1, 2.59, 2.61])
    np.testing.assert_array_equal(near_obstacle(x, [C] * 5, 0.4), [False, True, True, True, False])
    # the distance to the next one's start: negative on it, and past it (0.3 m on) none is ahead
    np.testing.assert_allclose(distance_ahead(x, [C] * 5), [0.45, 0.35, -0.1, -0.59, np.inf])


def test_a_student_fitted_to_another_guide_or_not_colour_is_refused_naming_the_field():
    guide, student = read_guide(GUIDE), load_spec(STUDENT, ROBOT)
    check_pair(student, guide)  # the carried pair: one code space
    with pytest.raises(ConfigError, match="training.depth_guide.sha256"):
        check_pair(student, read_guide(ROOT / "config/policies/go1_depth.yaml"))
    with pytest.raises(ConfigError, match="inputs.images"):
        check_pair(guide, guide)


def test_usage_errors_and_a_mismatched_pair_exit_2(tmp_path, capsys):
    base = ["--student", str(STUDENT), "--depth-guide", str(GUIDE), "--out-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as e:
        main([*base, "--drivers", "student,teacher"])
    assert e.value.code == 2 and "teacher" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([*base, "--courses", "hurdle,moon"])
    assert e.value.code == 2 and "moon" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="sha256"):
        main(["--student", str(STUDENT), "--depth-guide", str(ROOT / "config/policies/go1_depth.yaml"), "--out-dir", str(tmp_path)])


def _pair():
    """The guide, and a fresh RGB student with the guide's controller grafted on (its own encoder)."""
    teacher = load_spec(TEACHER, ROBOT)
    guide_spec = read_guide(GUIDE)
    cfg = TrainConfig(seed=0, nthread=1, env=replace(teacher_env_config(4, "jump"), episode_s=30.0))
    specs, models = build_students(
        ROBOT, cfg, teacher, Path(tempfile.mkdtemp()), None, guide_spec.images[0].camera, True, guided=True, depth_pre=guide_spec.images[0].preprocess
    )  # fmt: skip
    load_guide(guide_spec, specs[0], models, graft=True)
    pk = distill_config(teacher)
    pk = replace(
        pk, shares={k: tuple((1.0 if k == "hurdle" and i == 0 else 1e-9) for i in range(len(v))) for k, v in pk.shares.items()}, start_share=1.0
    )
    make = lambda: DistillEnv(ROBOT, teacher, specs, cfg.env, pk, seed=3, nthread=1, latency_max_steps=0)  # noqa: E731
    return make, models


def test_a_controller_acts_the_same_on_the_same_code_whichever_student_carries_it():
    make, (guide, student) = _pair()
    runs = {d: drive(make(), guide, student, d, steps=40, vx=0.5) for d in ("guide", "student_on_guide_code", "student", "guide_on_student_code")}
    for a, b in (("guide", "student_on_guide_code"), ("student", "guide_on_student_code")):
        np.testing.assert_array_equal(runs[a].end_x, runs[b].end_x)
        np.testing.assert_array_equal(runs[a].err, runs[b].err)
    # the fresh encoder's code is not the guide's: its robots go elsewhere, and its code explains little
    assert not np.array_equal(runs["guide"].end_x, runs["student"].end_x)
    assert np.all(runs["guide"].spawn_x == runs["student"].spawn_x)  # the same seeded spawns for every driver
    assert runs["guide"].err.mean() > 0.0
    assert runs["guide"].err.shape == runs["guide"].still.shape == runs["guide"].live.shape == (40, 4)
    assert runs["guide"].live[0].all()  # every env starts in its first episode
    # a window that holds the whole course: the windowed drivers are the plain ones
    wide = {d: drive(make(), guide, student, d, steps=40, vx=0.5, near_m=1e3) for d in ("student_on_guide_code_near", "student_on_own_code_near")}
    np.testing.assert_array_equal(wide["student_on_guide_code_near"].end_x, runs["student_on_guide_code"].end_x)
    np.testing.assert_array_equal(wide["student_on_own_code_near"].end_x, runs["student"].end_x)


def test_the_tool_writes_a_table_for_each_driver(tmp_path):
    rc = main(["--student", str(STUDENT), "--depth-guide", str(GUIDE), "--courses", "hurdle", "--envs", "7", "--seconds", "0.3",
               "--drivers", "student,guide", "--threads", "1", "--out-dir", str(tmp_path)])  # fmt: skip
    assert rc == 0
    doc = json.loads((tmp_path / "closed_loop.json").read_text())
    assert set(doc["drivers"]) == {"student", "guide"}
    for d in doc["drivers"].values():
        assert d["episodes"] == 7 and sum(d["outcomes"].values()) == 7
        assert set(d["code_r2_by_distance"]) == {"0.8-2 m before", "0.4-0.8 m before", "0-0.4 m before", "on it"}
    assert len(doc["episodes"]["student"]) == 7 and all(e["course"] == "hurdle" for e in doc["episodes"]["student"])
    assert "| student |" in (tmp_path / "closed_loop.md").read_text()
