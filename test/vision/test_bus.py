"""The in-process vision bus: per-graph, latest-value, safe across threads, never lets a consumer's
bug into the producer's thread."""

from __future__ import annotations

import gc
import threading

import numpy as np

from lucid_ros.vision.bus import bus_for
from lucid_ros.vision.sources import Frame, Intrinsics

K = Intrinsics.from_vfov(4, 3, 60.0)


def frame(seq: int, stream: str = "depth", camera: str = "ego") -> Frame:
    return Frame(camera, stream, 0.1 * seq, seq, np.full((3, 4), float(seq), np.float32), K, "camera_link")


class Key:  # stands in for an rclpy Context
    pass


def test_one_bus_per_graph_key_and_it_goes_with_the_key():
    a, b = Key(), Key()
    assert bus_for(a) is bus_for(a) and bus_for(a) is not bus_for(b)
    bus_for(a).put_tensor("depth", np.zeros(1), 0.0)
    assert bus_for(b).tensor("depth") is None
    import weakref

    ref = weakref.ref(bus_for(a))
    del a
    gc.collect()
    assert ref() is None


def test_latest_value_frames_listeners_and_requests():
    bus = bus_for(Key())
    seen = []
    bus.subscribe("ego", seen.append)
    bus.subscribe("ego", lambda f: 1 / 0)  # a broken consumer
    bus.subscribe("chin", lambda f: seen.append("wrong camera"))
    for s in (1, 2, 3):
        bus.put_frame(frame(s))
    assert [f.seq for f in seen] == [1, 2, 3]  # every frame, in the producer's thread, others unaffected
    assert bus.frame("ego", "depth").seq == 3 and bus.frame("ego", "color") is None
    assert bus.listener_errors == 3 and "ZeroDivisionError" in bus.last_listener_error
    bus.request("camera", "ego", ["depth"])
    bus.request("viewer", "ego", ["color"])
    bus.request("camera", "chin", ["color"])
    assert bus.requested("ego") == {"depth", "color"}
    bus.withdraw("viewer", "ego")
    assert bus.requested("ego") == {"depth"}


def test_images_only_when_every_input_has_a_tensor():
    bus = bus_for(Key())
    assert bus.images(["depth", "rgb"]) is None
    t1 = bus.put_tensor("depth", np.ones((1, 2, 3, 3), np.float32), 0.1)
    assert bus.images(["depth", "rgb"]) is None
    bus.put_tensor("rgb", np.zeros((1, 3, 3, 3), np.float32), 0.1)
    t2 = bus.put_tensor("depth", np.full((1, 2, 3, 3), 2.0, np.float32), 0.2)
    got = bus.images(["depth", "rgb"])
    assert set(got) == {"depth", "rgb"} and got["depth"][0, 0, 0, 0] == 2.0
    assert (t1.seq, t2.seq) == (1, 2) and bus.tensor("depth").stamp == 0.2


def test_a_producer_and_a_consumer_thread_see_consistent_tensors():
    bus = bus_for(Key())
    stop = threading.Event()
    bad = []

    def consume():
        last = 0
        while not stop.is_set():
            t = bus.tensor("depth")
            if t is None:
                continue
            if t.seq < last or not np.all(t.data == t.seq):
                bad.append(t.seq)
            last = t.seq

    th = threading.Thread(target=consume)
    th.start()
    for s in range(1, 2001):
        bus.put_tensor("depth", np.full((1, 1, 8, 8), float(s), np.float32), s * 0.1)
    stop.set()
    th.join()
    assert bad == [] and bus.tensor("depth").seq == 2000
