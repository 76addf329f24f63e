"""Mini Cheetah / walk-these-ways LCM driver robustness (issue #5): bad datagrams on the input
channels are refused and counted, never become state, and the driver keeps running; a bad or
silent estimator never leaves a joint reading with a frozen IMU; supervisor silence -> the driver
damps within 100 ms; robot silence -> reported within 50 ms; a swapped joint order is refused.

"Packets" are LCM messages published on the real channels (UDP multicast, TTL 0, this machine
only) by a second lcm.LCM instance: wrong fingerprint (the LCM wrong head), truncated or padded,
random bytes, NaN / inf readings, a zero quaternion.
"""

import os
import random
import struct
import time

import numpy as np
import pytest
from hw_tools import assert_activation_refused, assert_silence_reported, assert_watchdog_damps, hold, importable, mute_and_settle, wait_for

from lucid_ros.hardware.lcm import types as T
from lucid_ros.hardware.lcm.driver import REJECT_REASONS, LcmDriver
from lucid_ros.hardware.lcm.fake import FakeLcmRobot
from lucid_ros.robots import load_robot

pytestmark = pytest.mark.skipif(not importable("lcm"), reason="lcm not installed (pip install lcm)")
URL = f"udpm://239.255.76.67:{random.Random(os.getpid() + 9).randint(7700, 7799)}?ttl=0"


@pytest.fixture
def lcm_link(go1):
    made = []

    def make(driver_robot=None, robot=None, **kw):
        fake = FakeLcmRobot(robot or go1, lcm_url=URL).start()
        drv = LcmDriver(driver_robot or robot or go1, lcm_url=URL, **kw)
        made.append((fake, drv))
        return fake, drv

    yield make
    for fake, drv in made:
        drv.close()
        fake.stop()


@pytest.fixture
def publisher():
    import lcm

    return lcm.LCM(URL)


def _rejected(drv) -> dict:
    return {k: sum(r[k] for r in drv.rejected_by.values()) for k in REJECT_REASONS}


def test_decode_errors_name_the_reason():
    good = T.LEG_CONTROL_DATA.encode({"q": np.arange(12)})
    for data, reason in ((good[:-1], "length"), (good + b"\0", "length"), (b"", "length"), (b"\x01" + good[1:], "fingerprint"),
                         (T.STATE_ESTIMATOR.encode({}), "length")):  # fmt: skip
        with pytest.raises(T.DecodeError) as exc:
            T.LEG_CONTROL_DATA.decode(data)
        assert exc.value.reason == reason


def _good(channel: str, quat=(1.0, 0.0, 0.0, 0.0)) -> bytes:
    if channel == "leg_control_data":
        return T.LEG_CONTROL_DATA.encode({"q": np.full(12, 0.1)})
    if channel == "state_estimator_data":
        return T.STATE_ESTIMATOR.encode({"quat": quat, "aBody": [0, 0, 9.81]})
    return T.RC_COMMAND.encode({})


def _fuzz(rng: random.Random, robot, i: int) -> tuple[str, bytes]:
    channel = ("leg_control_data", "state_estimator_data", "rc_command")[i % 3]
    t = T.CHANNELS[channel]
    good = _good(channel)
    kind = (i // 3) % 6
    if kind == 0:  # random bytes, random length
        return channel, bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 600)))
    if kind == 1:  # truncated, or padded
        return channel, good[: rng.randrange(0, len(good))] if rng.random() < 0.7 else good + bytes(rng.randrange(1, 9))
    if kind == 2:  # random bytes of exactly the right length: the fingerprint gives them away
        return channel, bytes(rng.getrandbits(8) for _ in range(len(good)))
    if kind == 3:  # a wrong head: another fingerprint, right length (bit flips in the first 8 bytes)
        b = bytearray(good)
        b[rng.randrange(8)] ^= 1 << rng.randrange(8)
        return channel, bytes(b)
    bad = rng.choice((float("nan"), float("inf"), float("-inf")))
    if channel == "leg_control_data":  # a well-formed message with a non-finite reading in a joint we use
        vals = {f: np.full(12, 0.1) for f in ("q", "qd", "tau_est")}
        vals[rng.choice(("q", "qd", "tau_est"))][int(rng.choice(robot.vendor_index))] = bad
        return channel, t.encode(vals)
    if channel == "state_estimator_data":
        if kind == 5:
            return channel, t.encode({"quat": [0.0, 0.0, 0.0, 0.0], "aBody": [0, 0, 9.81]})  # no rotation at all
        vals = {"quat": [1.0, 0, 0, 0], "omegaBody": [0.0, 0, 0], "aBody": [0, 0, 9.81]}
        vals[rng.choice(("quat", "omegaBody", "aBody"))][rng.randrange(3)] = bad
        return channel, t.encode(vals)
    return channel, t.encode({"left_stick": [0.0, bad], "right_stick": [0.0, 0.0]})


