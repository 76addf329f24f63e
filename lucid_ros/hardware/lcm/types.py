"""The walk-these-ways / Cheetah-Software LCM messages, encoded by hand (no lcm-gen output).

Two dialects share state_estimator_data and rc_command but not the joint messages (`DIALECTS`,
chosen per robot by `vendor.lcm_dialect` in its YAML): walk-these-ways' Go1 bridge takes
pd_tau_targets_lcmt on pd_plustau_targets and stamps its leg_control_data_lcmt; Cheetah-Software
(MCS) takes leg_control_command_lcmt on leg_control_command and its leg_control_data_lcmt has no
stamp or ids (the same type name, another layout: the fingerprint tells them apart).

LCM wire format: an 8-byte big-endian fingerprint, then every field big-endian in declaration
order (fixed arrays element by element). The fingerprint is lcm-gen's structural hash: start at
0x12345678; per field mix in its name, its primitive type name, the number of dimensions and,
per dimension, the mode (0 = fixed) and size as a string; mix(v, c) = ((v << 8) ^ (v >> 55)) + c
in signed 64-bit arithmetic (strings mix their length first); the fingerprint is that hash
rotated left by one bit. test/hardware/test_lcm.py checks ours against lcm-gen on .lcm files
written from the same field lists.

Field lists and sizes: hardware-and-models.md §3 (encoded sizes 272 / 544 / 160 / 46 bytes),
robot-models.md §4.2 for MCS (248 / 488 bytes: float[12] x 5 or x 10 and the fingerprint).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

_FMT = {"float": "f", "double": "d", "int64_t": "q", "int32_t": "i", "int16_t": "h", "int8_t": "b"}
_MASK = (1 << 64) - 1


def _signed(v: int) -> int:
    v &= _MASK
    return v - (1 << 64) if v >> 63 else v


def _mix(v: int, c: int) -> int:
    return _signed(((v << 8) ^ (v >> 55)) + c)  # v is signed: >> is arithmetic, as in lcm-gen's C


def _mix_str(v: int, s: str) -> int:
    v = _mix(v, len(s))
    for ch in s.encode():
        v = _mix(v, ch)
    return v


class DecodeError(ValueError):
    """A datagram that is not this message: `reason` is "length" or "fingerprint" (the LCM
    equivalent of a wrong head: another type, or garbage, on the channel)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class LcmType:
    name: str
    fields: tuple[tuple[str, str, int], ...]  # (name, primitive type, fixed length; 0 = scalar)

    @cached_property
    def fingerprint(self) -> int:
        v = 0x12345678
        for fname, ftype, n in self.fields:
            v = _mix_str(v, fname)
            v = _mix_str(v, ftype)
            v = _mix(v, 1 if n else 0)
            if n:
                v = _mix(v, 0)  # dimension mode: fixed size
                v = _mix_str(v, str(n))
        u = v & _MASK
        return ((u << 1) & _MASK) | (u >> 63)

    @cached_property
    def struct(self) -> struct.Struct:
        return struct.Struct(">Q" + "".join(f"{n or ''}{_FMT[t]}" for _, t, n in self.fields))

    def has(self, fname: str) -> bool:
        return any(f == fname for f, _t, _n in self.fields)

    @property
    def size(self) -> int:
        return self.struct.size

    def encode(self, values: dict) -> bytes:
        flat: list = [self.fingerprint]
        for fname, ftype, n in self.fields:
            integer = _FMT[ftype] in "qihb"
            v = values.get(fname)
            if v is None:
                flat += [0] * n if n else [0]
            elif n:
                a = np.asarray(v, dtype=np.int64 if integer else np.float64).ravel()
                if len(a) != n:
                    raise ValueError(f"{self.name}.{fname}: expected {n} values, got {len(a)}")
                flat += a.tolist()
            else:
                flat.append(int(v) if integer else float(v))
        return self.struct.pack(*flat)

    def decode(self, data: bytes) -> dict:
        """Raises DecodeError (a ValueError) on a wrong size or fingerprint (a different message on the channel)."""
        if len(data) != self.size:
            raise DecodeError("length", f"{self.name}: {len(data)} bytes, expected {self.size}")
        vals = self.struct.unpack(data)
        if vals[0] != self.fingerprint:
            raise DecodeError("fingerprint", f"{self.name}: fingerprint {vals[0]:#018x} != {self.fingerprint:#018x}")
        out, i = {}, 1
        for fname, _t, n in self.fields:
            if n:
                out[fname] = np.array(vals[i : i + n])
                i += n
            else:
                out[fname] = vals[i]
                i += 1
        return out


_IDS = (("timestamp_us", "int64_t", 0), ("id", "int64_t", 0), ("robot_id", "int64_t", 0))

# walk-these-ways' layouts (its Go1 bridge, lcm_position); the estimator and remote are both dialects'.

