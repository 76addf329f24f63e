"""StampSync: joins by stamp in any arrival order, drops what can no longer join, honours tolerance."""

import itertools

import numpy as np
import pytest

from lucid_ros.proprio.sync import StampSync


@pytest.mark.parametrize("order", list(itertools.permutations(["joints", "imu", "target"])))
def test_joins_in_any_order(order):
    sync = StampSync(["joints", "imu", "target"])
    out = [sync.push(k, 1.0, f"{k}@1") for k in order]
    assert out[:2] == [None, None]
    assert out[2] == {"joints": "joints@1", "imu": "imu@1", "target": "target@1"}
    assert sync.last_stamp == 1.0 and sync.dropped == 0


def test_exact_match_required_by_default():
    sync = StampSync(["a", "b"])
    assert sync.push("a", 1.0, 1) is None
    assert sync.push("b", 1.0 + 1e-9, 2) is None


def test_tolerance_takes_the_closest_within_it():
    sync = StampSync(["a", "b"], tolerance=0.005)
    sync.push("a", 0.996, "a-early")
    sync.push("a", 1.003, "a-close")
    assert sync.push("b", 1.004, "b") == {"a": "a-close", "b": "b"}
    assert sync.push("a", 1.010, "a2") is None
    assert sync.push("b", 1.016, "b2") is None  # 6 ms apart


def test_older_unmatched_values_are_dropped():
    sync = StampSync(["a", "b"])
    sync.push("a", 1.0, "a1")
    sync.push("a", 2.0, "a2")
    assert sync.push("b", 2.0, "b2") == {"a": "a2", "b": "b2"}
    assert sync.dropped == 1  # a1 can never join a newer set
    assert sync.push("b", 1.0, "b1") is None  # late: older than the emitted set
    assert sync.push("a", 2.0, "a2 again") is None  # a set is never emitted twice
    assert sync.dropped == 3


def test_newer_values_survive_an_older_match():
    sync = StampSync(["a", "b"])
    sync.push("a", 1.0, "a1")
    sync.push("a", 2.0, "a2")
    sync.push("b", 2.0 - 1.0, "b1")  # completes the older set first
    assert sync.push("b", 2.0, "b2") == {"a": "a2", "b": "b2"}


def test_repeated_stamp_replaces_and_depth_bounds_memory():
    sync = StampSync(["a", "b"], depth=4)
    sync.push("a", 1.0, "old")
    sync.push("a", 1.0, "new")
    assert sync.push("b", 1.0, "b") == {"a": "new", "b": "b"}
    for k in range(2, 100):  # b is dead: a's buffer stays bounded
        sync.push("a", float(k), k)
    assert len(sync._buf["a"]) == 4 and sync.push("b", 99.0, "b") == {"a": 99, "b": "b"}


def test_bad_stamps_and_keys():
    sync = StampSync(["a", "b"])
    assert sync.push("a", float("nan"), 1) is None and sync.dropped == 1
    with pytest.raises(KeyError, match="no key 'c'"):
        sync.push("c", 1.0, 1)
    with pytest.raises(ValueError):
        StampSync(["a"], tolerance=-1)


def test_shuffled_stream_emits_every_tick_once_in_order():
    rng = np.random.default_rng(0)
    sync = StampSync(["joints", "imu"])
    msgs = [(k, round(t * 0.02, 6)) for t in range(200) for k in ("joints", "imu")]
    # each message is delayed by up to one tick: arrival order is scrambled locally
    arrival = sorted(msgs, key=lambda m: m[1] + rng.uniform(0, 0.03))
    out = [sync.push(k, t, (k, t)) for k, t in arrival]
    stamps = [o["joints"][1] for o in out if o is not None]
    assert stamps == sorted(stamps) and len(stamps) == len(set(stamps))
    assert all(o["joints"][1] == o["imu"][1] for o in out if o is not None)
    assert len(stamps) * 2 + sync.dropped == len(msgs)  # every message is either joined or dropped
    assert len(stamps) >= 190  # only ticks overtaken by the next tick's complete set are lost
