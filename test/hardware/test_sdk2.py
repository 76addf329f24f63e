"""Unitree SDK2: LowCmd_ packing + CRC (no DDS needed), then driver <-> fake robot over cyclonedds
on a private domain (skipped with the reason when cyclonedds is not installed)."""

import os
import random
import struct
import time
from types import SimpleNamespace as NS

import numpy as np
import pytest
from hw_tools import importable

from lucid_ros.hardware.crc import crc32_words
from lucid_ros.hardware.sdk2 import codec


def _go_cmd():
    motors = [NS(mode=1, q=0.1 * i, dq=-0.01 * i, tau=0.5, kp=20.0, kd=0.5, reserve=[0, 0, 0]) for i in range(20)]
    return NS(head=[0xFE, 0xEF], level_flag=0xFF, frame_reserve=0, sn=[1, 2], version=[3, 4], bandwidth=5, motor_cmd=motors,
              bms_cmd=NS(off=0, reserve=[0, 0, 0]), wireless_remote=[7] * 40, led=[0] * 12, fan=[0, 0], gpio=0, reserve=0, crc=0)  # fmt: skip


def _hg_cmd():
    motors = [NS(mode=1, q=0.1 * i, dq=0.0, tau=0.0, kp=60.0, kd=1.0, reserve=0) for i in range(35)]
    return NS(mode_pr=0, mode_machine=5, motor_cmd=motors, reserve=[0, 0, 0, 0], crc=0)


def test_struct_sizes_and_crc_words():
    assert codec.GO_LOWCMD.size == 812 and codec.GO_LOWCMD.size // 4 - 1 == 202
    assert codec.HG_LOWCMD.size == 1004 and codec.HG_LOWCMD.size // 4 - 1 == 250


def test_go_lowcmd_offsets():
    b = codec.pack_go_lowcmd(_go_cmd())
    assert b[:4] == b"\xfe\xef\xff\x00" and struct.unpack_from("<4IH", b, 4) == (1, 2, 3, 4, 5)
    for i in (0, 7, 19):  # motor_cmd[i] at 24 + 36 i: mode, 3 pad, q dq tau kp kd, reserve[3]
        off = 24 + 36 * i
        assert b[off] == 1 and struct.unpack_from("<5f", b, off + 4) == pytest.approx((0.1 * i, -0.01 * i, 0.5, 20.0, 0.5))
    assert b[748:788] == bytes([7] * 40)  # wireless_remote after bms_cmd (744..747)
    assert struct.unpack_from("<I", b, 808)[0] == 0  # crc, excluded from its own coverage


def test_hg_lowcmd_offsets():
    b = codec.pack_hg_lowcmd(_hg_cmd())
    assert b[1] == 5  # mode_machine
    for i in (0, 34):
        off = 4 + 28 * i
        assert b[off] == 1 and struct.unpack_from("<5f", b, off + 4) == pytest.approx((0.1 * i, 0.0, 0.0, 60.0, 1.0))


def test_crc_covers_every_field_but_itself():
    c = _go_cmd()
    base = codec.go_crc(c)
    assert base == crc32_words(codec.pack_go_lowcmd(c), 202)
    c.crc = 0xDEADBEEF
    assert codec.go_crc(c) == base
    c.motor_cmd[19].kd = 0.51
    assert codec.go_crc(c) != base
    h = _hg_cmd()
    hb = codec.hg_crc(h)
    h.mode_machine = 6
    assert codec.hg_crc(h) != hb


# ---- over DDS --------------------------------------------------------------------------------
needs_dds = pytest.mark.skipif(not importable("cyclonedds"), reason="cyclonedds 0.10.2 not installed (docker/build_cyclonedds.sh builds it)")
from lucid_ros.hardware.sdk2.driver import Sdk2Driver  # noqa: E402
from lucid_ros.hardware.sdk2.fake import FakeSdk2Robot  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.types import JointCommand  # noqa: E402

DOMAIN = random.Random(os.getpid()).randint(150, 230)  # private: never the robots' domain 0


@pytest.fixture(scope="module")
def h1():
    return load_robot("h1")


@pytest.fixture
def link(h1):
    made = []

    def make(flavor="go", **kw):
        fake = FakeSdk2Robot(h1, domain_id=DOMAIN, interface="lo", flavor=flavor).start()
        drv = Sdk2Driver(h1, domain_id=DOMAIN, interface="lo", flavor=flavor, **kw)
        made.append((fake, drv))
        return fake, drv

    yield make
    for fake, drv in made:
        drv.close()
        fake.stop()


def _drive(robot, drv, seconds=1.0):
    n = robot.n_joints
    q0 = drv.latest().joints.q.copy()
    steps = int(seconds / 0.02)
    for k in range(steps):
        a = min(1.0, k / (0.6 * steps))
        drv.write(JointCommand(time.time(), (1 - a) * q0 + a * robot.default_pose, np.zeros(n), np.zeros(n), robot.kp, robot.kd))
        time.sleep(0.02)


@needs_dds
def test_go_flavor_commands_accepted_and_obeyed(link, h1):
    fake, drv = link("go", arm=True)
    drv.activate()
    _drive(h1, drv)
    assert fake.commands_received > 200 and fake.rejected_crc == 0
    assert np.max(np.abs(drv.latest().joints.q - h1.default_pose)) < 0.15


@needs_dds
def test_bad_crc_rejected_and_counted(link, h1):
    fake, drv = link("go", arm=True)
    drv.activate()
    bad = drv.build(JointCommand.damping(np.zeros(h1.n_joints), 1.0))
    bad.crc ^= 1
    before = fake.rejected_crc
    for _ in range(5):
        drv.writer.write(bad)
        time.sleep(0.01)
    assert fake.rejected_crc >= before + 3


@needs_dds
def test_hg_copies_mode_machine(link, h1):
    fake, drv = link("hg", arm=True)
    drv.activate()
    _drive(h1, drv, 0.5)
    assert drv.mode_machine == 5
    n0 = fake.commands_received
    time.sleep(0.1)
    assert fake.commands_received > n0 + 20
    wrong = drv.build(JointCommand.passive(h1.n_joints))
    wrong.mode_machine = 4
    wrong.crc = codec.hg_crc(wrong)
    r0 = fake.rejected_mode_machine
    drv.writer.write(wrong)
    time.sleep(0.05)
    assert fake.rejected_mode_machine > r0


@needs_dds
def test_dry_run_sends_nothing_over_dds(link, h1):
    fake, drv = link("go")
    drv.activate()
    time.sleep(0.2)
    assert drv.counters["received"] > 20 and fake.commands_received == 0 and drv.counters["dry_run_encoded"] > 50