LEG_CONTROL_DATA = LcmType("leg_control_data_lcmt", tuple((f, "float", 12) for f in ("q", "qd", "p", "v", "tau_est")) + _IDS)
PD_TAU_TARGETS = LcmType(
    "pd_tau_targets_lcmt",
    tuple((f, "double", 12) for f in ("q_des", "qd_des", "tau_ff", "kp", "kd")) + _IDS + (("se_contactState", "double", 4),),
)
STATE_ESTIMATOR = LcmType(
    "state_estimator_lcmt",
    tuple((f, "float", 3) for f in ("p", "vWorld", "vBody", "rpy", "omegaBody", "omegaWorld"))
    + (("quat", "float", 4), ("contact_estimate", "float", 4), ("aBody", "float", 3), ("aWorld", "float", 3))
    + _IDS,
)
RC_COMMAND = LcmType(
    "rc_command_lcmt",
    (("mode", "int16_t", 0), ("left_stick", "float", 2), ("right_stick", "float", 2), ("knobs", "float", 2))
    + tuple((s, "int16_t", 0) for s in ("left_upper_switch", "left_lower_left_switch", "left_lower_right_switch",
                                        "right_upper_switch", "right_lower_left_switch", "right_lower_right_switch")),
)  # fmt: skip

# Cheetah-Software's own joint messages (robot-models.md §4.2): index = leg * 3 + joint, legs FR,
# FL, HR, HL; kp_joint / kd_joint are the diagonals of LegController's per-leg 3x3 joint gains.
MCS_LEG_CONTROL_DATA = LcmType("leg_control_data_lcmt", tuple((f, "float", 12) for f in ("q", "qd", "p", "v", "tau_est")))
LEG_CONTROL_COMMAND = LcmType(
    "leg_control_command_lcmt",
    tuple((f, "float", 12) for f in ("tau_ff", "f_ff", "q_des", "qd_des", "p_des", "v_des",
                                      "kp_cartesian", "kd_cartesian", "kp_joint", "kd_joint")),
)  # fmt: skip

COMMAND_ROLES = ("q", "dq", "tau", "kp", "kd")  # a joint command's arrays, as JointCommand names them


@dataclass(frozen=True, eq=False)
class Dialect:
    """One robot side's joint messages: what the driver publishes and the fake obeys, and the leg
    data the fake publishes and the driver reads. Both sides go through these methods only."""

    name: str
    command_channel: str
    command: LcmType
    command_fields: dict  # COMMAND_ROLES -> the command type's field names; its other fields stay 0
    leg_data: LcmType

    @property
    def stamped(self) -> bool:
        """Does leg_control_data carry the robot's own timestamp_us?"""
        return self.leg_data.has("timestamp_us")

    @property
    def channels(self) -> dict[str, LcmType]:
        return {
            "state_estimator_data": STATE_ESTIMATOR,  # robot -> policy
            "leg_control_data": self.leg_data,  # robot -> policy
            "rc_command": RC_COMMAND,  # robot -> policy
            self.command_channel: self.command,  # policy -> robot
        }

    def encode_command(self, arrays: dict, stamp_us: int) -> bytes:
        """`arrays`: COMMAND_ROLES -> 12 values in wire slots (vendor convention)."""
        values = {self.command_fields[r]: arrays[r] for r in COMMAND_ROLES}
        if self.command.has("timestamp_us"):
            values["timestamp_us"] = stamp_us
        return self.command.encode(values)

    def decode_command(self, data: bytes) -> dict:
        """COMMAND_ROLES -> 12 values in wire slots; DecodeError as LcmType.decode."""
        msg = self.command.decode(data)
        return {r: msg[self.command_fields[r]] for r in COMMAND_ROLES}

    def encode_leg_data(self, q, qd, tau_est, stamp_us: int) -> bytes:
        values = {"q": q, "qd": qd, "tau_est": tau_est}
        if self.stamped:
            values["timestamp_us"] = stamp_us
        return self.leg_data.encode(values)


# The keys are lucid_ros.robots.description.LCM_DIALECTS, the names a robot YAML may give (test_lcm checks).
DIALECTS = {
    "walk_these_ways": Dialect("walk_these_ways", "pd_plustau_targets", PD_TAU_TARGETS,
                               {"q": "q_des", "dq": "qd_des", "tau": "tau_ff", "kp": "kp", "kd": "kd"}, LEG_CONTROL_DATA),
    "cheetah_software": Dialect("cheetah_software", "leg_control_command", LEG_CONTROL_COMMAND,
                                {"q": "q_des", "dq": "qd_des", "tau": "tau_ff", "kp": "kp_joint", "kd": "kd_joint"},
                                MCS_LEG_CONTROL_DATA),
}  # fmt: skip
CHANNELS = DIALECTS["walk_these_ways"].channels  # the walk-these-ways channels (the default dialect)
ROBOT_URL = "udpm://239.255.76.67:7667?ttl=255"  # walk-these-ways: the robot's network
LOOPBACK_URL = "udpm://239.255.76.67:7667?ttl=0"  # this machine only (fake robots, tests)
