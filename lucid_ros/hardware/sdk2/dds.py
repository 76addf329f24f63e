"""DDS participants for SDK2 robots: the domain and the network interface, chosen explicitly.

Topics never appearing is the classic SDK2 failure (what-users-trip-over item 6): DDS picked
the wrong network card. Pass `interface` (the NIC on 192.168.123.0/24, e.g. eth0/enp3s0), or set
CYCLONEDDS_URI yourself; with neither we log which one cyclonedds will choose by default.
"""

from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger("lucid_ros.hardware")


def config_xml(interface: str) -> str:
    """CycloneDDS 0.10 configuration pinning one network interface (multicast off on loopback)."""
    multicast = "false" if interface == "lo" else "default"
    peers = (
        '<Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>60</MaxAutoParticipantIndex><Peers><Peer address="127.0.0.1"/></Peers></Discovery>'
        if interface == "lo"
        else ""
    )  # noqa: E501
    return (
        '<CycloneDDS><Domain id="any"><General><Interfaces>'
        f'<NetworkInterface name="{interface}" priority="default" multicast="{multicast}"/>'
        f"</Interfaces><AllowMulticast>{multicast}</AllowMulticast></General>{peers}</Domain></CycloneDDS>"
    )


_DOMAINS: dict[int, tuple[object, str]] = {}  # one configured Domain per id and process


def participant(domain_id: int, interface: str | None = None):
    from cyclonedds.domain import Domain, DomainParticipant

    domain = None
    if interface:
        known = _DOMAINS.get(int(domain_id))
        if known is None:
            domain = Domain(int(domain_id), config_xml(interface))
            _DOMAINS[int(domain_id)] = (domain, interface)
        else:
            domain = known[0]
            if known[1] != interface:
                log.warning("DDS domain %d already uses interface %s in this process; ignoring %s", domain_id, known[1], interface)
    elif not os.environ.get("CYCLONEDDS_URI"):
        log.warning("unitree_sdk2: no DDS interface given (interface:=eth0) and no CYCLONEDDS_URI: cyclonedds picks one itself")
    return DomainParticipant(int(domain_id)), domain


# ---- raw CDR: the 500 Hz path without cyclonedds' Python (de)serializer -------------------------
# cyclonedds-python builds and walks a tree of Python objects for every sample: 130-310 us per
# LowCmd_/LowState_ (20 or 35 motors), with the GIL held, in both processes at 500 Hz, plus a ctypes
# listener callback per sample. On 2 cores that stalled the graph's executor past the supervisor's
# 100 ms staleness limits (issue #5). A Layout knows every primitive's byte offset in the sample's
# XCDR1 encoding and in the naturally aligned C struct the CRC covers, so the hot path reads and writes
# numpy arrays straight from and into the bytes DDS carries, and computes the CRC without objects.
_PRIMS = {"uint8": "<u1", "int8": "<i1", "uint16": "<u2", "int16": "<i2", "uint32": "<u4", "int32": "<i4",
          "uint64": "<u8", "int64": "<i8", "float32": "<f4", "float64": "<f8"}  # fmt: skip
CDR_LE = b"\x00\x01"  # encapsulation: plain CDR (XCDR1), little-endian


def _walk(cls, path: str = ""):
    """(dotted path, numpy dtype, count) per primitive of an IdlStruct, in declaration order; an
    array of structs yields its members once per element (same path)."""
    from typing import get_args, get_origin, get_type_hints

    from cyclonedds.idl import IdlStruct
    from cyclonedds.idl.types import array

    for name, hint in get_type_hints(cls, include_extras=True).items():
        yield from _walk_hint(hint, f"{path}{name}", get_args, get_origin, IdlStruct, array)


def _walk_hint(hint, path, get_args, get_origin, IdlStruct, array):
    if isinstance(hint, type) and issubclass(hint, IdlStruct):
        yield ("struct", path, hint)
        return
    meta = get_args(hint)[1] if get_origin(hint) is not None and len(get_args(hint)) > 1 else None
    if isinstance(meta, str) and meta in _PRIMS:
        yield ("prim", path, np.dtype(_PRIMS[meta]))
        return
    if isinstance(meta, array):
        for _ in range(meta.length):
            yield from _walk_hint(meta.subtype, path, get_args, get_origin, IdlStruct, array)
        return
    raise TypeError(f"{path}: no raw CDR layout for {hint!r}")


