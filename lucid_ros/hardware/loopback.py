"""A fake robot and a driver on this machine only: the link between them, and the fake robot as a
process of its own (`lucid-ros fake-robot`), as the hardware tests and bench/bench_send_loop.py
run them. One place, so a test and the benchmark cannot drift to different links or shutdowns.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_rng = random.Random()


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def loopback_link(backend: str) -> tuple[list[str], dict]:
    """(fake-robot CLI args, driver options) for one backend on this machine only: a free UDP
    port, a private DDS domain on loopback, an LCM group with TTL 0."""
    if backend == "go1_udp":
        port = free_udp_port()
        return ["--port", str(port)], {"host": "127.0.0.1", "port": port, "local_ip": "127.0.0.1", "local_port": 0}
    if backend == "unitree_sdk2":
        domain = _rng.randint(150, 230)
        return ["--domain-id", str(domain)], {"domain_id": domain, "interface": "lo"}
    url = f"udpm://239.255.76.67:{_rng.randint(7700, 7799)}?ttl=0"
    return ["--lcm-url", url], {"lcm_url": url}


def start_fake_robot(robot: str, backend: str, args: list[str], preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    """`lucid-ros fake-robot` in its own process, returned once it says it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lucid_ros.cli", "fake-robot", "--robot", robot, "--protocol", backend, *args],
        stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
    )  # fmt: skip
    line = proc.stderr.readline()
    if "ready" not in line:
        stop_fake_robot(proc)
        raise RuntimeError(f"fake robot ({robot} over {backend}) did not start: {line.strip() or 'no output'}")
    return proc


def stop_fake_robot(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGINT (it writes its ground truth and closes its link), then kill if it does not exit."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def fake_robot(robot: str, backend: str, args: list[str], preexec_fn: Callable[[], None] | None = None) -> Iterator[subprocess.Popen]:
    proc = start_fake_robot(robot, backend, args, preexec_fn)
    try:
        yield proc
    finally:
        stop_fake_robot(proc)


class realtime_threads:
    """Threads started inside this block (the graph's executor, the driver's send and receive
    loops) inherit a low real-time priority when allowed, as a robot computer runs its driver;
    on a shared test machine other processes then cannot stall them past the 50/100 ms timeouts.
    Everything in them sleeps between ticks. No-op without the permission. `priority` 10 is the
    fake robot's (robot_priority): a fake stands in for hardware, above the graph's 5."""

    def __init__(self, priority: int = 5):
        self.priority = priority

    def __enter__(self):
        self.old = None
        try:
            self.old = (os.sched_getscheduler(0), os.sched_getparam(0))
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(self.priority))
        except (OSError, AttributeError):
            self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            os.sched_setscheduler(0, self.old[0], self.old[1])
