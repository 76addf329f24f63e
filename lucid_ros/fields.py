"""Typed, path-aware access to a parsed YAML mapping.

Every config loader (robots, policy specs, courses, params) reads through `Fields`, so every
bad value is reported the same way: the file, the dotted field, what was expected, what was found.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from lucid_ros.errors import ConfigError

_MISSING = object()


class Fields:
    def __init__(self, data: Any, path: str | Path | None, prefix: str = ""):
        self.path = path
        self.prefix = prefix
        if not isinstance(data, dict):
            raise ConfigError(path, prefix or None, f"expected a mapping, got {type(data).__name__}")
        self.data = data

    def _name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, self._name(key), message)

    def refuse_unknown(self, allowed: Collection[str]) -> None:
        """Refuse the first key that is not in `allowed`: a misspelt key (`histroy:`, `frction:`)
        would otherwise be silently ignored and its default used."""
        for key in self.data:
            if key not in allowed:
                raise self.error(str(key), f"unknown field; expected one of {sorted(allowed)}")

    def has(self, key: str) -> bool:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is not _MISSING:
                    return default
                raise self.error(key, "required field is missing")
            node = node[part]
        return node

    def sub(self, key: str) -> Fields:
        return Fields(self.raw(key), self.path, self._name(key))

    def dict(self, key: str, required: bool = True) -> dict[str, Fields]:
        value = self.raw(key, default=_MISSING if required else {})
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {type(value).__name__}")
        return {str(k): Fields(v, self.path, self._name(f"{key}.{k}")) for k, v in value.items()}

    def list(self, key: str, min_len: int = 0, required: bool = True) -> list[Fields]:
        value = self.raw(key, default=_MISSING if required else [])
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {type(value).__name__}")
        if len(value) < min_len:
            raise self.error(key, f"expected at least {min_len} entries, got {len(value)}")
        return [Fields(v, self.path, f"{self._name(key)}[{i}]") for i, v in enumerate(value)]

    def str(self, key: str, default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = _MISSING) -> str:
        value = self.str(key, default)
        if value not in options:
            raise self.error(key, f"expected one of {list(options)}, got {value!r}")
        return value

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def float(self, key: str, lo: float | None = None, hi: float | None = None, strict: bool = False, default: Any = _MISSING) -> float:
        value = self.raw(key, default)
        return self._number(key, value, lo, hi, strict)

    def _number(self, key: str, value: Any, lo: float | None, hi: float | None, strict: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise self.error(key, f"expected a finite number, got {value!r}")
        if lo is not None and (v <= lo if strict else v < lo):
            raise self.error(key, f"must be {'>' if strict else '>='} {lo}, got {v}")
        if hi is not None and v > hi:
            raise self.error(key, f"must be <= {hi}, got {v}")
        return v

    def int(self, key: str, lo: int | None = None, hi: int | None = None, default: Any = _MISSING) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        if lo is not None and value < lo:
            raise self.error(key, f"must be >= {lo}, got {value}")
        if hi is not None and value > hi:
            raise self.error(key, f"must be <= {hi}, got {value}")
        return value

    def float_list(self, key: str, length: int | None = None, default: Any = _MISSING) -> list[float]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of numbers, got {value!r}")
        if length is not None and len(value) != length:
            raise self.error(key, f"expected {length} numbers, got {len(value)}")
        return [self._number(f"{key}[{i}]", v, None, None, False) for i, v in enumerate(value)]

    def str_list(self, key: str, min_len: int = 0, default: Any = _MISSING) -> list[str]:
        value = self.raw(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"expected a list of names, got {value!r}")
        if len(value) < min_len:
            raise self.error(key, f"expected at least {min_len} entries, got {len(value)}")
        return list(value)

    def range(self, key: str) -> tuple[float, float]:
        lo, hi = self.float_list(key, length=2)
        if lo >= hi:
            raise self.error(key, f"lower bound {lo} must be below upper bound {hi}")
        return lo, hi


def read_yaml(path: str | Path, what: str, kind: str | None = None, shipped: str = "known") -> Any:
    """The one reader of configuration YAML: the parsed content, or a ConfigError naming the file.

    A missing file says what it should have been (`what`: "robot description", "course"...) and,
    with `kind` (a config/ folder: "robots", "courses", "policies"), which ones are shipped; an
    unreadable file says why; a file that is not YAML quotes the parser."""
    from lucid_ros import paths

    p = Path(path)
    if not p.is_file():
        names = f" ({shipped} {kind}: {', '.join(paths.available(kind)) or 'none'})" if kind else ""
        raise ConfigError(p, None, f"no such {what}{names}")
    try:
        return yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(p, None, f"cannot read the {what}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(p, None, f"not valid YAML: {exc}") from exc