def test_fuzz_1000_datagrams_are_refused_counted_and_never_state(lcm_link, publisher, go1):
    """The fake goes quiet, then 1000 bad datagrams arrive on its channels: none may make the robot look alive."""
    fake, drv = lcm_link(arm=True)
    drv.activate()
    assert drv.rejected == 0 and drv.accepted > 0  # the fake's own messages all pass
    received = mute_and_settle(fake, drv)
    rng = random.Random(13)
    for i in range(1000):
        publisher.publish(*_fuzz(rng, go1, i))
        if i % 25 == 24:
            time.sleep(0.005)  # stay inside the socket buffer: what the kernel drops we cannot count
    assert wait_for(lambda: drv.rejected >= 1000, 5.0), drv.rejected_by
    counts = _rejected(drv)
    values = drv.health().values
    print(f"LCM: {drv.rejected} of 1000 datagrams refused: {counts}")
    assert drv.rejected == 1000 and all(counts[k] > 0 for k in REJECT_REASONS), drv.rejected_by
    assert {k: values[f"rx_rejected_{k}"] for k in REJECT_REASONS} == counts
    assert drv.counters["received"] == received and drv.read() is None  # nothing became state
    assert drv.state == "active" and drv.loop.running and drv.counters["sent"] > 0
    fake.mute(False)
    assert wait_for(lambda: drv.read() is not None, 1.0)
    r = drv.read()
    assert np.all(np.isfinite(r.joints.q)) and np.linalg.norm(r.imu.quat) == pytest.approx(1.0, abs=1e-3)


def test_a_bad_estimator_message_never_replaces_the_good_one(lcm_link, publisher):
    fake, drv = lcm_link()
    drv.configure()
    fake.mute()
    time.sleep(0.05)
    turned = (np.cos(0.15), 0.0, 0.0, np.sin(0.15))  # 0.3 rad of yaw: recognisable
    for data in (_good("state_estimator_data", turned), T.STATE_ESTIMATOR.encode({"quat": [np.nan, 0, 0, 1]}),
                 T.STATE_ESTIMATOR.encode({"quat": [0, 0, 0, 0]}), _good("state_estimator_data")[:-4]):  # fmt: skip
        publisher.publish("state_estimator_data", data)
        time.sleep(0.005)
    publisher.publish("leg_control_data", _good("leg_control_data"))
    assert wait_for(lambda: drv.latest() is not None and drv.latest().joints.q[0] == pytest.approx(0.1), 1.0)
    assert drv.latest().imu.quat == pytest.approx(turned, abs=1e-6)
    assert drv.rejected_by["state_estimator_data"] == {"length": 1, "fingerprint": 0, "nonfinite": 1, "quaternion": 1}


def test_estimator_silence_is_robot_silence(lcm_link, go1):
    """Joint data still flowing but state_estimator_data gone: no reading with a frozen IMU, silence reported."""
    faults = []
    fake, drv = lcm_link(arm=True, on_fault=lambda kind, msg: faults.append((time.monotonic(), kind)))
    drv.activate()
    drv.write(hold(go1, drv.latest().joints.q))
    time.sleep(0.05)
    t_cut = time.monotonic()
    fake.silence("state_estimator_data")
    assert wait_for(lambda: faults, 1.0)
    assert faults[0][1] == "silence" and faults[0][0] - t_cut <= 0.050 + 0.025, faults[0][0] - t_cut
    assert drv.read() is None
    assert wait_for(lambda: drv.health().values["rx_stale_estimator"] > 0, 0.5)  # the joint readings that came on are dropped
    received = drv.counters["received"]
    time.sleep(0.05)
    assert drv.counters["received"] == received and drv.read() is None
    fake.silence("state_estimator_data", False)
    assert wait_for(lambda: drv.read() is not None, 1.0)


