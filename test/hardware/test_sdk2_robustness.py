"""Unitree SDK2 driver robustness (issue #5), both message layouts (unitree_go: Go2, unitree_hg: H1):
corrupted rt/lowstate samples are refused and counted, never become state, and the driver keeps
running; supervisor silence -> the driver damps within 100 ms; robot silence -> reported within
50 ms; a swapped joint order in the robot YAML is refused at activation.

"Packets" here are the CDR samples on rt/lowstate of a private DDS domain on loopback, written by a
real cyclonedds DataWriter: valid samples with a wrong CRC, head, NaN or zero quaternion, and raw
bytes (truncated, bit-flipped, random) written through a writer whose sample serializes to them.
"""

import os
import random
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hw_tools import assert_activation_refused, assert_silence_reported, assert_watchdog_damps, hold, importable, mute_and_settle, wait_for

from lucid_ros import paths
from lucid_ros.hardware.convention import VendorConvention
from lucid_ros.robots import load_robot

pytestmark = pytest.mark.skipif(not importable("cyclonedds"), reason="cyclonedds 0.10.2 not installed (docker/build_cyclonedds.sh builds it)")
if importable("cyclonedds"):
    from lucid_ros.hardware.sdk2 import codec, idl
    from lucid_ros.hardware.sdk2.driver import Sdk2Driver
    from lucid_ros.hardware.sdk2.fake import FakeSdk2Robot


DOMAIN = random.Random(os.getpid() + 5).randint(150, 230)  # private: never the robots' domain 0
FUZZ_DOMAIN = DOMAIN + 1  # the codec fuzz tests: no driver or fake there
CASES = [("go2", "go"), ("h1", "hg")]  # (robot, layout): Go2 speaks unitree_go; H1 here over unitree_hg
START = {"go2": "lying", "h1": "default"}  # H1 hangs in its harness: lying flat its joints are all near zero


@pytest.fixture(scope="module")
def robots():
    return {name: load_robot(name) for name in ("go2", "h1")}


def _driver_checks_state() -> bool:
    return importable("cyclonedds") and hasattr(Sdk2Driver(load_robot("go2"), domain_id=DOMAIN), "state_check")


needs_state_check = pytest.mark.skipif(
    not importable("cyclonedds") or not _driver_checks_state(),
    reason="lucid_ros/hardware/sdk2/driver.py does not pass rt/lowstate through codec.LowStateCheck yet (issue #5; "
    "needs `self.state_check = codec.LowStateCheck(self.flavor, self.vidx)` and `state_check.take(reader, 10)` in the listener, "
    "and fake.py setting `s.crc = codec.lowstate_crc(s, self.flavor)`)",
)


# ---- the check itself, on decoded samples ------------------------------------------------------
def _state(flavor: str, robot, tick: int = 7):
    s = idl.TYPES[flavor][1]()
    s.tick = tick
    q_wire = VendorConvention.of(robot).q_to_vendor(robot.default_pose)  # the robot reports its own joint zero and sign
    for k, slot in enumerate(robot.vendor_index):
        m = s.motor_state[int(slot)]
        m.q, m.dq, m.tau_est = float(q_wire[k]), 0.01 * k, -0.1 * k
    s.imu_state.quaternion = [1.0, 0.0, 0.0, 0.0]
    s.imu_state.accelerometer = [0.0, 0.0, 9.81]
    if flavor == "hg":
        s.mode_machine = 5
    s.crc = codec.lowstate_crc(s, flavor)
    return s


def test_lowstate_layouts_are_the_naturally_aligned_structs():
    """Field offsets of the struct the vendor's LowState_ CRC runs over (C alignment, nested structs padded)."""
    go = idl.GoLowState()
    go.tick, go.crc, go.motor_state[19].q, go.imu_state.temperature, go.power_a = 0x11223344, 0x55667788, 1.5, 200, 2.5
    b = codec.pack_go_lowstate(go)
    assert len(b) == 1180 and b[:4] == b"\xfe\xef\xff\x00"
    assert b[76] == 200 and struct.unpack_from("<f", b, 80 + 48 * 19 + 4)[0] == 1.5  # imu.temperature, motor_state[19].q
    assert struct.unpack_from("<I", b, 1100)[0] == 0x11223344 and struct.unpack_from("<f", b, 1160)[0] == 2.5
    assert struct.unpack_from("<I", b, 1176)[0] == 0x55667788  # crc last, outside its own 294 words
    hg = idl.HgLowState()
    hg.mode_machine, hg.tick, hg.motor_state[34].tau_est, hg.crc = 5, 99, -3.0, 1
    b = codec.pack_hg_lowstate(hg)
    assert len(b) == 2092 and b[9] == 5 and struct.unpack_from("<I", b, 12)[0] == 99
    assert struct.unpack_from("<f", b, 72 + 56 * 34 + 16)[0] == -3.0 and struct.unpack_from("<I", b, 2088)[0] == 1


