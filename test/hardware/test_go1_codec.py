"""Go1 UDP codec: byte offsets, CRC vectors, fixed-point scales, rejection counters, fuzzing,
and a cross-check against the vendor's compiled binding in both directions."""

import random
import socket
import struct
import time

import numpy as np
import pytest

from lucid_ros.hardware.crc import crc32_words, crc32_words_reference
from lucid_ros.hardware.go1 import codec
from lucid_ros.hardware.go1.remote import RemoteMapper, decode_remote, encode_remote
from lucid_ros.hardware.go1.safety import position_limit, power_protect


@pytest.mark.parametrize(
    "words, expected",
    [([0], 0xC704DD7B), ([0, 0, 0, 0], 0x552D22C8), ([0x12345678, 0xDEADBEEF, 1], 0xE628C6FD)],
)
def test_crc_vectors(words, expected):
    data = struct.pack(f"<{len(words)}I", *words)
    assert crc32_words(data) == expected
    assert crc32_words_reference(words) == expected


def test_fast_crc_equals_bitwise_definition():
    rng = random.Random(1)
    for n in (1, 2, 7, 152, 200):
        words = [rng.getrandbits(32) for _ in range(n)]
        assert crc32_words(struct.pack(f"<{n}I", *words)) == crc32_words_reference(words)


def test_layout_offsets():
    assert codec.LOW_CMD.itemsize == 614 and codec.LOW_STATE.itemsize == 807
    off = {k: codec.LOW_CMD.fields[k][1] for k in codec.LOW_CMD.names}
    assert (off["levelFlag"], off["SN"], off["version"], off["bandWidth"], off["motorCmd"]) == (2, 4, 12, 20, 22)
    assert (off["bms_off"], off["wirelessRemote"], off["reserve"], off["crc"]) == (562, 566, 606, 610)
    mc = {k: codec.MOTOR_CMD.fields[k][1] for k in codec.MOTOR_CMD.names}
    assert mc == {"mode": 0, "q": 1, "dq": 5, "tau": 9, "Kp": 11, "Kd": 13, "reserve": 15}
    so = {k: codec.LOW_STATE.fields[k][1] for k in codec.LOW_STATE.names}
    assert (so["imu"], so["motorState"], so["bms"], so["footForce"], so["footForceEst"]) == (22, 75, 715, 739, 747)
    assert (so["tick"], so["wirelessRemote"], so["reserve"], so["crc"]) == (755, 759, 799, 803)
    imu = {k: 22 + codec.IMU.fields[k][1] for k in codec.IMU.names}
    assert imu == {"quaternion": 22, "gyroscope": 38, "accelerometer": 50, "rpy": 62, "temperature": 74}
    ms = {k: codec.MOTOR_STATE.fields[k][1] for k in codec.MOTOR_STATE.names}
    assert ms == {"mode": 0, "q": 1, "dq": 5, "ddq": 9, "tauEst": 11, "q_raw": 13, "dq_raw": 17, "ddq_raw": 21, "temperature": 23, "reserve": 24}


def test_low_cmd_bytes_and_scales():
    m = codec.MotorCommands()
    m.q[4], m.dq[4], m.tau[4], m.kp[4], m.kd[4] = 0.8, -0.25, 1.23, 20.3, 0.57
    pkt = codec.encode_low_cmd(m, sn=7)
    assert len(pkt) == 614 and pkt[:3] == b"\xfe\xef\xff"
    base = 22 + 27 * 4
    assert pkt[base] == 0x0A
    assert struct.unpack_from("<ff", pkt, base + 1) == pytest.approx((0.8, -0.25))
    assert struct.unpack_from("<hhh", pkt, base + 9) == (int(1.23 * 256), int(20.3 * 32), int(0.57 * 16))
    assert struct.unpack_from("<I", pkt, 610)[0] == crc32_words(pkt, 152)
    assert struct.unpack_from("<f", pkt, 22 + 1)[0] == pytest.approx(codec.POS_STOP, rel=1e-6)  # unused slot 0: stop value
    dec = codec.Go1Decoder("cmd").decode(pkt)
    assert dec.motors.kp[4] == pytest.approx(20.28125) and dec.motors.kd[4] == pytest.approx(0.5625)
    assert dec.sn == 7


