"""SDK2 LowCmd_/LowState_ packing and CRC, and the check every rt/lowstate sample passes before
it may become state; without DDS imports (so it is testable anywhere).

The robot checks LowCmd_.crc: CRC-32 (lucid_ros.hardware.crc) over the command laid out as the
naturally aligned C struct, (size >> 2) - 1 words. Struct formats (hardware-and-models.md §2):

    unitree_go LowCmd_: '<4B4IH2x' + 'B3x5f3I' * 20 + '4B' + '55Bx2I'   812 B, 202 CRC words
    unitree_hg LowCmd_: '<2B2x' + 'B3x5fI' * 35 + '5I'                   1004 B, 250 CRC words

LowState_ carries the same CRC, over its own naturally aligned C layout (unitree_go 1180 B,
unitree_hg 2092 B). Not over the CDR bytes: C pads every nested struct (IMUState_, MotorState_)
to its alignment, CDR does not, so the two differ by a few bytes. `LowStateCheck` refuses a sample that does not decode, fails its CRC, has the wrong
head or non-finite / impossible readings, and counts each reason: a corrupted sample must never
reach the supervisor as a measurement (issue #5).

`pack_*` take any object with the IDL's field names (the cyclonedds IdlStructs in idl.py, or a
SimpleNamespace in tests) and return the bytes the CRC runs over.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

import numpy as np

from lucid_ros.hardware.crc import crc32_words

log = logging.getLogger("lucid_ros.hardware")

GO_LOWCMD = struct.Struct("<4B4IH2x" + "B3x5f3I" * 20 + "4B" + "55Bx2I")
HG_LOWCMD = struct.Struct("<2B2x" + "B3x5fI" * 35 + "5I")
# header, imu (13 f32 + u8 temperature), motor_state[20] (mode, 7 f32, temperature, lost, reserve[2]),
# bms (4 u8, i32 current, u16 cycle, 4 u8 ntc, 15 u16 cells), foot forces, tick, remote + bit_flag,
# adc_reel, 2 ntc, power v/a, fan[4], reserve, crc
GO_LOWSTATE = struct.Struct("<4B4IH2x" + "13fB3x" + "B3x7fB3x3I" * 20 + "4BiH4B15H" + "8hI41B3xf2B2x2f4H2I")
# version[2], mode_pr, mode_machine, tick, imu (13 f32 + i16), motor_state[35] (mode, 4 f32,
# temperature[2] i16, vol, sensor[2], motorstate, reserve[4]), remote, reserve[4], crc
HG_LOWSTATE = struct.Struct("<2I2B2xI" + "13fh2x" + "B3x4f2hf7I" * 35 + "40B5I")
assert GO_LOWCMD.size == 812 and HG_LOWCMD.size == 1004
assert GO_LOWSTATE.size == 1180 and HG_LOWSTATE.size == 2092
HEAD = (0xFE, 0xEF)

GO_MOTORS = 20
HG_MOTORS = 35
# Motor modes (hardware-and-models.md §2)
GO2_FOC = 0x01
H1_WEAK = 0x01  # H1 ankles and arms
H1_STRONG = 0x0A  # H1 hips, knees, torso
HG_ENABLE = 0x01
STOP = 0x00


def pack_go_lowcmd(c) -> bytes:
    vals: list = [*c.head, c.level_flag, c.frame_reserve, *c.sn, *c.version, c.bandwidth]
    for m in c.motor_cmd:
        vals += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, *m.reserve]
    vals += [c.bms_cmd.off, *c.bms_cmd.reserve, *c.wireless_remote, *c.led, *c.fan, c.gpio, c.reserve, c.crc]
    return GO_LOWCMD.pack(*vals)


def pack_hg_lowcmd(c) -> bytes:
    vals: list = [c.mode_pr, c.mode_machine]
    for m in c.motor_cmd:
        vals += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve]
    vals += [*c.reserve, c.crc]
    return HG_LOWCMD.pack(*vals)


def go_crc(c) -> int:
    return crc32_words(pack_go_lowcmd(c), GO_LOWCMD.size // 4 - 1)


def hg_crc(c) -> int:
    return crc32_words(pack_hg_lowcmd(c), HG_LOWCMD.size // 4 - 1)


def lowcmd_crc(c, flavor: str) -> int:
    return go_crc(c) if flavor == "go" else hg_crc(c)


def _imu_vals(i) -> list:
    return [*i.quaternion, *i.gyroscope, *i.accelerometer, *i.rpy, i.temperature]


def pack_go_lowstate(s) -> bytes:
    vals: list = [*s.head, s.level_flag, s.frame_reserve, *s.sn, *s.version, s.bandwidth, *_imu_vals(s.imu_state)]
    for m in s.motor_state:
        vals += [m.mode, m.q, m.dq, m.ddq, m.tau_est, m.q_raw, m.dq_raw, m.ddq_raw, m.temperature, m.lost, *m.reserve]
    b = s.bms_state
    vals += [b.version_high, b.version_low, b.status, b.soc, b.current, b.cycle, *b.bq_ntc, *b.mcu_ntc, *b.cell_vol]
    vals += [*s.foot_force, *s.foot_force_est, s.tick, *s.wireless_remote, s.bit_flag, s.adc_reel, s.temperature_ntc1,
             s.temperature_ntc2, s.power_v, s.power_a, *s.fan_frequency, s.reserve, s.crc]  # fmt: skip
    return GO_LOWSTATE.pack(*vals)


def pack_hg_lowstate(s) -> bytes:
    vals: list = [*s.version, s.mode_pr, s.mode_machine, s.tick, *_imu_vals(s.imu_state)]
    for m in s.motor_state:
        vals += [m.mode, m.q, m.dq, m.ddq, m.tau_est, *m.temperature, m.vol, *m.sensor, m.motorstate, *m.reserve]
    vals += [*s.wireless_remote, *s.reserve, s.crc]
    return HG_LOWSTATE.pack(*vals)


def lowstate_crc(s, flavor: str) -> int:
    """The CRC a robot puts in LowState_.crc (fake robots fill it the same way)."""
    packed, layout = (pack_go_lowstate(s), GO_LOWSTATE) if flavor == "go" else (pack_hg_lowstate(s), HG_LOWSTATE)
    return crc32_words(packed, layout.size // 4 - 1)


REJECT_REASONS = ("undecodable", "crc", "head", "nonfinite", "quaternion")


class LowStateCheck:
    """The gate between rt/lowstate and the driver's state, with a counter per refusal reason.

    DDS delivers whatever a participant wrote on the topic: a sample that does not even decode
    (cyclonedds raises inside take(), which would also lose the good samples taken with it), a
    corrupted one that decodes into nonsense (its CRC says so), a NaN from a failing encoder.
    None of them may become a measurement; each is counted so the operator sees it in
    diagnostics. `slots`: the vendor motor slots the robot uses (unused slots are not checked).
    """

    def __init__(self, flavor: str, slots: Sequence[int]):
        if flavor not in ("go", "hg"):
            raise ValueError(f"flavor must be 'go' or 'hg', got {flavor!r}")
        self.flavor = flavor
        self.slots = [int(i) for i in slots]
        self.rejected = dict.fromkeys(REJECT_REASONS, 0)
        self.accepted = 0
        self._logged: set[str] = set()

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def problem(self, s) -> str | None:
        """The reason `s` is refused, or None when it may become state."""
        if self.flavor == "go" and tuple(s.head) != HEAD:
            return "head"
        if lowstate_crc(s, self.flavor) != s.crc:
            return "crc"
        ms = [s.motor_state[i] for i in self.slots]
        imu = s.imu_state
        vals = np.array([v for m in ms for v in (m.q, m.dq, m.tau_est)] + [*imu.quaternion, *imu.gyroscope, *imu.accelerometer], float)
        if not np.all(np.isfinite(vals)):
            return "nonfinite"
        if not 0.5 < float(np.linalg.norm(vals[-10:-6])) < 1.5:
            return "quaternion"  # all zeros or garbage: no attitude can be derived from it
        return None

    def accept(self, s) -> bool:
        why = self.problem(s)
        if why is None:
            self.accepted += 1
            return True
        self._reject(why)
        return False

    def _reject(self, why: str, detail: str = "") -> None:
        self.rejected[why] += 1
        if why not in self._logged:  # once per reason: a flood must not flood the log
            self._logged.add(why)
            log.error("unitree_sdk2: rt/lowstate sample rejected (%s%s); counting further ones in diagnostics", why, f": {detail}" if detail else "")

    def take(self, reader, n: int = 10) -> list:
        """Up to n valid samples from a cyclonedds DataReader, one at a time, so an undecodable
        sample costs only itself (and is counted)."""
        out = []
        for _ in range(n):
            try:
                got = reader.take(N=1)
            except Exception as exc:  # noqa: BLE001 - the deserializer raises struct.error, AssertionError, ...
                self._reject("undecodable", f"{type(exc).__name__}: {exc}"[:120])
                continue
            if not got:
                break
            s = got[0]
            if hasattr(s, "motor_state") and self.accept(s):  # InvalidSample (dispose/unregister) has no data
                out.append(s)
        return out

    def values(self) -> dict:
        """Diagnostics keys as the Go1 driver names them (rx_ok, rx_rejected_<reason>)."""
        return {"rx_ok": self.accepted, **{f"rx_rejected_{k}": v for k, v in self.rejected.items()}}

    def summary(self) -> str:
        if not self.rejected_total:
            return ""
        return "rejected " + ", ".join(f"{v} {k}" for k, v in self.rejected.items() if v)
