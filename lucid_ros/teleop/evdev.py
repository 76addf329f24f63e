"""Linux input events (evdev) read straight from /dev/input/eventN: no `evdev` package.

The kernel hands out `struct input_event` records: a `struct timeval` (two C longs), then u16
type, u16 code, s32 value; 24 bytes on 64-bit Linux. Native struct layout ("@llHHi") matches the
machine this runs on. Axis ranges come from the EVIOCGABS ioctl where the device answers it
(`struct input_absinfo`: six s32: value, minimum, maximum, fuzz, flat, resolution).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from dataclasses import dataclass

EVENT = struct.Struct("@llHHi")
ABSINFO = struct.Struct("@6i")

EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT, SYN_DROPPED = 0, 3

# linux/input-event-codes.h: the names a gamepad YAML may use (numbers are accepted too)
ABS_CODES = {"ABS_X": 0x00, "ABS_Y": 0x01, "ABS_Z": 0x02, "ABS_RX": 0x03, "ABS_RY": 0x04, "ABS_RZ": 0x05,
             "ABS_THROTTLE": 0x06, "ABS_RUDDER": 0x07, "ABS_GAS": 0x09, "ABS_BRAKE": 0x0A,
             "ABS_HAT0X": 0x10, "ABS_HAT0Y": 0x11}  # fmt: skip
KEY_CODES = {
    "BTN_TRIGGER": 0x120, "BTN_THUMB": 0x121, "BTN_THUMB2": 0x122, "BTN_TOP": 0x123, "BTN_TOP2": 0x124, "BTN_PINKIE": 0x125,
    "BTN_BASE": 0x126, "BTN_BASE2": 0x127, "BTN_BASE3": 0x128, "BTN_BASE4": 0x129, "BTN_BASE5": 0x12A, "BTN_BASE6": 0x12B,
    "BTN_SOUTH": 0x130, "BTN_A": 0x130, "BTN_EAST": 0x131, "BTN_B": 0x131, "BTN_C": 0x132, "BTN_NORTH": 0x133, "BTN_X": 0x133,
    "BTN_WEST": 0x134, "BTN_Y": 0x134, "BTN_Z": 0x135, "BTN_TL": 0x136, "BTN_TR": 0x137, "BTN_TL2": 0x138, "BTN_TR2": 0x139,
    "BTN_SELECT": 0x13A, "BTN_START": 0x13B, "BTN_MODE": 0x13C, "BTN_THUMBL": 0x13D, "BTN_THUMBR": 0x13E,
}  # fmt: skip


class DeviceLost(OSError):
    """The device went away (unplugged, closed, read error)."""


@dataclass(frozen=True)
class InputEvent:
    time: float
    type: int
    code: int
    value: int


@dataclass(frozen=True)
class AbsRange:
    minimum: int
    maximum: int
    flat: int = 0


def pack(type_: int, code: int, value: int, t: float = 0.0) -> bytes:
    """One input_event as the kernel writes it (tests and fakes use this)."""
    sec = int(t)
    return EVENT.pack(sec, int(round((t - sec) * 1e6)), type_, code, value)


def decode(buf: bytes) -> tuple[list[InputEvent], bytes]:
    """Whole events from the front of `buf`, and the bytes of a partial event left over."""
    n = len(buf) // EVENT.size
    events = [InputEvent(s + us * 1e-6, ty, co, va) for s, us, ty, co, va in EVENT.iter_unpack(buf[: n * EVENT.size])]
    return events, buf[n * EVENT.size :]


def eviocgabs(code: int) -> int:
    """_IOR('E', 0x40 + code, struct input_absinfo)."""
    return (2 << 30) | (ABSINFO.size << 16) | (ord("E") << 8) | (0x40 + code)


def query_abs(fd: int, code: int) -> AbsRange | None:
    """The axis range the device reports, or None when it does not answer (a pipe, a quirky pad)."""
    try:
        _value, lo, hi, _fuzz, flat, _res = ABSINFO.unpack(fcntl.ioctl(fd, eviocgabs(code), bytes(ABSINFO.size)))
    except OSError:
        return None
    return AbsRange(lo, hi, flat) if hi > lo else None


class EvdevReader:
    """Non-blocking reads of whole events from an open fd; DeviceLost on EOF or a read error."""

    def __init__(self, fd: int, chunk: int = 64):
        self.fd = fd
        self.chunk = chunk * EVENT.size
        self._rest = b""
        self._lost: DeviceLost | None = None  # raised on the next read, after the events before it
        os.set_blocking(fd, False)

    @classmethod
    def open(cls, path: str) -> EvdevReader:
        return cls(os.open(path, os.O_RDONLY | os.O_NONBLOCK))

    def read(self) -> list[InputEvent]:
        if self._lost is not None:
            raise self._lost
        out: list[InputEvent] = []
        while True:
            try:
                data = os.read(self.fd, self.chunk)
            except BlockingIOError:
                return out
            except OSError as exc:  # ENODEV when unplugged
                self._lost = DeviceLost(exc.errno or errno.EIO, f"input device read failed: {exc.strerror or exc}")
            else:
                if data:
                    events, self._rest = decode(self._rest + data)
                    out += events
                    continue
                self._lost = DeviceLost(errno.ENODEV, "input device closed (end of file)")
            if out:
                return out
            raise self._lost

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
