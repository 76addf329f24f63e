"""walk-these-ways and Cheetah-Software LCM types (sizes, fingerprints against lcm-gen, round
trips) and the LCM driver against the fake LCM robot over multicast with TTL 0 (this machine
only), in both dialects: Go1 over walk-these-ways' bridge, the Mini Cheetah over MCS's own types."""

import importlib.util
import os
import random
import shutil
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hw_tools import importable

from lucid_ros.hardware.lcm import types as T
from lucid_ros.robots.description import LCM_DIALECTS

SIZES = {  # encoded bytes with the 8-byte fingerprint: hardware-and-models.md §3; MCS (§4.2 of robot-models.md): float[12] x 5 / x 10
    T.LEG_CONTROL_DATA: 272, T.PD_TAU_TARGETS: 544, T.STATE_ESTIMATOR: 160, T.RC_COMMAND: 46,
    T.MCS_LEG_CONTROL_DATA: 248, T.LEG_CONTROL_COMMAND: 488,
}  # fmt: skip


def _id(t: T.LcmType) -> str:
    return f"{t.name}-{t.fingerprint:016x}"[:32]  # MCS and walk-these-ways both name a leg_control_data_lcmt


@pytest.mark.parametrize("t", list(SIZES), ids=_id)
def test_encoded_sizes_match_the_table(t):
    assert t.size == SIZES[t]
    assert len(t.encode({})) == SIZES[t]


def test_every_dialect_a_robot_may_name_has_its_messages():
    assert set(T.DIALECTS) == set(LCM_DIALECTS)
    assert {t for d in T.DIALECTS.values() for t in d.channels.values()} == set(SIZES)
    assert T.LEG_CONTROL_DATA.fingerprint != T.MCS_LEG_CONTROL_DATA.fingerprint  # one name, two layouts


def _lcm_source(t: T.LcmType) -> str:
    fields = " ".join(f"{ty} {name}{f'[{n}]' if n else ''};" for name, ty, n in t.fields)
    return f"struct {t.name} {{ {fields} }}\n"


