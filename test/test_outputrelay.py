"""lucid_ros.outputrelay: a process whose stderr stalls keeps running, and its output arrives whole."""

import ctypes
import fcntl
import os
import subprocess
import sys
import textwrap
import time

import pytest

from lucid_ros import outputrelay
from lucid_ros.outputrelay import OutputRelay

# A graph process in miniature: one thread ticks every millisecond (the supervisor), one logs 100
# lines through rclpy (rcutils writes them holding the GIL) to a stderr whose reader sleeps 1.5 s
# (a paused terminal) and then keeps everything it reads. argv: plain | relay, the file to keep.
LOGGER = textwrap.dedent(
    """
    import os, subprocess, sys, threading, time
    from lucid_ros.outputrelay import relay_output
    import rclpy
    from rclpy.node import Node
    mode, keep = sys.argv[1], sys.argv[2]
    reader = subprocess.Popen([sys.executable, "-c",
        "import sys, time; time.sleep(1.5); open(sys.argv[1], 'wb').write(sys.stdin.buffer.read())", keep],
        stdin=subprocess.PIPE)
    tell = os.dup(2)
    os.dup2(reader.stdin.fileno(), 2)
    reader.stdin.close()
    relay = relay_output() if mode == "relay" else None
    rclpy.init()
    node = Node("stalled_stderr")
    gaps, stop = [], threading.Event()
    def tick():
        last = time.monotonic()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
    ticker = threading.Thread(target=tick)
    ticker.start()
    for i in range(100):
        node.get_logger().error(f"line {i:03d} " + "x" * 4000)
    stop.set()
    ticker.join()
    node.destroy_node()
    rclpy.shutdown()
    if relay is not None:
        relay.close()
    os.dup2(tell, 2)
    reader.wait(timeout=30)
    os.write(tell, f"longest gap {max(gaps):.3f}\\n".encode())
    """
)


def _stalled_stderr(mode: str, tmp_path) -> tuple[float, list[str]]:
    keep = tmp_path / f"{mode}.log"
    env = {**os.environ, "ROS_DOMAIN_ID": "231", "RCUTILS_COLORIZED_OUTPUT": "0"}
    done = subprocess.run([sys.executable, "-c", LOGGER, mode, str(keep)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    gap = float(done.stderr.strip().splitlines()[-1].split()[-1])
    lines = [ln.split("line ")[1][:3] for ln in keep.read_text().splitlines() if "line " in ln]
    return gap, lines


def test_rclpy_logging_to_a_stalled_stderr_stops_every_thread_unless_relayed(tmp_path):
    """The hazard, then the mend: without the relay the ticking thread stops while the terminal is
    paused (rcutils holds the GIL in its write); with it the thread never stops for long, and every
    line arrives, in order, once the terminal reads again."""
    plain_gap, plain_lines = _stalled_stderr("plain", tmp_path)
    assert plain_gap > 0.8, f"rclpy no longer holds the GIL while it logs (gap {plain_gap:.3f} s): the relay may be moot"
    gap, lines = _stalled_stderr("relay", tmp_path)
    assert gap < 0.5, f"the process stopped for {gap:.3f} s behind a stalled stderr"
    assert lines == [f"{i:03d}" for i in range(100)] == plain_lines


def _gil_write(fd: int, data: bytes) -> None:
    """write(2) with the GIL held, as rcutils does."""
    libc = ctypes.PyDLL(None)
    libc.write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    sent = 0
    while sent < len(data):
        n = libc.write(fd, data[sent:], len(data) - sent)
        assert n > 0
        sent += n


@pytest.fixture
def dest():
    """(fd the relay is put on, read end of where that fd pointed): a pipe of one page."""
    r, w = os.pipe()
    fcntl.fcntl(w, outputrelay.F_SETPIPE_SZ, 4096)
    yield w, r
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def _read_all(r: int, until: bytes, timeout: float = 10.0) -> bytes:
    os.set_blocking(r, False)
    got, end = b"", time.monotonic() + timeout
    while until not in got and time.monotonic() < end:
        try:
            got += os.read(r, 1 << 16)
        except BlockingIOError:
            time.sleep(0.005)
    return got


def test_a_destination_that_never_reads_loses_what_does_not_fit_and_says_how_much_where(dest, monkeypatch):
    w, r = dest
    monkeypatch.setattr(outputrelay, "CAP", 20_000)
    hold = OutputRelay((w,))
    try:
        chunks = [f"{i:04d}".encode() * 250 for i in range(60)]  # 1000 bytes each, 60 000 in all
        t0 = time.monotonic()
        for c in chunks:
            _gil_write(w, c)
        assert time.monotonic() - t0 < 1.0  # never blocked, though nothing read the destination
        time.sleep(0.2)  # the relay has taken all that (a read that does not fit is dropped whole)
        _gil_write(w, b"END\n")
        got = _read_all(r, b"END\n")
    finally:
        hold.close()
    assert got.endswith(b"END\n")
    body, _, _ = got.rpartition(b"END\n")
    notes = body.split(b"[lucid_ros] ")[1:]
    assert len(notes) == 1, got[:200]
    lost = int(notes[0].split(b" ")[0])
    kept = body.replace(b"[lucid_ros] " + notes[0].split(b"\n")[0] + b"\n", b"")
    assert len(kept) + lost == 60_000 and lost > 0
    # what arrived is the output in order, the loss told where it happened
    ids = [int(kept[i : i + 4]) for i in range(0, len(kept), 1000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == 0


def test_close_points_the_fd_back_once_the_last_holder_lets_go_and_only_if_still_ours(dest):
    w, r = dest
    original = os.fstat(w).st_ino
    first, second = OutputRelay((w,)), OutputRelay((w,))
    relayed = os.fstat(w).st_ino
    assert relayed != original
    first.close()
    assert os.fstat(w).st_ino == relayed  # the other holder still relays
    _gil_write(w, b"relayed\n")
    second.close()
    assert os.fstat(w).st_ino == original
    assert _read_all(r, b"relayed\n") == b"relayed\n"  # what was queued was flushed by close()
    second.close()  # idempotent

    third = OutputRelay((w,))
    other_r, other_w = os.pipe()
    os.dup2(other_w, w)  # something else (pytest's capture) re-pointed the fd meanwhile
    third.close()
    assert os.fstat(w).st_ino == os.fstat(other_w).st_ino  # left as it found it
    for fd in (other_r, other_w):
        os.close(fd)


def test_an_fd_that_is_not_open_is_not_relayed():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    hold = OutputRelay((w,))
    assert hold.fds == []
    hold.close()


def test_children_started_while_it_is_installed_are_relayed_too(dest):
    w, r = dest
    hold = OutputRelay((w,))
    try:
        child = subprocess.run([sys.executable, "-c", f"import os; os.write({w}, b'from the child\\n')"], pass_fds=(w,), timeout=30)
        assert child.returncode == 0
    finally:
        hold.close()
    assert _read_all(r, b"from the child\n") == b"from the child\n"


def test_a_process_that_exits_holding_the_relay_still_delivers_what_it_queued():
    """No close(): the exit restores stderr and flushes (a CLI's error message is not lost)."""
    code = "import os, sys; from lucid_ros.outputrelay import relay_output; relay_output(); os.write(2, b'the last words\\n' * 2000); sys.exit(3)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 3 and done.stderr == b"the last words\n" * 2000