@pytest.mark.parametrize("robot_name, flavor", CASES)
def test_each_refusal_reason_is_counted(robots, robot_name, flavor):
    robot = robots[robot_name]
    chk = codec.LowStateCheck(flavor, robot.vendor_index)
    assert chk.accept(_state(flavor, robot))
    slot = int(robot.vendor_index[3])
    bad = []
    s = _state(flavor, robot)
    s.crc ^= 1 << 17
    bad.append(("crc", s))
    s = _state(flavor, robot)
    s.motor_state[slot].q = 0.3  # changed after the CRC was computed: a corrupted sample
    bad.append(("crc", s))
    for field, value in (("q", float("nan")), ("dq", float("inf")), ("tau_est", float("-inf"))):
        s = _state(flavor, robot)
        setattr(s.motor_state[slot], field, value)
        s.crc = codec.lowstate_crc(s, flavor)
        bad.append(("nonfinite", s))
    s = _state(flavor, robot)
    s.imu_state.gyroscope = [0.0, float("nan"), 0.0]
    s.crc = codec.lowstate_crc(s, flavor)
    bad.append(("nonfinite", s))
    s = _state(flavor, robot)
    s.imu_state.quaternion = [0.0, 0.0, 0.0, 0.0]
    s.crc = codec.lowstate_crc(s, flavor)
    bad.append(("quaternion", s))
    if flavor == "go":
        s = _state(flavor, robot)
        s.head = [0xFE, 0xEE]
        s.crc = codec.lowstate_crc(s, flavor)
        bad.append(("head", s))
    for why, s in bad:
        assert chk.problem(s) == why
        assert not chk.accept(s)
    expected = {k: sum(1 for w, _ in bad if w == k) for k in codec.REJECT_REASONS}
    assert chk.rejected == expected and chk.accepted == 1
    unused = next(i for i in range(len(s.motor_state)) if i not in set(robot.vendor_index.tolist()))
    s = _state(flavor, robot)
    s.motor_state[unused].q = float("nan")  # a slot this robot does not use: not our measurement
    s.crc = codec.lowstate_crc(s, flavor)
    assert chk.accept(s)


# ---- raw samples over a real DDS link --------------------------------------------------------------
def _raw_writer(dp, flavor):
    """A DataWriter on rt/lowstate whose samples serialize to whatever bytes we give it."""
    from cyclonedds.core import Policy, Qos
    from cyclonedds.pub import DataWriter
    from cyclonedds.topic import Topic

    State = idl.TYPES[flavor][1]

    class Raw(State):
        payload = b""

        def serialize(self, *args, **kwargs):
            return self.payload

    qos = Qos(Policy.Reliability.Reliable(1_000_000_000), Policy.History.KeepAll)
    w = DataWriter(dp, Topic(dp, "rt/lowstate", State), qos=qos)
    raw = Raw()

    def write(data: bytes) -> None:
        raw.payload = data
        w.write(raw)

    return write


def _meaningful_bytes(flavor, good: bytes) -> list[int]:
    """Positions where a flipped bit changes the decoded sample (CDR padding and the
    encapsulation options do not): only there can a flip be detected at all."""
    State = idl.TYPES[flavor][1]
    ref = State.deserialize(good)
    out = []
    for pos in range(len(good)):
        b = bytearray(good)
        b[pos] ^= 0x10
        try:
            if State.deserialize(bytes(b)) != ref:
                out.append(pos)
        except Exception:  # noqa: BLE001 - undecodable counts as a change
            out.append(pos)
    return out


