"""Helpers the hardware tests share."""

import os


def importable(module: str) -> bool:
    """True when `module` imports (a package that is present but broken, e.g. a half-built
    cyclonedds, counts as absent, so its tests skip instead of failing on import)."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


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