def _state(tick=42, q=None, remote=b""):
    n = codec.N_MOTORS
    return codec.LowState(
        tick=tick, mode=np.full(n, 10, np.uint8), q=np.arange(n) * 0.1 if q is None else q, dq=-np.arange(n) * 0.01,
        tau_est=np.linspace(-3, 3, n), temperature=np.full(n, 40), quat=np.array([1.0, 0, 0, 0]), gyro=np.array([0.1, 0.2, 0.3]),
        acc=np.array([0.0, 0.0, 9.81]), rpy=np.zeros(3), foot_force=np.array([10, 20, 30, 40]), foot_force_est=np.zeros(4), remote=remote,
    )  # fmt: skip


def test_low_state_roundtrip_and_offsets():
    pkt = codec.encode_low_state(_state(remote=encode_remote({"L2", "B"}, ly=0.5)))
    assert len(pkt) == 807
    assert struct.unpack_from("<I", pkt, 755)[0] == 42
    assert struct.unpack_from("<f", pkt, 75 + 32 * 3 + 1)[0] == pytest.approx(0.3)
    assert struct.unpack_from("<3f", pkt, 38) == pytest.approx((0.1, 0.2, 0.3))
    assert struct.unpack_from("<4h", pkt, 739) == (10, 20, 30, 40)
    s = codec.Go1Decoder("state").decode(pkt)
    assert s.tick == 42 and s.q[3] == pytest.approx(0.3) and s.tau_est[0] == pytest.approx(-3.0, abs=1 / 256)
    r = decode_remote(s.remote)
    assert r.held() == {"L2", "B"} and r.ly == pytest.approx(0.5)


def test_rejections_are_counted():
    good = codec.encode_low_state(_state())
    d = codec.Go1Decoder("state")
    bad_crc = bytearray(good)
    bad_crc[300] ^= 0x01
    wrong_head = b"\xfe\xee" + good[2:]
    wrong_level = good[:2] + b"\xee" + good[3:]
    for pkt in (good[:-1], good + b"\0", b"", bytes(bad_crc), wrong_head, wrong_level, codec.encode_low_cmd(codec.MotorCommands())):
        assert d.decode(pkt) is None
    assert d.rejected == {"length": 4, "head": 1, "level": 1, "crc": 1}
    assert d.decode(good) is not None and d.accepted == 1


def test_fuzz_1000_packets_never_crash_and_are_counted():
    rng = random.Random(7)
    good = codec.encode_low_state(_state())
    d = codec.Go1Decoder("state")
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            pkt = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1200)))
        elif kind == 1:
            # bit flips at distinct places the CRC covers (bytes 0..799) or in the CRC itself;
            # bytes 800..802 (the tail of `reserve`) lie outside the vendor's CRC coverage.
            pkt = bytearray(good)
            for pos in rng.sample([*range(800), *range(803, 807)], rng.randrange(1, 8)):
                pkt[pos] ^= 1 << rng.randrange(8)
            pkt = bytes(pkt)
        elif kind == 2:
            pkt = good[: rng.randrange(0, len(good))]
        else:
            pkt = bytes(rng.getrandbits(8) for _ in range(807))
        assert d.decode(pkt) is None
    assert d.rejected_total == 1000 and d.accepted == 0


def test_position_limit_and_power_protect():
    q = np.array([2.0, 3.5, -3.0] * 4 + [codec.POS_STOP])
    lim = position_limit(q)
    assert list(lim[:3]) == pytest.approx([1.047, 2.966, -2.721]) and lim[12] == codec.POS_STOP
    assert power_protect(np.full(12, 10.0), np.full(12, 8.0), 9) == (True, pytest.approx(960.0))
    assert power_protect(np.full(12, 10.0), np.full(12, 7.0), 9)[0] is False


def test_remote_mapping():
    m = RemoteMapper()
    r = decode_remote(encode_remote(set(), lx=0.5, ly=1.0, rx=-1.0))
    assert m.cmd_vel(r) == pytest.approx((1.0, -0.25, 1.0))
    assert m.cmd_vel(decode_remote(encode_remote(ly=0.03))) == (0.0, 0.0, 0.0)  # dead zone
    assert m.actions(decode_remote(encode_remote({"L2"}))) == []
    assert m.actions(decode_remote(encode_remote({"L2", "B"}))) == ["estop"]
    assert m.actions(decode_remote(encode_remote({"L2", "B"}))) == []  # held: fires once
    assert m.actions(decode_remote(encode_remote({"B"}))) == []  # no shift key, no action
    assert m.actions(decode_remote(encode_remote({"L2", "Y"}))) == ["stand"]
    assert m.actions(decode_remote(encode_remote({"L2", "A"}))) == []  # vendor mode switch: unmapped


