"""The RealSense source's options and its librealsense post-processing filter chain.

Node parameters arrive as strings, so every option is parsed (as YAML where it is structured) and
validated here, before a device is touched; errors name the `camera.realsense.<field>` at fault.
The filter chain is checked as librealsense needs it (disparity/depth paired, depth-only filters
outside the disparity domain) and built from the same validated list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyrealsense2 as rs
import yaml

from lucid_ros.errors import ConfigError
from lucid_ros.robots.description import CameraMount

# Friendly option names per filter -> the rs.option each sets, with the librealsense defaults.
FILTERS: dict[str, dict[str, str]] = {
    "decimation": {"magnitude": "filter_magnitude"},
    "threshold": {"min": "min_distance", "max": "max_distance"},
    "disparity": {},  # depth -> disparity; spatial/temporal work best there (librealsense's order)
    "spatial": {"alpha": "filter_smooth_alpha", "delta": "filter_smooth_delta", "magnitude": "filter_magnitude", "holes_fill": "holes_fill"},
    "temporal": {"alpha": "filter_smooth_alpha", "delta": "filter_smooth_delta", "persistence": "holes_fill"},
    "depth": {},  # disparity -> depth
    "hole_filling": {"mode": "holes_fill"},
}
_FIELD = "camera.realsense"


@dataclass(frozen=True)
class StreamMode:
    width: int
    height: int
    fps: int


@dataclass(frozen=True)
class RealSenseOptions:
    serial: str
    streams: dict[str, StreamMode]
    filters: list[tuple[str, dict[str, float]]]  # (name, {rs.option name: value}) in order
    align: bool
    device_provider: Any
    stall_frames: int
    lost_after_s: float
    retry_s: float


def _yaml(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(None, f"{_FIELD}.{name}", f"not YAML: {value!r} ({exc})") from exc


def _mode(mount: CameraMount, stream: str, value: Any) -> StreamMode:
    st = getattr(mount, stream)
    default = {"width": st.width, "height": st.height, "fps": int(round(st.rate_hz))}
    value = _yaml(stream, value)
    if isinstance(value, str) or isinstance(value, (int, float)):  # "848x480@30"
        try:
            size, fps = str(value).split("@")
            w, h = size.split("x")
            value = {"width": int(w), "height": int(h), "fps": int(fps)}
        except ValueError:
            raise ConfigError(None, f"{_FIELD}.{stream}", f"expected WIDTHxHEIGHT@FPS (e.g. 848x480@30) or a mapping, got {value!r}") from None
    value = value or {}
    if not isinstance(value, dict) or set(value) - set(default):
        raise ConfigError(None, f"{_FIELD}.{stream}", f"expected a mapping with {sorted(default)}, got {value!r}")
    merged = {**default, **value}
    for k, v in merged.items():
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ConfigError(None, f"{_FIELD}.{stream}.{k}", f"expected a positive integer, got {v!r}")
    return StreamMode(**merged)


def parse_filters(value: Any) -> list[tuple[str, dict[str, float]]]:
    """`[decimation: {magnitude: 2}, hole_filling]` (a list, or the same as a YAML string) → the
    chain, validated: known names and options, numbers, disparity/depth paired as librealsense needs."""
    value = _yaml("filters", value) or []
    if not isinstance(value, list):
        raise ConfigError(None, f"{_FIELD}.filters", f"expected a list of filters (in order), got {value!r}")
    chain, domain = [], "depth"
    for i, item in enumerate(value):
        name, opts = (item, {}) if isinstance(item, str) else next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (None, None)
        where = f"{_FIELD}.filters[{i}]"
        if name not in FILTERS:
            raise ConfigError(None, where, f"unknown filter {item!r}; expected one of {list(FILTERS)}")
        opts = opts or {}
        if not isinstance(opts, dict):
            raise ConfigError(None, f"{where}.{name}", f"expected a mapping of options, got {opts!r}")
        bad = set(opts) - set(FILTERS[name])
        if bad:
            raise ConfigError(None, f"{where}.{name}", f"unknown option(s) {sorted(bad)}; '{name}' takes {sorted(FILTERS[name])}")
        for k, v in opts.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise ConfigError(None, f"{where}.{name}.{k}", f"expected a number, got {v!r}")
        if name in ("disparity", "depth"):
            if domain == name:
                raise ConfigError(None, where, f"'{name}' given twice in a row: the chain is already in the {name} domain")
            domain = name
        elif name not in ("spatial", "temporal") and domain == "disparity":
            raise ConfigError(None, where, f"'{name}' works on depth: put 'depth' (disparity -> depth) before it")
        chain.append((name, {FILTERS[name][k]: float(v) for k, v in opts.items()}))
    if domain == "disparity":
        raise ConfigError(None, f"{_FIELD}.filters", "the chain ends in disparity: add 'depth' after the spatial/temporal filters")
    return chain


def _number(options: dict[str, Any], name: str, default: float, lo: float) -> float:
    v = _yaml(name, options.get(name, default))
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= lo:
        raise ConfigError(None, f"{_FIELD}.{name}", f"expected a number >= {lo:g}, got {v!r}")
    return float(v)


def parse_options(mount: CameraMount, streams: tuple[str, ...], options: dict[str, Any]) -> RealSenseOptions:
    """Validate the source's options (node parameters arrive as strings); errors name the field."""
    known = {"serial", "depth", "color", "filters", "align", "device_provider", "stall_frames", "lost_after", "retry", "clock"}
    unknown = set(options) - known
    if unknown:
        raise ConfigError(None, _FIELD, f"unknown option(s) {sorted(unknown)}; expected {sorted(known)}")
    align = _yaml("align", options.get("align", False))
    if align in ("color", "none"):
        align = align == "color"
    if not isinstance(align, bool):
        raise ConfigError(None, f"{_FIELD}.align", f"expected true/false (or 'color'/'none'), got {align!r}")
    if align and set(streams) != {"depth", "color"}:
        raise ConfigError(None, f"{_FIELD}.align", f"aligning depth to colour needs both streams, this source has {list(streams)}")
    return RealSenseOptions(
        serial=str(options.get("serial") or ""),
        streams={s: _mode(mount, s, options.get(s)) for s in streams},
        filters=parse_filters(options.get("filters")),
        align=align,
        device_provider=options.get("device_provider") or "usb",
        stall_frames=int(_number(options, "stall_frames", 3, 1)),
        lost_after_s=_number(options, "lost_after", 1.0, 0.05),
        retry_s=_number(options, "retry", 1.0, 0.05),
    )


def build_filters(specs: list[tuple[str, dict[str, float]]]) -> list[Any]:
    """librealsense processing blocks in the given order, options set by their rs.option names."""
    out = []
    for name, opts in specs:
        if name == "disparity":
            out.append(rs.disparity_transform(True))
            continue
        if name == "depth":
            out.append(rs.disparity_transform(False))
            continue
        block = {"decimation": rs.decimation_filter, "spatial": rs.spatial_filter, "temporal": rs.temporal_filter,
                 "hole_filling": rs.hole_filling_filter, "threshold": rs.threshold_filter}[name]()  # fmt: skip
        for key, value in opts.items():
            block.set_option(getattr(rs.option, key), float(value))
        out.append(block)
    return out
