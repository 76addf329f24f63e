"""Seqlock'd shared-memory records between the graph and its motor process (no rclpy, no pickling).

One /dev/shm file per motor process holds three records, each "newest wins":
- the command record (graph -> motor process): sequence, CLOCK_MONOTONIC stamp of the write,
  mode code, q/dq/tau/kp/kd;
- the state record (motor process -> graph): the driver's newest Reading (wall stamp, tick, joints,
  IMU, the remote's raw bytes) plus the motor process's heartbeat, lifecycle, silence and
  latched-watchdog flags;
- the health record (motor process -> graph, ~10 Hz): JSON bytes.

A seqlock, not a lock: one writer per record bumps the record's counter to odd, writes through
numpy views, bumps it to even; a reader copies and retries until it saw the same even count
before and after. The writer never waits on a reader, so a stopped graph (SIGSTOP, a GC pause)
cannot stall the motor loop, and a stalled motor process never blocks the graph. Aligned 8-byte
stores are atomic and x86-64 keeps stores in program order (TSO); the counter is read and written
as one uint64 element.

The file is created with mode 0600 (whoever can write the command record commands the motors)
and with os.open + mmap rather than multiprocessing.shared_memory, whose resource tracker would
unlink it when the *first* process to exit goes. The second party unlinks the name as soon as it
has mapped it, so nothing is left in /dev/shm even when both processes are killed.
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
from dataclasses import dataclass

import numpy as np

SHM_DIR = "/dev/shm"
REMOTE_MAX = 64
HEALTH_MAX = 16384
MODE_CODES = {"position": 0, "damping": 1, "passive": 2}
MODE_NAMES = {v: k for k, v in MODE_CODES.items()}
LIFECYCLES = ("unconfigured", "inactive", "active", "error", "closed")


def _layout(fields: list[tuple[str, str, int]], start: int) -> tuple[dict[str, tuple[int, np.dtype, int]], int]:
    """Offsets of `fields` (name, dtype, count) after an 8-byte sequence counter at `start`,
    each 8-byte aligned; returns ({name: (offset, dtype, count)}, end)."""
    out, off = {}, start + 8
    for name, dt, count in fields:
        dt = np.dtype(dt)
        out[name] = (off, dt, count)
        off += -(-dt.itemsize * count // 8) * 8
    return out, off


class SeqRecord:
    """One seqlock'd record in a shared buffer: `write()` by its single writer, `read()` by anyone."""

    def __init__(self, buf, start: int, fields: list[tuple[str, str, int]]):
        self.layout, self.end = _layout(fields, start)
        self._seq = np.ndarray((1,), np.uint64, buf, start)
        self.views = {n: np.ndarray((c,), dt, buf, off) for n, (off, dt, c) in self.layout.items()}
        self.out = {n: np.zeros(c, dt) for n, (_, dt, c) in self.layout.items()}  # the reader's copy
        self.last_seq = -1  # the counter of the copy read() last returned

    @property
    def seq(self) -> int:
        return int(self._seq[0])

    def write(self, values: dict) -> None:
        """Write the given fields (others keep their values); arrays are copied into the views."""
        s = int(self._seq[0])
        self._seq[0] = s + 1 if s % 2 == 0 else s + 2  # odd: a write is in progress
        try:
            v = self.views
            for name, value in values.items():
                v[name][...] = value
        finally:
            self._seq[0] = int(self._seq[0]) + 1  # even again

    def read(self, retries: int = 10000) -> dict[str, np.ndarray] | None:
        """A consistent copy of every field (into self.out, reused), or None if a writer kept it torn.

        The writer holds the record odd for microseconds; only a writer stopped mid-write (a
        SIGSTOP between its two bumps) makes all retries fail, and then None is the honest answer."""
        for _ in range(retries):
            s1 = int(self._seq[0])
            if s1 % 2:
                continue
            for name, view in self.views.items():
                self.out[name][...] = view
            if int(self._seq[0]) == s1:
                self.last_seq = s1
                return self.out
        return None


