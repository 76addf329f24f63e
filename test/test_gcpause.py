"""A wall-clock graph freezes the heap it was built with, so a full collection while it runs walks
only what was made since (a full walk of a test process's heap stalled the H1 graph past its
50 ms staleness timeouts), and every collection's pause is measured."""

import gc
import time

from lucid_ros.gcpause import GcPauses, freeze_heap, thaw


def _full_collection_ms() -> float:
    t0 = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - t0) * 1e3


def test_a_frozen_heap_is_not_walked_by_a_full_collection_and_thaw_returns_it():
    assert gc.get_freeze_count() == 0
    heap = [[i] for i in range(300_000)]  # a big live heap: torch's, pytest's
    before = min(_full_collection_ms() for _ in range(3))
    freeze_heap()
    try:
        assert gc.get_freeze_count() >= len(heap)
        after = min(_full_collection_ms() for _ in range(3))
        assert after < 0.3 * before, (before, after)
        freeze_heap()  # nested graphs: the inner one's end does not thaw the outer one's heap
        thaw()
        assert gc.get_freeze_count() >= len(heap)
    finally:
        thaw()
    assert gc.get_freeze_count() == 0
    del heap


def test_every_collection_is_timed_by_generation():
    pauses = GcPauses().install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.remove()
    assert pauses.count[0] >= 1 and pauses.count[2] >= 1
    assert 0.0 < pauses.max_ms[2] < 5_000 and pauses.worst_ms == max(pauses.max_ms)
    gc.collect(2)  # removed: no longer counted
    assert pauses.count[2] == 1
    assert "gen2 1x max" in pauses.summary()
