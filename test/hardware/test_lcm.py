"""walk-these-ways LCM types (sizes, fingerprints against lcm-gen, round trips) and the LCM
driver against the fake LCM robot over multicast with TTL 0 (this machine only)."""

import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from hw_tools import importable

from lucid_ros.hardware.lcm import types as T

SIZES = {"leg_control_data_lcmt": 272, "pd_tau_targets_lcmt": 544, "state_estimator_lcmt": 160, "rc_command_lcmt": 46}


@pytest.mark.parametrize("t", list(T.CHANNELS.values()), ids=lambda t: t.name)
def test_encoded_sizes_match_the_table(t):
    assert t.size == SIZES[t.name]
    assert len(t.encode({})) == SIZES[t.name]


def _lcm_source(t: T.LcmType) -> str:
    fields = " ".join(f"{ty} {name}{f'[{n}]' if n else ''};" for name, ty, n in t.fields)
    return f"struct {t.name} {{ {fields} }}\n"


@pytest.mark.skipif(
    not importable("lcm") or (shutil.which("lcm-gen") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "lcm-gen"))),
    reason="lcm / lcm-gen not installed (pip install lcm)",
)
def test_fingerprints_match_lcm_gen(tmp_path):
    gen = shutil.which("lcm-gen") or os.path.join(os.path.dirname(sys.executable), "lcm-gen")
    src = tmp_path / "types.lcm"
    src.write_text("".join(_lcm_source(t) for t in T.CHANNELS.values()))
    subprocess.run([gen, "-p", "--ppath", str(tmp_path), str(src)], check=True, capture_output=True)
    sys.path.insert(0, str(tmp_path))
    try:
        for t in T.CHANNELS.values():
            mod = __import__(t.name)
            cls = getattr(mod, t.name)
            assert int.from_bytes(cls._get_packed_fingerprint(), "big") == t.fingerprint, t.name
            # and lcm-gen's decoder reads our bytes
            msg = cls.decode(t.encode({t.fields[0][0]: np.arange(t.fields[0][2]) if t.fields[0][2] else 3}))
            first = getattr(msg, t.fields[0][0])
            assert (list(first) if t.fields[0][2] else first) == (list(range(t.fields[0][2])) if t.fields[0][2] else 3)
    finally:
        sys.path.remove(str(tmp_path))


def test_round_trip_and_rejections():
    t = T.PD_TAU_TARGETS
    vals = {
        "q_des": np.linspace(-1, 1, 12),
        "kp": np.full(12, 20.0),
        "kd": np.full(12, 0.5),
        "timestamp_us": 123456789,
        "se_contactState": [1, 0, 1, 0],
    }
    d = t.decode(t.encode(vals))
    assert np.allclose(d["q_des"], vals["q_des"]) and d["timestamp_us"] == 123456789 and list(d["se_contactState"]) == [1, 0, 1, 0]
    raw = t.encode(vals)
    assert raw[:8] == t.fingerprint.to_bytes(8, "big")
    with pytest.raises(ValueError, match="fingerprint"):
        t.decode(b"\0" * 8 + raw[8:])
    with pytest.raises(ValueError, match="bytes"):
        t.decode(raw[:-1])
    with pytest.raises(ValueError, match="fingerprint"):
        T.LEG_CONTROL_DATA.decode(T.LEG_CONTROL_DATA.encode({})[:8][::-1] + bytes(264))


needs_lcm = pytest.mark.skipif(not importable("lcm"), reason="lcm not installed (pip install lcm)")
from lucid_ros.hardware.lcm.driver import LcmDriver  # noqa: E402
from lucid_ros.hardware.lcm.fake import FakeLcmRobot  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.types import JointCommand  # noqa: E402

URL = f"udpm://239.255.76.67:{random.Random(os.getpid()).randint(7700, 7799)}?ttl=0"


@pytest.fixture
def lcm_link():
    robot = load_robot("go1")
    made = []

    def make(**kw):
        fake = FakeLcmRobot(robot, lcm_url=URL).start()
        drv = LcmDriver(robot, lcm_url=URL, **kw)
        made.append((fake, drv))
        return robot, fake, drv

    yield make
    for fake, drv in made:
        drv.close()
        fake.stop()


def test_fake_refuses_a_url_that_leaves_the_machine():
    with pytest.raises(ValueError, match="ttl=0"):
        FakeLcmRobot(load_robot("go1"), lcm_url="udpm://239.255.76.67:7667?ttl=1")


@needs_lcm
def test_lcm_driver_stands_the_fake_robot_at_500hz(lcm_link):
    robot, fake, drv = lcm_link(arm=True)
    drv.activate()
    n = robot.n_joints
    q0 = drv.latest().joints.q.copy()
    for k in range(90):
        a = min(1.0, k / 50)
        drv.write(JointCommand(time.time(), (1 - a) * q0 + a * robot.default_pose, np.zeros(n), np.zeros(n), robot.kp, robot.kd))
        time.sleep(0.02)
    assert np.max(np.abs(drv.latest().joints.q - robot.default_pose)) < 0.45
    assert fake.sim.ground_truth().pos[2] > 0.2
    assert fake.rejected == 0 and drv.rejected == 0
    assert 1.9 < drv.loop.stats()["period_p50_ms"] < 2.1


@needs_lcm
def test_lcm_dry_run_sends_nothing(lcm_link):
    robot, fake, drv = lcm_link()
    drv.activate()
    time.sleep(0.2)
    assert drv.counters["received"] > 20 and fake.commands_received == 0 and drv.counters["dry_run_encoded"] > 50
