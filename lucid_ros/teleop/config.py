"""Teleop mappings from YAML (config/teleop/{keyboard,gamepad}.yaml or a user's copy).

Every bad value is a ConfigError naming the file and the field, before any command is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lucid_ros import paths
from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields, read_yaml
from lucid_ros.teleop import ACTIONS
from lucid_ros.teleop.evdev import ABS_CODES, KEY_CODES

AXES = ("vx", "vy", "wz")
KEY_ACTIONS = ("forward", "backward", "left", "right", "turn_left", "turn_right", "zero", "faster", "slower", *ACTIONS)


@dataclass(frozen=True)
class AxisMap:
    code: int
    max: float  # m/s or rad/s at full deflection
    invert: bool


@dataclass(frozen=True)
class GamepadConfig:
    path: str
    deadman: int
    dead_zone: float
    axes: dict[str, AxisMap]
    buttons: dict[int, str]  # key code -> action
    needs_deadman: frozenset[str]
    default_range: tuple[int, int]
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyboardConfig:
    path: str
    max: dict[str, float]
    speed: dict[str, float]
    step: float
    key_timeout: float
    keys: dict[str, str]  # key name -> action


def _read(path: str | Path) -> Fields:
    p = Path(path)
    raw = read_yaml(p, "teleop mapping")
    return Fields(raw if raw is not None else {}, p)


def _code(f: Fields, key: str, table: dict[str, int]) -> int:
    value = f.raw(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 0x300:
        return value
    if isinstance(value, str) and value in table:
        return table[value]
    raise f.error(key, f"expected an event code number or one of {sorted(table)}, got {value!r}")


def _pair(f: Fields, key: str) -> tuple[int, int]:
    v = f.raw(key)
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v) and v[1] > v[0]):
        raise f.error(key, f"expected [min, max] integers with max > min, got {v!r}")
    return int(v[0]), int(v[1])


def load_gamepad(path: str | Path | None = None) -> GamepadConfig:
    path = Path(path) if path else paths.config_dir() / "teleop" / "gamepad.yaml"
    f = _read(path)
    axes = {}
    for name, af in f.dict("axes").items():
        if name not in AXES:
            raise ConfigError(path, f"axes.{name}", f"unknown command axis; expected one of {list(AXES)}")
        axes[name] = AxisMap(_code(af, "axis", ABS_CODES), af.float("max", lo=0), af.bool("invert", default=False))
    buttons: dict[int, str] = {}
    for action, _ in f.sub("buttons").data.items():
        if action not in ACTIONS:
            raise ConfigError(path, f"buttons.{action}", f"unknown action; expected some of {list(ACTIONS)}")
        code = _code(f.sub("buttons"), action, KEY_CODES)
        if code in buttons:
            raise ConfigError(path, f"buttons.{action}", f"the same button as buttons.{buttons[code]}")
        buttons[code] = action
    deadman = _code(f, "deadman", KEY_CODES)
    if deadman in buttons:
        raise ConfigError(path, "deadman", f"the dead-man button is also buttons.{buttons[deadman]}")
    needs = f.str_list("needs_deadman", default=["stand", "run", "reset"])
    bad = [a for a in needs if a not in ACTIONS or a == "estop"]
    if bad:
        raise ConfigError(
            path, "needs_deadman", f"{bad}: expected actions from {[a for a in ACTIONS if a != 'estop']} (e-stop never waits for the dead-man)"
        )
    rf = f.sub("ranges") if f.has("ranges") else Fields({}, path, "ranges")
    ranges = {_code(rf, name, ABS_CODES): _pair(rf, name) for name in rf.data}
    return GamepadConfig(str(path), deadman, f.float("dead_zone", lo=0, hi=0.9, default=0.1), axes, buttons, frozenset(needs),
                         _pair(f, "default_range") if f.has("default_range") else (-32768, 32767), ranges)  # fmt: skip


def load_keyboard(path: str | Path | None = None) -> KeyboardConfig:
    path = Path(path) if path else paths.config_dir() / "teleop" / "keyboard.yaml"
    f = _read(path)
    mx = {a: f.sub("max").float(a, lo=0, strict=True) for a in AXES}
    speed = {a: f.sub("speed").float(a, lo=0, hi=mx[a]) for a in AXES}
    keys = {}
    for key, action in f.sub("keys").data.items():
        if action not in KEY_ACTIONS:
            raise ConfigError(path, f"keys.{key}", f"unknown action {action!r}; expected one of {list(KEY_ACTIONS)}")
        keys[str(key)] = str(action)
    if "estop" not in keys.values():
        raise ConfigError(path, "keys", "no key is mapped to estop; a keyboard teleop without an e-stop key is refused")
    return KeyboardConfig(str(path), mx, speed, f.float("step", lo=0, hi=1, strict=True, default=0.1),
                          f.float("key_timeout", lo=0, strict=True, default=0.6), keys)  # fmt: skip
