"""The lockstep clock: waits for the answer to a tick, measures latency, counts misses."""

import threading
import time

from lucid_ros.sim.lockstep import Lockstep


def test_waits_for_the_answer_and_measures_latency():
    ls = Lockstep(0.02, timeout=2.0)
    ls.published(0.06)
    threading.Timer(0.05, lambda: ls.answered(0.0600000001)).start()  # a stamp that went through a message
    t0 = time.perf_counter()
    assert ls.wait(0.06)
    assert 0.04 < time.perf_counter() - t0 < 1.0
    assert len(ls.latencies) == 1 and 0.04 < ls.latencies[0] < 1.0
    assert ls.misses == 1  # 50 ms is longer than the 20 ms tick: a real-time deadline miss


def test_a_silent_graph_times_out_and_is_counted():
    ls = Lockstep(0.02, timeout=0.05)
    ls.published(0.0)
    assert not ls.wait(0.0)
    assert ls.timeouts == 1 and ls.misses == 1


def test_an_older_answer_does_not_release_a_newer_tick():
    ls = Lockstep(0.02, timeout=0.05)
    ls.published(0.04)
    ls.answered(0.02)
    assert not ls.wait(0.04)
