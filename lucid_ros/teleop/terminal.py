"""A terminal in raw-ish mode for key-at-a-time reading, always restored.

Canonical mode and echo are turned off; signals stay on, so Ctrl-C still raises
KeyboardInterrupt and the `finally` restores the terminal (and the node sends a zero twist).
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios


@contextlib.contextmanager
def raw_terminal(fd: int | None = None):
    """Yields the fd. A non-terminal (a pipe, a test) is used as it is."""
    fd = sys.stdin.fileno() if fd is None else fd
    if not os.isatty(fd):
        yield fd
        return
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ICANON | termios.ECHO)  # lflags: key at a time, no echo; ISIG kept
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 0, 0
    try:
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
