"""Log output that cannot stall the robot: the process's stderr through a pipe we always drain.

rclpy's logger writes each line to stderr from C *holding the GIL* (rcutils' console handler). A
write that blocks - a terminal the operator paused (Ctrl-S) or scrolled over a slow SSH link, a
pipe nobody reads, a log file on a disk in a journal commit - then stops every Python thread of the
process: measured, a stderr reader that paused 0.3 s stopped another thread for 251 ms (a plain
os.write, which releases the GIL: 2 ms). In the robot graph that thread is the supervisor's, whose
commands the motor process wants every 50 ms: the robot damps because a terminal was slow.

`relay_output()` points fd 2 at a pipe (1 MiB where the kernel allows) that one thread empties
into memory as soon as bytes arrive, and a second thread writes to where fd 2 pointed before,
blocking as long as that destination likes, with the GIL released. Nothing is reordered; what a
destination blocked for long does not take (more than `CAP` bytes waiting) is dropped and said,
with its size, once the destination takes output again. Processes started while it is installed
(the motor process, a fake robot) inherit the pipe and are relayed the same way; the relay lives
until the last of them closes it. Installed once per process, counted: the first holder installs
it, the last one's `close()` points fd 2 back (unless something else re-pointed it meanwhile,
pytest's capture between tests) and waits up to `FLUSH_S` for the pipe's end, so everything
written before has been written on (a child still holding the pipe costs that wait). An exit
without `close()` does the same (atexit): a CLI's last error message is not lost.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import threading
from collections import deque

F_SETPIPE_SZ = 1031
PIPE_BYTES = 1 << 20
CAP = 16 << 20  # bytes held while the destination does not take them
FLUSH_S = 2.0

_lock = threading.Lock()
_installed: dict[int, tuple[_Relay, int]] = {}  # fd -> (relay, holders)


class _Relay:
    def __init__(self, fd: int):
        self.fd, self.cap = fd, CAP
        self.dest = os.dup(fd)
        r, w = os.pipe()
        try:
            fcntl.fcntl(w, F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # the default 64 KiB: still drained at once
        st = os.fstat(w)
        self.pipe_id = (st.st_dev, st.st_ino)
        self.read_fd = r
        self.chunks: deque[bytes | int] = deque()  # output, or the size of a loss
        self.held = 0
        self.eof = self.closed = False
        self.cv = threading.Condition()
        if fd == 2 and os.isatty(self.dest):
            os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "1")  # rcutils colours a terminal only
        os.dup2(w, fd)
        os.close(w)
        threading.Thread(target=self._read, name=f"output_relay_read:{fd}", daemon=True).start()
        threading.Thread(target=self._write, name=f"output_relay_write:{fd}", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, 65536)
            except OSError:
                data = b""
            with self.cv:
                if not data:
                    self.eof = True
                elif self.held + len(data) <= self.cap:
                    self.chunks.append(data)
                    self.held += len(data)
                elif self.chunks and isinstance(self.chunks[-1], int):
                    self.chunks[-1] += len(data)  # a loss is told where it happened, once
                else:
                    self.chunks.append(len(data))
                self.cv.notify_all()
            if not data:
                return

    def _write(self) -> None:
        while True:
            with self.cv:
                while not self.chunks and not self.eof:
                    self.cv.wait()
                if not self.chunks:
                    for fd in (self.dest, self.read_fd):
                        os.close(fd)
                    self.closed = True
                    self.cv.notify_all()
                    return
                item = self.chunks.popleft()
                if isinstance(item, bytes):
                    self.held -= len(item)
            if isinstance(item, int):
                item = f"[lucid_ros] {item} bytes of log output dropped here: nothing read this output for a while\n".encode()
            self._write_all(item)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.dest, view) :]
            except InterruptedError:
                continue
            except OSError:
                return  # the destination is gone (a closed terminal): nothing left to tell

    def restore(self) -> None:
        """Point the fd back (if it is still ours), then wait up to FLUSH_S for the pipe's end of
        file: every byte written before it (the process no longer holds the pipe; a child still
        running may) has then been written on."""
        try:
            st = os.fstat(self.fd)
        except OSError:
            st = None
        if st is not None and (st.st_dev, st.st_ino) == self.pipe_id:
            os.dup2(self.dest, self.fd)
        with self.cv:
            self.cv.wait_for(lambda: self.closed, timeout=FLUSH_S)


class OutputRelay:
    """A hold on the process's relay of `fds`; `close()` releases it (idempotent)."""

    def __init__(self, fds: tuple[int, ...]):
        self.fds: list[int] = []
        with _lock:
            for fd in fds:
                if fd in _installed:
                    relay, n = _installed[fd]
                    _installed[fd] = (relay, n + 1)
                else:
                    try:
                        _installed[fd] = (_Relay(fd), 1)
                    except OSError:
                        continue  # no such fd (a daemon without stderr): nothing to relay
                self.fds.append(fd)

    def close(self) -> None:
        with _lock:
            fds, self.fds = self.fds, []
            done = []
            for fd in fds:
                if fd not in _installed:
                    continue  # already restored at exit
                relay, n = _installed[fd]
                if n > 1:
                    _installed[fd] = (relay, n - 1)
                else:
                    del _installed[fd]
                    done.append(relay)
        for relay in done:
            relay.restore()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _restore_all() -> None:
    with _lock:
        relays = [relay for relay, _ in _installed.values()]
        _installed.clear()
    for relay in relays:
        relay.restore()


def relay_output() -> OutputRelay:
    """Relay stderr (and stdout, where rcutils logs there: RCUTILS_LOGGING_USE_STDOUT=1)."""
    fds = (2, 1) if os.environ.get("RCUTILS_LOGGING_USE_STDOUT") == "1" else (2,)
    return OutputRelay(fds)


atexit.register(_restore_all)  # an exit without close() still delivers what was queued