def test_a_dead_remote_link_drops_the_remote_from_the_reading(lcm_link):
    fake, drv = lcm_link()
    drv.activate()
    assert wait_for(lambda: drv.read() is not None and drv.read().remote is not None, 1.0)
    fake.silence("rc_command")
    time.sleep(drv.rc_timeout + 0.05)
    assert wait_for(lambda: drv.read() is not None and drv.read().remote is None, 1.0)  # the joints still flow, the sticks do not


def test_supervisor_silence_driver_damps_within_100ms(lcm_link, go1):
    fake, drv = lcm_link(arm=True)
    drv.activate()
    q0 = drv.latest().joints.q.copy()
    for _ in range(15):
        drv.write(hold(go1, q0))
        time.sleep(0.02)
    assert wait_for(lambda: fake.log and fake.log[-1][1] == "position", 1.0)
    assert_watchdog_damps(drv, fake, hold(go1, q0), slack=0.030)


def test_robot_silence_is_reported_within_50ms(lcm_link, go1):
    faults = []
    fake, drv = lcm_link(arm=True, on_fault=lambda kind, msg: faults.append((time.monotonic(), kind)))
    drv.activate()
    drv.write(hold(go1, drv.latest().joints.q))
    time.sleep(0.05)
    assert_silence_reported(drv, fake, faults, slack=0.025)
    assert drv.counters["silences"] == 1


def test_swapped_joint_order_refused_at_activation(lcm_link, swapped_go1):
    fake, drv = lcm_link(driver_robot=swapped_go1, arm=True)
    assert "FR_thigh_joint" in assert_activation_refused(drv, fake)


def test_mini_cheetah_leg_data_of_another_shape_is_refused(lcm_link, publisher):
    """Cheetah-Software's leg_control_data (float[12] x 5, no stamp): three legs' worth, the
    walk-these-ways layout, a foreign fingerprint or a NaN angle is refused and counted, each
    arriving with a fresh estimator (so one that got through would become state); a good one then does."""
    fake, drv = lcm_link(robot=load_robot("mini_cheetah"))
    drv.configure()
    mute_and_settle(fake, drv)
    accepted, stale, t = drv.accepted, drv.stale_estimator, T.MCS_LEG_CONTROL_DATA
    q_nan = np.full(12, 0.1)
    q_nan[4] = np.nan  # FL hip
    bad = {
        "nine joints": struct.pack(">Q45f", t.fingerprint, *np.full(45, 0.1)),
        "walk-these-ways layout": T.LEG_CONTROL_DATA.encode({"q": np.full(12, 0.1)}),
        "foreign fingerprint": (t.fingerprint ^ 1 << 40).to_bytes(8, "big") + t.encode({"q": np.full(12, 0.1)})[8:],
        "NaN in q": t.encode({"q": q_nan}),
    }
    for data in bad.values():
        publisher.publish("state_estimator_data", _good("state_estimator_data"))
        publisher.publish("leg_control_data", data)
        time.sleep(0.005)
    assert wait_for(lambda: sum(drv.rejected_by["leg_control_data"].values()) >= len(bad), 2.0), drv.rejected_by
    assert drv.rejected_by["leg_control_data"] == {"length": 2, "fingerprint": 1, "nonfinite": 1, "quaternion": 0}
    assert drv.accepted == accepted and drv.stale_estimator == stale  # none got as far as pairing with the estimator
    publisher.publish("state_estimator_data", _good("state_estimator_data"))
    publisher.publish("leg_control_data", t.encode({"q": np.full(12, 0.2)}))
    assert wait_for(lambda: drv.accepted == accepted + 1, 1.0)
    assert drv.latest().joints.q == pytest.approx(np.full(12, 0.2))
