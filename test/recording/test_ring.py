"""Black-box mode without ROS: a synthetic 50 Hz stream, trips injected by safety/state and
safety/event messages exactly as the supervisor publishes them."""

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from lucid_ros.recording import offered_qos
from lucid_ros.recording.reader import open_recording
from lucid_ros.recording.ring import BlackBox, RingBuffer, cdr_string, parse_event, slug

TS = get_typestore(Stores.ROS2_JAZZY)
TICK = 20_000_000  # ns, 50 Hz


def cdr_str(text: str) -> bytes:
    return bytes(TS.serialize_cdr(TS.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String"))


def cdr_js(i: int) -> bytes:
    T = TS.types
    msg = T["sensor_msgs/msg/JointState"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""),
        name=["j"],
        position=np.array([float(i)]),
        velocity=np.array([0.0]),
        effort=np.array([0.0]),
    )
    return bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_box(tmp_path, **kw):
    clock = FakeClock()
    box = BlackBox(tmp_path / "bb", clock=clock, **kw)
    box.add_channel("/joint_states", "sensor_msgs/msg/JointState", offered_qos())
    box.add_channel("/safety/state", "std_msgs/msg/String", offered_qos(transient_local=True))
    box.add_channel("/safety/event", "std_msgs/msg/String", offered_qos(transient_local=True))
    return box, clock


def run(box, clock, t_end: float, trips: dict[int, tuple[str, str, str]], start_tick: int = 0) -> None:
    """Ticks of joint_states; at tick k in `trips`: the event then the state, like the supervisor."""
    state = "RUNNING"
    if start_tick == 0:
        box.on_message("/safety/state", 0, cdr_str(state))
    for k in range(start_tick, int(round(t_end * 50)) + 1):
        t = k * TICK
        clock.now = k * 0.01  # wall time runs at half the graph clock: lockstep faster than real time
        if k in trips:
            src, dst, cause = trips[k]
            box.on_message("/safety/event", t, cdr_str(f"{t * 1e-9:.3f} {src} -> {dst}: {cause} ({cause} detail)"))
            box.on_message("/safety/state", t, cdr_str(dst))
        box.on_message("/joint_states", t, cdr_js(k))


def times(path, topic="/joint_states"):
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        return [t * 1e-9 for _, t, _ in reader.messages(connections=conns)]


def test_helpers():
    assert cdr_string(cdr_str("ESTOP")) == "ESTOP"
    ev = parse_event("8.020 RUNNING -> ESTOP: estop (RUNNING -> ESTOP: safety/estop engaged)")
    assert (ev.time, ev.src, ev.dst, ev.cause, ev.detail) == (8.02, "RUNNING", "ESTOP", "estop", "RUNNING -> ESTOP: safety/estop engaged")
    assert parse_event("2.5 STANDING -> RUNNING: request run").cause == "request run"
    assert parse_event("garbage") is None
    assert slug("stale joint_states (0.21 s > 0.1 s)") == "stale_joint_states_0.21_s_0.1_s"


def test_ring_is_bounded_by_time_and_bytes_and_keeps_the_last_value_of_each_topic():
    ring = RingBuffer(1.0, max_bytes=10_000)
    ring.push("/policy/status", 0, b"x" * 10)
    for k in range(200):
        ring.push("/joint_states", k * TICK, b"y" * 10)
    snap = ring.snapshot()
    assert snap[0] == ("/policy/status", 0, b"x" * 10)  # left the window, kept as the last value
    js = [t for topic, t, _ in snap if topic == "/joint_states"]
    assert js[-1] == 199 * TICK and js[-1] - js[1] == 50 * TICK  # 1 s window (+ the newest that left it)
    small = RingBuffer(10.0, max_bytes=1000)
    for k in range(500):
        small.push("/joint_states", k * TICK, b"z" * 100)
    assert small.bytes <= 1000 and small.dropped_for_size > 0 and len(small) == 10


def test_trip_writes_the_seconds_before_the_trip_and_after_it(tmp_path):
    box, clock = make_box(tmp_path, ring_seconds=5.0, post_seconds=2.0)
    run(box, clock, 12.0, {400: ("RUNNING", "ESTOP", "estop")})  # trip at t = 8.00 s
    box.close()
    assert len(box.files) == 1
    path = box.files[0]
    assert "_t8.00s_ESTOP_estop" in path.name
    t = times(path)
    assert t[0] == pytest.approx(2.98) and t[1] == pytest.approx(3.0)  # 5 s before (+ the last that left)
    assert 8.0 in [round(x, 2) for x in t] and t[-1] == pytest.approx(10.0)  # the trip and 2 s after
    rec = open_recording(path)
    assert rec.complete and rec.metadata["lucid_ros.trip"]["cause"] == "estop"
    assert [m.data for _, m in rec.read("safety/state")] == ["RUNNING", "ESTOP"]


def test_cause_arriving_after_the_state_renames_the_file(tmp_path):
    box, clock = make_box(tmp_path, ring_seconds=1.0, post_seconds=0.5)
    run(box, clock, 2.0, {})
    box.on_message("/safety/state", 2_020_000_000, cdr_str("DAMPING"))
    box.on_message("/safety/event", 2_020_000_000, cdr_str("2.020 RUNNING -> DAMPING: roll 1.2 rad > 1.0 (limit)"))
    run(box, clock, 3.0, {}, start_tick=102)
    box.close()
    assert len(box.files) == 1 and "_DAMPING_roll_1.2_rad_1.0" in box.files[0].name and box.files[0].exists()
    assert len(list((tmp_path / "bb").iterdir())) == 1


def test_a_second_trip_gets_its_own_file_and_a_full_ring_loses_nothing_of_the_trip(tmp_path):
    box, clock = make_box(tmp_path, ring_seconds=5.0, post_seconds=2.0, max_bytes=3_000)  # ~40 messages
    trips = {300: ("RUNNING", "DAMPING", "stale imu"), 320: ("DAMPING", "ESTOP", "estop")}
    run(box, clock, 9.0, trips)
    box.close()
    assert len(box.files) == 2
    first, second = box.files
    assert "DAMPING_stale_imu" in first.name and "ESTOP_estop" in second.name
    for path, trip_t in ((first, 6.0), (second, 6.4)):
        t = times(path)
        assert min(t) < trip_t - 0.5  # what the byte-bounded ring still held before the trip
        assert all(round(x, 2) in [round(y, 2) for y in t] for x in np.arange(trip_t, trip_t + 2.0, 0.02))  # every tick after
    states = [m.data for _, m in open_recording(second).read("safety/state")]
    assert states[-2:] == ["DAMPING", "ESTOP"]  # the second file holds the first trip too


def test_a_stalled_graph_clock_finishes_the_capture(tmp_path):
    box, clock = make_box(tmp_path, ring_seconds=2.0, post_seconds=2.0, stall_seconds=1.0)
    run(box, clock, 3.0, {100: ("RUNNING", "ESTOP", "estop")})  # trip at 2.0 s, then the sim stops at 3.0 s
    stopped = 150 * TICK
    for dt in (0.5, 0.4):  # wall-timer messages keep coming, stamped with the stopped clock
        clock.now += dt
        box.on_message("/joint_states", stopped, cdr_js(0))
        box.poll(clock.now)
        assert box.open and not box.files
    clock.now += 0.2
    box.poll(clock.now)
    assert not box.open and len(box.files) == 1 and open_recording(box.files[0]).complete
