"""Go1 LowCmd (614 B) / LowState (807 B) on the wire, as numpy structured dtypes.

Layouts from hardware-and-models.md section 1 (packed, little-endian). Fixed-point fields:
MotorCmd tau = trunc(tau * 256), Kp = trunc(Kp * 32), Kd = trunc(Kd * 16) as int16;
MotorState tauEst = int16 / 256. Every array here is in the vendor's motor-slot order
(FR 0-2, FL 3-5, RR 6-8, RL 9-11; slots 12-19 unused on Go1); the driver remaps to canonical
order with the robot YAML's vendor_index.

`Go1Decoder` validates every datagram (length, head, levelFlag, CRC) and counts each kind of
rejection, so a corrupted link is a number on `diagnostics`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lucid_ros.hardware.crc import packet_crc

HEAD = (0xFE, 0xEF)
LOWLEVEL = 0xFF
HIGHLEVEL = 0xEE
N_MOTORS = 20
POS_STOP = 2.146e9  # PosStopF: "no position control" for this motor
VEL_STOP = 16000.0  # VelStopF: "no velocity control"
MODE_SERVO = 0x0A
MODE_STOP = 0x00
MODE_OVERHEAT = 0x08
LOW_CMD_LEN = 614
LOW_STATE_LEN = 807

_HEADER = [
    ("head", "u1", (2,)),
    ("levelFlag", "u1"),
    ("frameReserve", "u1"),
    ("SN", "<u4", (2,)),
    ("version", "<u4", (2,)),
    ("bandWidth", "<u2"),
]
MOTOR_CMD = np.dtype([("mode", "u1"), ("q", "<f4"), ("dq", "<f4"), ("tau", "<i2"), ("Kp", "<i2"), ("Kd", "<i2"), ("reserve", "<u4", (3,))])
MOTOR_STATE = np.dtype(
    [
        ("mode", "u1"), ("q", "<f4"), ("dq", "<f4"), ("ddq", "<i2"), ("tauEst", "<i2"),
        ("q_raw", "<f4"), ("dq_raw", "<f4"), ("ddq_raw", "<i2"), ("temperature", "i1"), ("reserve", "<u4", (2,)),
    ]
)  # fmt: skip
IMU = np.dtype([("quaternion", "<f4", (4,)), ("gyroscope", "<f4", (3,)), ("accelerometer", "<f4", (3,)), ("rpy", "<f4", (3,)), ("temperature", "i1")])
LOW_CMD = np.dtype(
    _HEADER
    + [
        ("motorCmd", MOTOR_CMD, (N_MOTORS,)),
        ("bms_off", "u1"),
        ("bms_reserve", "u1", (3,)),
        ("wirelessRemote", "u1", (40,)),
        ("reserve", "<u4"),
        ("crc", "<u4"),
    ]
)
LOW_STATE = np.dtype(
    _HEADER
    + [
        ("imu", IMU),
        ("motorState", MOTOR_STATE, (N_MOTORS,)),
        ("bms", "u1", (24,)),
        ("footForce", "<i2", (4,)),
        ("footForceEst", "<i2", (4,)),
        ("tick", "<u4"),
        ("wirelessRemote", "u1", (40,)),
        ("reserve", "<u4"),
        ("crc", "<u4"),
    ]
)
assert MOTOR_CMD.itemsize == 27 and MOTOR_STATE.itemsize == 32 and IMU.itemsize == 53
assert LOW_CMD.itemsize == LOW_CMD_LEN and LOW_STATE.itemsize == LOW_STATE_LEN


def _fixed(x: np.ndarray, scale: float) -> np.ndarray:
    """trunc(x * scale) saturated to int16 (the vendor casts; we saturate instead of wrapping)."""
    v = np.trunc(np.nan_to_num(np.asarray(x, dtype=np.float64) * scale, nan=0.0, posinf=32767, neginf=-32768))
    return np.clip(v, -32768, 32767).astype(np.int16)


@dataclass
class MotorCommands:
    """Per vendor slot (length N_MOTORS); physical units. Unused slots keep the stop values."""

    mode: np.ndarray = field(default_factory=lambda: np.full(N_MOTORS, MODE_SERVO, np.uint8))
    q: np.ndarray = field(default_factory=lambda: np.full(N_MOTORS, POS_STOP))
    dq: np.ndarray = field(default_factory=lambda: np.full(N_MOTORS, VEL_STOP))
    tau: np.ndarray = field(default_factory=lambda: np.zeros(N_MOTORS))
    kp: np.ndarray = field(default_factory=lambda: np.zeros(N_MOTORS))
    kd: np.ndarray = field(default_factory=lambda: np.zeros(N_MOTORS))


def encode_low_cmd(m: MotorCommands, remote: bytes = b"", sn: int = 0, level: int = LOWLEVEL) -> bytes:
    """A 614-byte LowCmd with the CRC filled in."""
    rec = np.zeros((), dtype=LOW_CMD)
    rec["head"] = HEAD
    rec["levelFlag"] = level
    rec["SN"][0] = sn & 0xFFFFFFFF
    mc = rec["motorCmd"]
    mc["mode"] = m.mode
    mc["q"] = m.q
    mc["dq"] = m.dq
    mc["tau"] = _fixed(m.tau, 256.0)
    mc["Kp"] = _fixed(m.kp, 32.0)
    mc["Kd"] = _fixed(m.kd, 16.0)
    if remote:
        rec["wirelessRemote"] = np.frombuffer(remote[:40].ljust(40, b"\0"), np.uint8)
    buf = bytearray(rec.tobytes())
    buf[610:614] = packet_crc(buf).to_bytes(4, "little")
    return bytes(buf)


@dataclass
class LowState:
    """A decoded LowState in physical units, vendor slot order."""

    tick: int
    mode: np.ndarray
    q: np.ndarray
    dq: np.ndarray
    tau_est: np.ndarray
    temperature: np.ndarray
    quat: np.ndarray  # (w, x, y, z)
    gyro: np.ndarray
    acc: np.ndarray
    rpy: np.ndarray
    foot_force: np.ndarray
    foot_force_est: np.ndarray
    remote: bytes


@dataclass
class LowCmd:
    """A decoded LowCmd in physical units (what a robot, or the fake robot, obeys)."""

    level: int
    sn: int
    motors: MotorCommands
    remote: bytes


def decode_low_state_record(rec: np.ndarray) -> LowState:
    ms = rec["motorState"]
    imu = rec["imu"]
    return LowState(
        tick=int(rec["tick"]),
        mode=ms["mode"].copy(),
        q=ms["q"].astype(np.float64),
        dq=ms["dq"].astype(np.float64),
        tau_est=ms["tauEst"].astype(np.float64) / 256.0,
        temperature=ms["temperature"].astype(np.int16),
        quat=imu["quaternion"].astype(np.float64),
        gyro=imu["gyroscope"].astype(np.float64),
        acc=imu["accelerometer"].astype(np.float64),
        rpy=imu["rpy"].astype(np.float64),
        foot_force=rec["footForce"].astype(np.float64),
        foot_force_est=rec["footForceEst"].astype(np.float64),
        remote=rec["wirelessRemote"].tobytes(),
    )


def encode_low_state(s: LowState, level: int = LOWLEVEL) -> bytes:
    """An 807-byte LowState with CRC (the fake robot's side of the link)."""
    rec = np.zeros((), dtype=LOW_STATE)
    rec["head"] = HEAD
    rec["levelFlag"] = level
    ms = rec["motorState"]
    ms["mode"] = s.mode
    ms["q"] = s.q
    ms["dq"] = s.dq
    ms["tauEst"] = _fixed(s.tau_est, 256.0)
    ms["q_raw"] = s.q
    ms["dq_raw"] = s.dq
    ms["temperature"] = np.clip(s.temperature, -128, 127)
    imu = rec["imu"]
    imu["quaternion"] = s.quat
    imu["gyroscope"] = s.gyro
    imu["accelerometer"] = s.acc
    imu["rpy"] = s.rpy
    imu["temperature"] = 30
    rec["footForce"] = np.clip(s.foot_force, -32768, 32767)
    rec["footForceEst"] = np.clip(s.foot_force_est, -32768, 32767)
    rec["tick"] = s.tick & 0xFFFFFFFF
    if s.remote:
        rec["wirelessRemote"] = np.frombuffer(s.remote[:40].ljust(40, b"\0"), np.uint8)
    buf = bytearray(rec.tobytes())
    buf[803:807] = packet_crc(buf).to_bytes(4, "little")
    return bytes(buf)


REJECT_REASONS = ("length", "head", "level", "crc")


class Go1Decoder:
    """Validates and decodes datagrams of one kind; counts accepted and rejected packets by reason."""

    def __init__(self, kind: str = "state"):
        if kind not in ("state", "cmd"):
            raise ValueError(kind)
        self.kind = kind
        self.length = LOW_STATE_LEN if kind == "state" else LOW_CMD_LEN
        self.dtype = LOW_STATE if kind == "state" else LOW_CMD
        self.accepted = 0
        self.rejected = dict.fromkeys(REJECT_REASONS, 0)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def check(self, data: bytes) -> str | None:
        """None if the datagram is a valid packet of this kind, else the reason it is not."""
        if len(data) != self.length:
            return "length"
        if data[0] != HEAD[0] or data[1] != HEAD[1]:
            return "head"
        if data[2] != LOWLEVEL:
            return "level"
        if packet_crc(data) != int.from_bytes(data[self.length - 4 : self.length], "little"):
            return "crc"
        return None

    def decode(self, data: bytes) -> LowState | LowCmd | None:
        reason = self.check(data)
        if reason is not None:
            self.rejected[reason] += 1
            return None
        rec = np.frombuffer(data, dtype=self.dtype)[0]
        self.accepted += 1
        if self.kind == "state":
            return decode_low_state_record(rec)
        mc = rec["motorCmd"]
        motors = MotorCommands(
            mode=mc["mode"].copy(),
            q=mc["q"].astype(np.float64),
            dq=mc["dq"].astype(np.float64),
            tau=mc["tau"].astype(np.float64) / 256.0,
            kp=mc["Kp"].astype(np.float64) / 32.0,
            kd=mc["Kd"].astype(np.float64) / 16.0,
        )
        return LowCmd(int(rec["levelFlag"]), int(rec["SN"][0]), motors, rec["wirelessRemote"].tobytes())