class Layout:
    """Where each field of an IdlStruct lives in its XCDR1 bytes (after the 4-byte encapsulation
    header) and in the C struct (for the CRC). Field paths are dotted names without indices:
    'motor_cmd.q' has one offset per motor, 'imu_state.quaternion' four, 'tick' one."""

    def __init__(self, cls):
        self.cls = cls
        self.cdr: dict[str, list[int]] = {}
        self.c: dict[str, list[int]] = {}
        self.dtype: dict[str, np.dtype] = {}
        self._cdr_end = 0
        self.c_size, _ = self._place(cls, "", 0)
        self.size = 4 + self._cdr_end  # encoded bytes, header included
        self.template = np.frombuffer(cls().serialize(), np.uint8).copy()  # every default (head, level_flag, ...)
        if self.template.size < self.size or bytes(self.template[:2]) != CDR_LE:
            raise RuntimeError(f"{cls.__name__}: cyclonedds encodes {self.template.size} B, layout says {self.size} (XCDR1 LE expected)")
        cdr_pos, c_pos = [], []
        for name, offs in self.cdr.items():
            k = self.dtype[name].itemsize
            for a, b in zip(offs, self.c[name], strict=True):
                cdr_pos += range(a, a + k)
                c_pos += range(b, b + k)
        self._cdr_pos, self._c_pos = np.array(cdr_pos), np.array(c_pos)
        self._idx = {n: np.array(o)[:, None] + np.arange(self.dtype[n].itemsize) for n, o in self.cdr.items()}
        self._self_check()

    def _self_check(self) -> None:
        """Every field written here must read back through cyclonedds' own decoder (a wrong offset is
        a wrong joint on the robot): fill each field with distinct values and compare, once per type."""
        buf = self.new()
        for k, name in enumerate(self.cdr):
            n, dt = len(self.cdr[name]), self.dtype[name]
            vals = (np.arange(n) + 3 * k + 1) % (2 ** (8 * dt.itemsize - 1)) if dt.kind in "ui" else np.arange(n) + 0.25 * k + 0.5
            self.put(buf, name, vals)
        sample = self.cls.deserialize(buf.tobytes())
        for name in self.cdr:
            theirs = np.array(_field_values(sample, name.split(".")), dtype=self.dtype[name])
            if not np.array_equal(theirs, self.get(buf, name)):
                raise RuntimeError(f"{self.cls.__name__}.{name}: raw CDR layout disagrees with cyclonedds")

    def _place(self, cls, prefix: str, c_base: int) -> tuple[int, int]:
        """Lay out `cls` at C offset c_base (CDR continues at self._cdr_end); returns (C size, C alignment)."""
        c_off, c_align = 0, 1
        for kind, path, what in _walk(cls, prefix):
            if kind == "struct":
                sub_size, sub_align = self._measure(what)
                c_off = -(-c_off // sub_align) * sub_align
                self._place(what, path + ".", c_base + c_off)
                c_off += sub_size
                c_align = max(c_align, sub_align)
                continue
            k = what.itemsize
            c_off = -(-c_off // k) * k
            self._cdr_end = -(-self._cdr_end // min(k, 8)) * min(k, 8)
            self.cdr.setdefault(path, []).append(4 + self._cdr_end)
            self.c.setdefault(path, []).append(c_base + c_off)
            self.dtype[path] = what
            self._cdr_end += k
            c_off += k
            c_align = max(c_align, k)
        return -(-c_off // c_align) * c_align, c_align

    @staticmethod
    def _measure(cls) -> tuple[int, int]:
        c_off, c_align = 0, 1
        for kind, _path, what in _walk(cls):
            size, align = Layout._measure(what) if kind == "struct" else (what.itemsize, what.itemsize)
            c_off = -(-c_off // align) * align + size
            c_align = max(c_align, align)
        return -(-c_off // c_align) * c_align, c_align

    def new(self) -> np.ndarray:
        """A fresh sample (the type's defaults) as bytes to fill."""
        return self.template.copy()

    def get(self, buf: np.ndarray, name: str) -> np.ndarray:
        return buf[self._idx[name]].view(self.dtype[name]).ravel()

    def put(self, buf: np.ndarray, name: str, values, at=None) -> None:
        """Write `values` into field `name` (all its elements, or those at positions `at`)."""
        idx = self._idx[name] if at is None else self._idx[name][at]
        buf[idx] = np.asarray(values, self.dtype[name]).reshape(-1).view(np.uint8).reshape(idx.shape)

    def c_bytes(self, buf: np.ndarray) -> np.ndarray:
        """The naturally aligned C struct (padding zero) that the robot's CRC runs over."""
        out = np.zeros(self.c_size, np.uint8)
        out[self._c_pos] = buf[self._cdr_pos]
        return out

    def crc(self, buf: np.ndarray) -> int:
        from lucid_ros.hardware.crc import crc32_words

        return crc32_words(self.c_bytes(buf), self.c_size // 4 - 1)

    def seal(self, buf: np.ndarray) -> bytes:
        """Fill in the CRC; the bytes for `write_raw`."""
        self.put(buf, "crc", [self.crc(buf)])
        return buf.tobytes()

    def decodable(self, data: bytes) -> np.ndarray | None:
        """The sample's bytes when they can hold this type (little-endian XCDR1, long enough), else None."""
        if len(data) < self.size or data[:2] != CDR_LE:
            return None
        return np.frombuffer(data, np.uint8)


def _field_values(obj, parts: list[str]) -> list:
    """The values at a dotted path in a decoded sample, arrays flattened in order."""
    if isinstance(obj, bytes | bytearray):  # cyclonedds decodes uint8 arrays to bytes
        obj = list(obj)
    if not parts:
        return [v for x in obj for v in _field_values(x, [])] if isinstance(obj, list) else [obj]
    if isinstance(obj, list):
        return [v for x in obj for v in _field_values(x, parts)]
    return _field_values(getattr(obj, parts[0]), parts[1:])


def write_raw(writer, data: bytes) -> None:
    """Put already-encoded bytes on a cyclonedds DataWriter's topic (its own write() would serialize)."""
    from cyclonedds._clayer import ddspy_write
    from cyclonedds.core import DDSException

    ret = ddspy_write(writer._ref, data)
    if ret < 0:
        raise DDSException(ret, "raw write")


def take_raw(reader, n: int) -> list[bytes]:
    """Up to n samples' encoded bytes from a cyclonedds DataReader, undecoded (dispose/unregister skipped)."""
    from cyclonedds._clayer import ddspy_take
    from cyclonedds.core import DDSException

    ret = ddspy_take(reader._ref, n)
    if isinstance(ret, int):
        raise DDSException(ret, "raw take")
    return [data for data, info in ret if info.valid_data]
