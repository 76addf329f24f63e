"""Helpers the hardware tests share."""

import os
import random
import socket

_rng = random.Random(os.getpid())


def importable(module: str) -> bool:
    """True when `module` imports (a package that is present but broken, e.g. a half-built
    cyclonedds, counts as absent, so its tests skip instead of failing on import)."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def backend_args(backend: str) -> tuple[list[str], dict]:
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


def robot_priority() -> None:
    """The fake robot stands in for hardware, which a busy test machine cannot starve: undo an
    inherited `nice`, and take a low real-time priority when allowed (root, CAP_SYS_NICE). Safe:
    the fake sleeps between its 2 ms ticks (about a third of a core). The tests' process keeps its own."""
    try:
        os.nice(-os.nice(0))
    except OSError:
        pass
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))
    except (OSError, AttributeError):
        pass


class realtime_threads:
    """Threads started inside this block (the graph's executor, the driver's send and receive
    loops) inherit a low real-time priority when allowed, as a robot computer runs its driver;
    on a shared test machine other processes then cannot stall them past the 50/100 ms timeouts.
    Everything in them sleeps between ticks. No-op without the permission."""

    def __enter__(self):
        self.old = None
        try:
            self.old = (os.sched_getscheduler(0), os.sched_getparam(0))
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(5))
        except (OSError, AttributeError):
            self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            os.sched_setscheduler(0, self.old[0], self.old[1])
