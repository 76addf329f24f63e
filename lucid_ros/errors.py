"""Errors a user can act on. Each names the file and the field that is wrong.

`exit_status` is the one rule every entry point (lucid-ros, the node executables, teleop) uses:
PolicyMismatch exits 1, any other ConfigError 2, Ctrl-C 130; it prints what went wrong first.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration file (robot, policy spec, course, params) is malformed or inconsistent."""

    def __init__(self, path: str | Path | None, field: str | None, message: str):
        self.path = str(path) if path is not None else None
        self.field = field
        self.message = message
        where = ": ".join(p for p in (self.path, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class PolicyMismatch(ConfigError):
    """A well-formed policy disagrees with its ONNX graph or with the robot it names."""


def exit_status(exc: BaseException, label: str) -> int:
    """Say what went wrong on stderr as `label: kind: message` and return the exit status for it.
    Anything that is not a user's error is re-raised: a traceback is the right report for a bug."""
    import sys

    if isinstance(exc, PolicyMismatch):
        kind, status = "policy mismatch", 1
    elif isinstance(exc, ConfigError):
        kind, status = "configuration error", 2
    elif isinstance(exc, KeyboardInterrupt):
        print(f"{label}: interrupted", file=sys.stderr)
        return 130
    else:
        raise exc
    print(f"{label}: {kind}: {exc}", file=sys.stderr)
    return status