def _fuzz(rng: random.Random, flavor, robot, good: bytes, meaningful: list[int], i: int) -> bytes:
    kind = i % 6
    if kind == 0:  # random bytes of random length, sometimes behind a valid CDR header
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 2 * len(good))))
        return (good[:4] + body) if rng.random() < 0.5 else body
    if kind == 1:  # truncated
        return good[: rng.randrange(0, len(good) - 4)]
    if kind == 2:  # bit flips where they change the sample
        b = bytearray(good)
        for pos in rng.sample(meaningful, rng.randrange(1, 6)):
            b[pos] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 3:  # random body of exactly the right length: decodes, into nonsense
        return good[:4] + bytes(rng.getrandbits(8) for _ in range(len(good) - 4))
    s = _state(flavor, robot, tick=1_000_000 + i)
    if kind == 4:  # a well-formed sample with a NaN/inf reading and a correct CRC
        setattr(s.motor_state[int(rng.choice(robot.vendor_index))], rng.choice(("q", "dq", "tau_est")), rng.choice((float("nan"), float("inf"))))
    elif flavor == "go" and i % 12 == 5:  # wrong head, CRC recomputed
        s.head = [rng.randrange(256), 0xEF]
        s.head[0] = s.head[0] if s.head[0] != 0xFE else 0x00
    else:  # the CRC field itself corrupted
        s.crc = (s.crc + rng.randrange(1, 2**32)) % 2**32
        return s.serialize()
    s.crc = codec.lowstate_crc(s, flavor)
    return s.serialize()


@pytest.mark.parametrize("robot_name, flavor", CASES)
def test_fuzz_1000_samples_over_dds_are_all_refused_and_counted(robots, robot_name, flavor):
    from cyclonedds.core import Policy, Qos
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic

    from lucid_ros.hardware.sdk2 import dds

    robot = robots[robot_name]
    dp, _domain = dds.participant(FUZZ_DOMAIN, "lo")
    qos = Qos(Policy.Reliability.Reliable(1_000_000_000), Policy.History.KeepAll)
    reader = DataReader(dp, Topic(dp, "rt/lowstate", idl.TYPES[flavor][1]), qos=qos)
    write = _raw_writer(dp, flavor)
    chk = codec.LowStateCheck(flavor, robot.vendor_index)
    good = _state(flavor, robot).serialize()
    rng = random.Random(11)
    meaningful = _meaningful_bytes(flavor, good)
    accepted: list = []
    for i in range(1000):
        write(_fuzz(rng, flavor, robot, good, meaningful, i))
        if i % 25 == 24:
            accepted += chk.take(reader, 100)
    t_end = time.monotonic() + 5.0
    while chk.rejected_total + len(accepted) < 1000 and time.monotonic() < t_end:
        accepted += chk.take(reader, 100)
        time.sleep(0.005)
    assert accepted == [] and chk.accepted == 0
    assert chk.rejected_total == 1000, chk.rejected
    assert all(chk.rejected[k] > 0 for k in ("undecodable", "crc", "nonfinite")), chk.rejected
    print(f"{flavor}: 1000 fuzzed samples refused: {chk.rejected}")
    write(good)  # and the link still delivers the real thing
    t_end = time.monotonic() + 2.0
    while not accepted and time.monotonic() < t_end:
        accepted += chk.take(reader, 10)
        time.sleep(0.005)
    assert len(accepted) == 1 and accepted[0].tick == 7


# ---- the driver against the fake robot -------------------------------------------------------------
@pytest.fixture
def link(robots):
    made = []

    def make(robot_name, flavor, driver_robot=None, **kw):
        robot = robots[robot_name]
        fake = FakeSdk2Robot(robot, domain_id=DOMAIN, interface="lo", flavor=flavor, start_pose=START[robot_name]).start()
        drv = Sdk2Driver(driver_robot or robot, domain_id=DOMAIN, interface="lo", flavor=flavor, **kw)
        made.append((fake, drv))
        return robot, fake, drv

    yield make
    for fake, drv in made:
        drv.close()
        fake.stop()


@pytest.mark.parametrize("robot_name, flavor", CASES)
def test_supervisor_silence_driver_damps_within_100ms(link, robot_name, flavor):
    robot, fake, drv = link(robot_name, flavor, arm=True)
    drv.activate()
    q0 = drv.latest().joints.q.copy()
    for _ in range(15):
        drv.write(hold(robot, q0, kp_scale=0.3))
        time.sleep(0.02)
    assert wait_for(lambda: fake.log and fake.log[-1][1] == "position", 1.0)
    assert_watchdog_damps(drv, fake, hold(robot, q0, kp_scale=0.3), slack=0.030)


@pytest.mark.parametrize("robot_name, flavor", CASES)
def test_robot_silence_is_reported_within_50ms(link, robot_name, flavor):
    faults = []
    robot, fake, drv = link(robot_name, flavor, arm=True, on_fault=lambda kind, msg: faults.append((time.monotonic(), kind)))
    drv.activate()
    drv.write(hold(robot, drv.latest().joints.q, kp_scale=0.3))
    time.sleep(0.05)
    # 50 ms after the last sample, at the next 2 ms send tick; slack for DDS delivery on a loaded machine
    assert_silence_reported(drv, fake, faults, slack=0.025)
    assert drv.counters["silences"] == 1