@pytest.mark.skipif(
    not importable("lcm") or (shutil.which("lcm-gen") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "lcm-gen"))),
    reason="lcm / lcm-gen not installed (pip install lcm)",
)
@pytest.mark.parametrize("dialect", sorted(T.DIALECTS))
def test_fingerprints_match_lcm_gen(tmp_path, dialect):
    """Per dialect (each names a leg_control_data_lcmt), lcm-gen on .lcm files written from our field lists."""
    gen = shutil.which("lcm-gen") or os.path.join(os.path.dirname(sys.executable), "lcm-gen")
    types = list(T.DIALECTS[dialect].channels.values())
    src = tmp_path / "types.lcm"
    src.write_text("".join(_lcm_source(t) for t in types))
    subprocess.run([gen, "-p", "--ppath", str(tmp_path), str(src)], check=True, capture_output=True)
    for t in types:
        spec = importlib.util.spec_from_file_location(f"lcmgen_{dialect}_{t.name}", tmp_path / f"{t.name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cls = getattr(mod, t.name)
        assert int.from_bytes(cls._get_packed_fingerprint(), "big") == t.fingerprint, t.name
        # and lcm-gen's decoder reads our bytes
        msg = cls.decode(t.encode({t.fields[0][0]: np.arange(t.fields[0][2]) if t.fields[0][2] else 3}))
        first = getattr(msg, t.fields[0][0])
        assert (list(first) if t.fields[0][2] else first) == (list(range(t.fields[0][2])) if t.fields[0][2] else 3)


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
    made = []

    def make(robot="go1", **kw):
        robot = load_robot(robot)
        fake = FakeLcmRobot(robot, lcm_url=URL).start()
        drv = LcmDriver(robot, lcm_url=URL, **kw)
        made.append((fake, drv))
        return robot, fake, drv

    yield make
    for fake, drv in made:
        drv.close()
        fake.stop()


class Tap:
    """A third LCM node on the link: keeps every datagram on `channels` raw, with its arrival time."""

    def __init__(self, channels):
        import lcm

        self.lc = lcm.LCM(URL)
        self.got = {ch: [] for ch in channels}
        for ch in channels:
            self.lc.subscribe(ch, lambda c, data: self.got[c].append((time.monotonic(), data)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.lc.handle_timeout(20)

    def first_after(self, channel: str, t: float, timeout: float = 1.0) -> bytes:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            later = [d for ts, d in list(self.got[channel]) if ts > t]
            if later:
                return later[0]
            time.sleep(0.005)
        raise AssertionError(f"nothing on {channel} after {t}")

    def close(self):
        self._stop.set()
        self._thread.join(1.0)


@pytest.fixture
def tap():
    taps = []

    def make(*channels):
        taps.append(Tap(channels))
        return taps[-1]

    yield make
    for t in taps:
        t.close()


# Cheetah-Software's layouts, written here from the field lists (robot-models.md §4.2), not from
# lucid_ros' LcmType: big-endian, an 8-byte fingerprint, then float[12] per field, index leg * 3 + joint.
MCS_COMMAND = ("tau_ff", "f_ff", "q_des", "qd_des", "p_des", "v_des", "kp_cartesian", "kd_cartesian", "kp_joint", "kd_joint")
MCS_DATA = ("q", "qd", "p", "v", "tau_est")
MCS_LEGS, MCS_JOINTS = ("FR", "FL", "RR", "RL"), ("hip", "thigh", "calf")  # legs 0 FR, 1 FL, 2 HR, 3 HL; ab/ad, hip, knee


def unpack_mcs(data: bytes, fields: tuple[str, ...]) -> tuple[int, dict[str, np.ndarray]]:
    assert len(data) == 8 + 4 * 12 * len(fields)
    vals = struct.unpack(f">Q{12 * len(fields)}f", data)
    return vals[0], {f: np.array(vals[1 + 12 * k : 13 + 12 * k]) for k, f in enumerate(fields)}


def mcs_slot(robot, i: int) -> int:
    """MCS's index of canonical joint i, from its name (not from vendor_index)."""
    leg, part, _ = robot.joint_names[i].split("_")
    return 3 * MCS_LEGS.index(leg) + MCS_JOINTS.index(part)


def test_fake_refuses_a_url_that_leaves_the_machine():
    with pytest.raises(ValueError, match="ttl=0"):
        FakeLcmRobot(load_robot("go1"), lcm_url="udpm://239.255.76.67:7667?ttl=1")


def stand(robot, drv, ticks: int) -> None:
    """Activate, then go from the measured pose to the default pose over 1 s of 50 Hz commands and hold."""
    drv.activate()
    n = robot.n_joints
    q0 = drv.latest().joints.q.copy()
    for k in range(ticks):
        a = min(1.0, k / 50)
        drv.write(JointCommand(time.time(), (1 - a) * q0 + a * robot.default_pose, np.zeros(n), np.zeros(n), robot.kp, robot.kd))
        time.sleep(0.02)


@needs_lcm
def test_lcm_driver_stands_the_fake_robot_at_500hz(lcm_link):
    robot, fake, drv = lcm_link(arm=True)
    stand(robot, drv, 90)
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


@needs_lcm
def test_mini_cheetah_stands_over_cheetah_software_lcm(lcm_link, tap):
    """The mini_cheetah robot speaks MCS's own types both ways; the stand pose arrives as the joint
    angles themselves (MCS convention = ours), and nothing goes out on walk-these-ways' channel."""
    robot, fake, drv = lcm_link("mini_cheetah", arm=True)
    assert drv.dialect.name == fake.dialect.name == "cheetah_software"
    wire = tap("leg_control_data", "leg_control_command", "pd_plustau_targets")
    stand(robot, drv, 100)
    n = robot.n_joints
    fp, leg = unpack_mcs(wire.first_after("leg_control_data", time.monotonic()), MCS_DATA)
    truth = fake.sim.joint_sample().q
    slots = [mcs_slot(robot, i) for i in range(n)]
    print(f"mini_cheetah stand: leg_control_data q FR = {leg['q'][:3].round(3).tolist()}, trunk {fake.sim.ground_truth().pos[2]:.3f} m")
    assert fp == T.MCS_LEG_CONTROL_DATA.fingerprint
    assert np.max(np.abs(leg["q"][slots] - truth)) < 0.02  # the wire's q is the model's joint angle (a tick apart)
    assert np.max(np.abs(leg["q"][slots] - robot.default_pose)) < 0.15  # hip -0.8, knee 1.6, ab/ad -+0.1
    assert fake.sim.ground_truth().pos[2] > 0.2
    assert fake.rejected == 0 and drv.rejected == 0 and fake.commands_received > 100
    assert wire.got["leg_control_command"] and not wire.got["pd_plustau_targets"]
    r = drv.latest()
    assert abs(r.tick / 1e6 - r.stamp) < 1e-3  # no robot stamp in MCS's leg data: the reception time


@needs_lcm
def test_cheetah_software_command_carries_per_joint_gains(lcm_link, tap):
    """A leg_control_command off the wire, decoded by the layout above: joint PD per joint, foot-space terms 0."""
    robot, fake, drv = lcm_link("mini_cheetah", arm=True)
    wire = tap("leg_control_command")
    drv.activate()
    n = robot.n_joints
    # every joint its own target (inside its range: clipping is the next test's), gains and feed-forward
    q = np.clip(drv.latest().joints.q, robot.lower + 0.2, robot.upper - 0.2) + 0.01 * np.arange(n)
    cmd = JointCommand(time.time(), q, 0.05 * np.arange(n), 0.1 * np.arange(n) - 0.5, 60.0 + np.arange(n), 0.5 + 0.1 * np.arange(n))
    drv.write(cmd)
    t = time.monotonic() + 0.01  # the send loop's next 2 ms ticks carry it
    fp, msg = unpack_mcs(wire.first_after("leg_control_command", t), MCS_COMMAND)
    assert fp == T.LEG_CONTROL_COMMAND.fingerprint
    slots = [mcs_slot(robot, i) for i in range(n)]
    for name, ours in (("q_des", cmd.q), ("qd_des", cmd.dq), ("tau_ff", cmd.tau), ("kp_joint", cmd.kp), ("kd_joint", cmd.kd)):
        np.testing.assert_allclose(msg[name][slots], ours, rtol=1e-6, atol=1e-6, err_msg=name)
    for name in ("f_ff", "p_des", "v_des", "kp_cartesian", "kd_cartesian"):
        assert not np.any(msg[name]), name
    assert fake.rejected == 0


def test_cheetah_software_command_clips_and_damps():
    robot = load_robot("mini_cheetah")
    drv = LcmDriver(robot, lcm_url=URL)  # encode() only: nothing opened
    n = robot.n_joints
    far = JointCommand(0.0, robot.upper + 1.0, np.zeros(n), robot.effort_limit * 3, robot.kp, robot.kd)
    _, msg = unpack_mcs(drv.encode(far), MCS_COMMAND)
    slots = [mcs_slot(robot, i) for i in range(n)]
    np.testing.assert_allclose(msg["q_des"][slots], robot.upper, rtol=1e-6)
    np.testing.assert_allclose(msg["tau_ff"][slots], robot.effort_limit, rtol=1e-6)
    _, msg = unpack_mcs(drv.encode(JointCommand.damping(robot.default_pose, 2.0)), MCS_COMMAND)
    assert not np.any(msg["kp_joint"]) and np.all(msg["kd_joint"] == 2.0) and not np.any(msg["tau_ff"])
