"""SDK2 LowCmd_ packing and CRC, without DDS (so it is testable anywhere).

The robot checks LowCmd_.crc: CRC-32 (lucid_ros.hardware.crc) over the command laid out as the
naturally aligned C struct, (size >> 2) - 1 words. Struct formats (hardware-and-models.md §2):

    unitree_go LowCmd_: '<4B4IH2x' + 'B3x5f3I' * 20 + '4B' + '55Bx2I'   812 B, 202 CRC words
    unitree_hg LowCmd_: '<2B2x' + 'B3x5fI' * 35 + '5I'                   1004 B, 250 CRC words

`pack_*` take any object with the IDL's field names (the cyclonedds IdlStructs in idl.py, or a
SimpleNamespace in tests) and return the bytes the CRC runs over.
"""

from __future__ import annotations

import struct

from lucid_ros.hardware.crc import crc32_words

GO_LOWCMD = struct.Struct("<4B4IH2x" + "B3x5f3I" * 20 + "4B" + "55Bx2I")
HG_LOWCMD = struct.Struct("<2B2x" + "B3x5fI" * 35 + "5I")
assert GO_LOWCMD.size == 812 and HG_LOWCMD.size == 1004

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
