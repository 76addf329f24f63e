"""Go1 driver against the fake Go1 on loopback: dry-run, arming, watchdog, silence, plausibility."""

import time

import numpy as np
import pytest
from hw_tools import assert_activation_refused, assert_silence_reported, assert_watchdog_damps, hold, wait_for

from lucid_ros.hardware import ActivationRefused


def test_dry_run_sends_nothing(fake_go1, go1_driver, go1):
    fake = fake_go1()
    d = go1_driver(fake)
    d.configure()
    fake.peer = d.local  # the fake streams state to us although we never send
    d.activate()
    for _ in range(20):
        d.write(hold(go1))
        time.sleep(0.01)
    assert fake.commands_received == 0 and fake.rejected == 0
    assert d.counters["sent"] == 0 and d.counters["dry_run_encoded"] > 50
    assert d.latest() is not None and d.counters["received"] > 20  # it still listens
    h = d.health()
    assert h.level == "WARN" and "dry-run" in h.message


def test_armed_driver_stands_the_fake_robot(fake_go1, go1_driver, go1):
    fake = fake_go1()
    d = go1_driver(fake, arm=True)
    d.activate()
    assert d.state == "active"
    q0 = d.latest().joints.q.copy()
    for k in range(100):  # 1.5 s: interpolate to the default pose, then hold it
        a = min(1.0, k / 60)
        d.write(hold(go1, (1 - a) * q0 + a * go1.default_pose))
        time.sleep(0.015)
    q = d.latest().joints.q
    assert np.max(np.abs(q - go1.default_pose)) < 0.35
    assert fake.rejected == 0 and d.decoder.rejected_total == 0
    assert fake.sim.ground_truth().pos[2] > 0.2  # the trunk is up


def test_supervisor_silence_driver_damps_within_100ms(fake_go1, go1_driver, go1):
    fake = fake_go1()
    d = go1_driver(fake, arm=True)
    d.activate()
    for _ in range(25):
        d.write(hold(go1))
        time.sleep(0.02)
    assert fake.log[-1][1] == "position"
    assert_watchdog_damps(d, fake, hold(go1), slack=0.025)


def test_robot_silence_is_reported_within_50ms(fake_go1, go1_driver, go1):
    faults = []
    fake = fake_go1()
    d = go1_driver(fake, arm=True, on_fault=lambda kind, msg: faults.append((time.monotonic(), kind)))
    d.activate()
    d.write(hold(go1))
    time.sleep(0.05)
    assert_silence_reported(d, fake, faults, slack=0.015)


def test_swapped_joint_order_refused_at_activation(fake_go1, go1_driver, swapped_go1):
    fake = fake_go1()
    d = go1_driver(fake, robot=swapped_go1, arm=True)
    assert "FR_thigh_joint" in assert_activation_refused(d, fake)


def test_vendor_controller_running_refused(fake_go1, go1_driver):
    fake = fake_go1(vendor_controller=True)
    d = go1_driver(fake, arm=True)
    with pytest.raises(ActivationRefused, match="vendor's controller is still running"):
        d.activate()


def test_no_robot_refused_when_armed(go1_driver):
    class Nobody:
        port = 9  # discard port on loopback: nothing answers

    d = go1_driver(Nobody(), arm=True, state_timeout=0.2)
    with pytest.raises(ActivationRefused, match="no valid state"):
        d.activate()


def test_send_loop_keeps_its_period(fake_go1, go1_driver, go1):
    fake = fake_go1()
    d = go1_driver(fake, arm=True)
    d.activate()
    time.sleep(0.5)
    s = d.loop.stats()
    assert 1.9 < s["period_p50_ms"] < 2.1  # absolute deadlines: no drift
    assert s["rate_hz"] > 400


def test_live_garbage_is_counted_and_the_link_survives(fake_go1, go1_driver, go1):
    import random
    import socket

    from lucid_ros.hardware.go1 import codec

    fake = fake_go1()
    d = go1_driver(fake, arm=True)
    d.activate()
    rng = random.Random(3)
    good = codec.encode_low_state(codec.Go1Decoder("state").decode(codec.encode_low_state(_fake_state())) or _fake_state())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(1000):
        if i % 2:
            pkt = bytearray(good)
            pkt[rng.randrange(800)] ^= 1 << rng.randrange(8)
        else:
            pkt = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 900)))
        s.sendto(bytes(pkt), d.local)
        if i % 50 == 49:
            time.sleep(0.01)  # stay inside the socket buffer: what the kernel drops we cannot count
    s.close()
    assert wait_for(lambda: d.decoder.rejected_total >= 950, 3.0), d.decoder.rejected
    assert d.state == "active" and wait_for(lambda: d.read() is not None, 1.0)


def _fake_state():
    from lucid_ros.hardware.go1 import codec

    n = codec.N_MOTORS
    z = np.zeros(n)
    return codec.LowState(
        1, np.full(n, 10, np.uint8), z, z, z, z, np.array([1.0, 0, 0, 0]), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(4), np.zeros(4), b""
    )


def test_a_failing_tick_hook_never_stops_the_send_loop(fake_go1, go1_driver, go1):
    """The motor process's bookkeeping hook once raised (a field another thread cleared) and took
    the 500 Hz thread with it: no more damping packets. The loop now counts the error and sends on."""
    fake = fake_go1()
    d = go1_driver(fake, arm=True)
    d.activate()

    def hook(now, why):
        raise TypeError("bookkeeping bug")

    d.tick_hook = hook
    sent = d.counters["sent"]
    time.sleep(0.2)
    assert d.loop.running and d.counters["sent"] > sent + 50
    assert d.counters["tick_hook_errors"] > 50