@dataclass
class Records:
    command: SeqRecord
    state: SeqRecord
    health: SeqRecord


def record_fields(n: int) -> tuple[list, list, list]:
    f8 = "f8"
    command = [("count", "u8", 1), ("stamp", f8, 1), ("mode", "i8", 1)] + [(k, f8, n) for k in ("q", "dq", "tau", "kp", "kd")]
    state = [("count", "u8", 1), ("stamp", f8, 1), ("tick", "u8", 1), *((k, f8, n) for k in ("q", "dq", "tau")),
             ("quat", f8, 4), ("gyro", f8, 3), ("acc", f8, 3), ("remote", "u1", REMOTE_MAX), ("remote_len", "i8", 1),
             ("heartbeat", f8, 1), ("lifecycle", "i8", 1), ("silent", "i8", 1), ("watchdog_latched", "i8", 1)]  # fmt: skip
    health = [("length", "i8", 1), ("json", "u1", HEALTH_MAX)]
    return command, state, health


class MotorShm:
    """The three records of one motor process in one /dev/shm file (mode 0600)."""

    def __init__(self, name: str, n: int, create: bool):
        self.name = name
        self.path = os.path.join(SHM_DIR, name)
        self.n = n
        fc, fs, fh = record_fields(n)
        _, end_c = _layout(fc, 0)
        _, end_s = _layout(fs, end_c)
        _, end_h = _layout(fh, end_s)
        self.size = end_h
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            if create:
                os.fchmod(fd, 0o600)  # whatever the umask
                os.ftruncate(fd, self.size)
            elif os.fstat(fd).st_size < self.size:
                raise ValueError(f"{self.path}: {os.fstat(fd).st_size} bytes, expected {self.size} for {n} joints")
            self.mm = mmap.mmap(fd, self.size)
        finally:
            os.close(fd)
        self.records = Records(SeqRecord(self.mm, 0, fc), SeqRecord(self.mm, end_c, fs), SeqRecord(self.mm, end_s, fh))

    @classmethod
    def create(cls, n: int, prefix: str = "lucid_motor") -> MotorShm:
        return cls(f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}", n, create=True)

    @classmethod
    def attach(cls, name: str, n: int) -> MotorShm:
        if "/" in name:
            raise ValueError(f"shared-memory name {name!r} must not contain '/'")
        return cls(name, n, create=False)

    def unlink(self) -> None:
        """Remove the name (the mappings stay valid until closed)."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self.unlink()
        rec = self.records
        for r in (rec.command, rec.state, rec.health):  # drop the views before the mapping
            r.views, r._seq = {}, None
        self.records = None
        try:
            self.mm.close()
        except BufferError:  # a caller still holds a view; the mapping goes with the process
            pass

    # ---- health: JSON bytes -------------------------------------------------------------------
    def write_health(self, values: dict) -> None:
        data = json.dumps(values, default=_jsonable, allow_nan=True).encode()[:HEALTH_MAX]
        buf = np.frombuffer(data, np.uint8)
        h = self.records.health
        s = int(h._seq[0])
        h._seq[0] = s + 1
        try:
            h.views["length"][0] = len(buf)
            h.views["json"][: len(buf)] = buf
        finally:
            h._seq[0] = s + 2

    def read_health(self) -> dict | None:
        out = self.records.health.read()
        if out is None or out["length"][0] <= 0:
            return None
        try:
            return json.loads(out["json"][: int(out["length"][0])].tobytes())
        except ValueError:
            return None


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def leftovers(prefix: str = "lucid_motor") -> list[str]:
    """Names in /dev/shm with our prefix (tests check none are left behind)."""
    try:
        return sorted(f for f in os.listdir(SHM_DIR) if f.startswith(prefix))
    except FileNotFoundError:
        return []
