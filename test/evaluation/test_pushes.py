"""Push recovery episodes: seeded, lateral, and a push that acts (a shove no robot survives topples it)."""

import numpy as np

from lucid_ros.evaluation.pushes import run_push, schedule


def test_the_push_schedule_is_seeded_lateral_and_of_the_asked_force():
    a, b = schedule(50.0, 10), schedule(50.0, 10)
    assert a == b
    for p in a:
        v = p.vector()
        assert np.isclose(np.linalg.norm(v), 50.0) and v[2] == 0.0
        assert abs(v[1]) >= 50.0 * np.cos(np.radians(30.0)) - 1e-9  # within 30 degrees of lateral
        assert 0.0 <= p.delay <= 1.0
    assert {np.sign(p.vector()[1]) for p in a} == {-1.0, 1.0}  # both sides over ten seeds


def test_a_mild_push_is_survived_and_a_shove_topples_the_walking_go1():
    """The same episode, two forces: the outcome must depend on the push (it really acts on the base)."""
    mild, shove = schedule(20.0, 1)[0], schedule(600.0, 1)[0]
    ok = run_push("go1", "go1_walk", mild, settle=1.0, duration=0.2, after=2.0)
    assert ok["survived"], ok
    down = run_push("go1", "go1_walk", shove, settle=1.0, duration=0.3, after=2.0)
    assert not down["survived"], down
