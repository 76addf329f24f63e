"""Errors a user can act on. Each names the file and the field that is wrong.

The CLI maps ConfigError (and subclasses) to exit status 2 and PolicyMismatch to exit 1.
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