def _swapped(tmp_path: Path, robot_name: str) -> object:
    """The robot YAML with a joint-order mistake. Go2: FR thigh and calf slots exchanged. H1: vendor_index
    = the joint's position in the YAML (the legged_gym order taken for the motor order)."""
    raw = yaml.safe_load((paths.config_dir() / "robots" / f"{robot_name}.yaml").read_text())
    if robot_name == "go2":
        joints = {j["name"]: j for j in raw["joints"]}
        joints["FR_thigh_joint"]["vendor_index"], joints["FR_calf_joint"]["vendor_index"] = 2, 1
    else:
        for i, j in enumerate(raw["joints"]):
            j["vendor_index"] = i
    raw["urdf"] = str(paths.urdf_dir() / f"{robot_name}.urdf")
    raw["mjcf"] = str(paths.urdf_dir() / f"{robot_name}.xml")
    out = tmp_path / f"{robot_name}_swapped.yaml"
    out.write_text(yaml.safe_dump(raw))
    return load_robot(out)


@pytest.mark.parametrize("robot_name, flavor", CASES)
def test_swapped_joint_order_refused_at_activation(link, tmp_path, robot_name, flavor):
    robot, fake, drv = link(robot_name, flavor, driver_robot=_swapped(tmp_path, robot_name), arm=True)
    msg = assert_activation_refused(drv, fake)
    if robot_name == "go2":
        assert "FR_thigh_joint" in msg
    else:  # which mirrored pair is named first depends on how the limbs hang; the reason must be the swap
        assert "mirrored joints differ" in msg and "wrong vendor_index" in msg, msg


@needs_state_check
@pytest.mark.parametrize("robot_name, flavor", CASES)
def test_live_garbage_is_refused_counted_and_never_becomes_state(link, robots, robot_name, flavor):
    """The fake goes quiet, 1000 bad samples arrive on its topic: none may count as the robot being alive."""
    from lucid_ros.hardware.sdk2 import dds

    robot, fake, drv = link(robot_name, flavor, arm=True)
    drv.activate()
    values = drv.health().values
    assert values["rx_ok"] > 0 and sum(values[f"rx_rejected_{k}"] for k in codec.REJECT_REASONS) == 0  # the fake's real samples all pass
    dp, _domain = dds.participant(DOMAIN, "lo")
    write = _raw_writer(dp, flavor)
    good = _state(flavor, robot).serialize()
    rng = random.Random(5)
    meaningful = _meaningful_bytes(flavor, good)
    samples = [_fuzz(rng, flavor, robot, good, meaningful, i) for i in range(1000)]
    received = mute_and_settle(fake, drv)
    seen = lambda: drv.state_check.rejected_total + drv.counters["received"]  # noqa: E731
    lost = 0
    for data in samples:
        before = seen()
        write(data)
        # the driver keeps 1 sample (best effort, as on the robot): one at a time, or DDS replaces them unseen.
        # Each is seen within milliseconds; the 0.5 s bound is for a loaded CI machine (at 0.1 s a
        # full-suite run once counted more than 10 as lost), and a sample DDS really dropped costs 0.5 s.
        lost += not wait_for(lambda: seen() > before, 0.5)  # noqa: B023
    assert lost <= 10 and drv.state_check.rejected_total >= 990, (lost, drv.state_check.rejected)
    values = drv.health().values
    assert {k: values[f"rx_rejected_{k}"] for k in codec.REJECT_REASONS} == drv.state_check.rejected and values["rx_rejected_crc"] > 0
    assert drv.counters["received"] == received and drv.read() is None  # nothing became state
    assert drv.state == "active" and drv.loop.running
    print(f"{robot_name}/{flavor}: {drv.state_check.rejected_total} of 1000 live samples refused: {drv.state_check.rejected}")
    write(good)  # one sound sample (cyclonedds' encoding, codec.lowstate_crc) is taken: the two CRCs agree
    assert wait_for(lambda: drv.read() is not None, 1.0)
    assert drv.read().tick == 7 and drv.read().joints.q == pytest.approx(robot.default_pose, abs=1e-6)
    fake.mute(False)
    assert wait_for(lambda: drv.read() is not None and drv.read().tick != 7, 1.0)
    q = drv.read().joints.q
    assert np.all(np.isfinite(q)) and np.all(np.abs(q) < 5.0)
