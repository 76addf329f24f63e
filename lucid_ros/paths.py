"""Where the package's data lives: config/, urdf/, launch/.

Works in three layouts: a source checkout or `pip install -e` (data beside the package),
a wheel or colcon install (data in <prefix>/share/lucid_ros), and a sourced ROS workspace
(found through ament_index when it is importable).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

PACKAGE = "lucid_ros"


@lru_cache(maxsize=1)
def share_dir() -> Path:
    candidates = [Path(__file__).resolve().parent.parent]
    candidates.append(Path(sys.prefix) / "share" / PACKAGE)
    try:  # a sourced ROS 2 workspace
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:  # noqa: BLE001 - ament_index absent or package not in the index
        pass
    for c in candidates:
        if (c / "config" / "robots").is_dir():
            return c
    raise FileNotFoundError(
        "lucid_ros data (config/robots) not found in: " + ", ".join(str(c) for c in candidates)
    )


def config_dir() -> Path:
    return share_dir() / "config"


def urdf_dir() -> Path:
    return share_dir() / "urdf"


def resolve(kind: str, name_or_path: str | Path, suffix: str = ".yaml") -> Path:
    """A bare name ('go1') means config/<kind>/<name><suffix>; anything else is a path."""
    p = Path(name_or_path)
    if p.suffix or p.parent != Path("."):
        return p.expanduser().resolve()
    return config_dir() / kind / f"{p}{suffix}"


def available(kind: str, suffix: str = ".yaml") -> list[str]:
    folder = config_dir() / kind
    return sorted(f.name[: -len(suffix)] for f in folder.glob(f"*{suffix}"))