# ---- vendor binding cross-check ------------------------------------------------------------------
try:
    from unitree_legged_sdk import robot_interface as ri
except ImportError:  # the vendor wheel is an optional extra (pip install 'lucid_ros[go1]')
    ri = None
needs_vendor = pytest.mark.skipif(ri is None, reason="unitree-legged-sdk wheel not installed (pip install unitree-legged-sdk)")


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def vendor_link():
    robot = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    robot.bind(("127.0.0.1", 0))
    robot.settimeout(1.0)
    udp = ri.UDP(0xFF, _free_port(), "127.0.0.1", robot.getsockname()[1])
    yield udp, robot
    robot.close()


@needs_vendor
def test_vendor_low_cmd_decodes_and_matches_our_bytes(vendor_link):
    udp, robot = vendor_link
    cmd = ri.LowCmd()
    udp.InitCmdData(cmd)
    cmd.levelFlag = 0xFF
    values = {1: (0.8, 0.5, 1.23, 20.3, 0.57), 7: (-1.5, -0.1, -2.5, 40.0, 1.0)}
    for i, (q, dq, tau, kp, kd) in values.items():
        mc = cmd.motorCmd[i]
        mc.q, mc.dq, mc.tau, mc.Kp, mc.Kd = q, dq, tau, kp, kd
    udp.SetSend(cmd)
    udp.Send()
    data, _ = robot.recvfrom(2048)
    d = codec.Go1Decoder("cmd")
    c = d.decode(data)
    assert c is not None, d.rejected  # the vendor's CRC passes our check
    for i, (q, dq, tau, kp, kd) in values.items():
        assert (c.motors.q[i], c.motors.dq[i]) == pytest.approx((q, dq), rel=1e-6)
        assert c.motors.tau[i] == pytest.approx(int(tau * 256) / 256)
        assert c.motors.kp[i] == pytest.approx(int(kp * 32) / 32) and c.motors.kd[i] == pytest.approx(int(kd * 16) / 16)
    assert c.motors.q[0] == pytest.approx(codec.POS_STOP, rel=1e-6) and c.motors.dq[0] == pytest.approx(codec.VEL_STOP)
    m = codec.MotorCommands()
    for i, (q, dq, tau, kp, kd) in values.items():
        m.q[i], m.dq[i], m.tau[i], m.kp[i], m.kd[i] = q, dq, tau, kp, kd
    assert codec.encode_low_cmd(m) == data  # byte-identical to the vendor's packet


@needs_vendor
def test_vendor_parses_our_low_state_and_rejects_bad_crc(vendor_link):
    udp, robot = vendor_link
    udp.Send()  # so we learn the vendor's address
    _, addr = robot.recvfrom(2048)
    state = ri.LowState()
    robot.sendto(codec.encode_low_state(_state(tick=12345, remote=bytes(range(40)))), addr)
    time.sleep(0.05)
    udp.Recv()
    udp.GetRecv(state)
    assert state.tick == 12345
    assert [state.motorState[i].q for i in range(4)] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert state.motorState[19].tauEst == pytest.approx(3.0, abs=1 / 256)
    assert list(state.imu.gyroscope) == pytest.approx([0.1, 0.2, 0.3])
    assert list(state.footForce) == [10, 20, 30, 40]
    assert list(state.wirelessRemote[:5]) == [0, 1, 2, 3, 4]
    bad = bytearray(codec.encode_low_state(_state(tick=999)))
    bad[803] ^= 0xFF  # wrong CRC: the vendor must ignore it, proving it checks our CRC
    robot.sendto(bytes(bad), addr)
    time.sleep(0.05)
    udp.Recv()
    udp.GetRecv(state)
    assert state.tick == 12345
    robot.sendto(codec.encode_low_state(_state(tick=1000)), addr)
    time.sleep(0.05)
    udp.Recv()
    udp.GetRecv(state)
    assert state.tick == 1000
