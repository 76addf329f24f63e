"""x, y, z out of a sensor_msgs/PointCloud2's bytes, without sensor_msgs_py (not a wheel here).

`policy/height_scan` carries the policy's terrain samples as float32 x, y, z in the base frame;
any other field layout is refused with the reason, so a wrong publisher is a log line, not a
marker cloud in the wrong place.
"""

from __future__ import annotations

import numpy as np

FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32


class CloudError(ValueError):
    """A PointCloud2 this reader cannot take (fields, sizes)."""


def xyz(fields: list[tuple[str, int, int, int]], data: bytes, width: int, height: int, point_step: int, row_step: int,
        is_bigendian: bool) -> np.ndarray:  # fmt: skip
    """(N, 3) float64 from the cloud. `fields`: (name, offset, datatype, count) per PointField."""
    by_name = {name: (offset, datatype, count) for name, offset, datatype, count in fields}
    missing = [n for n in ("x", "y", "z") if n not in by_name]
    if missing:
        raise CloudError(f"PointCloud2 has no field(s) {missing}; fields are {sorted(by_name)}")
    for n in ("x", "y", "z"):
        offset, datatype, count = by_name[n]
        if datatype != FLOAT32 or count != 1:
            raise CloudError(f"PointCloud2 field {n!r}: expected one FLOAT32 (datatype 7), got datatype {datatype} x {count}")
        if offset + 4 > point_step:
            raise CloudError(f"PointCloud2 field {n!r} at offset {offset} does not fit point_step {point_step}")
    n_points = int(width) * int(height)
    if row_step < width * point_step or len(data) < row_step * height:
        raise CloudError(f"PointCloud2 of {width}x{height} points (point_step {point_step}, row_step {row_step}) needs more than {len(data)} bytes")
    end = ">" if is_bigendian else "<"
    dtype = np.dtype({"names": ["x", "y", "z"], "formats": [end + "f4"] * 3, "offsets": [by_name[n][0] for n in ("x", "y", "z")],
                      "itemsize": point_step})  # fmt: skip
    raw = np.frombuffer(bytes(data), dtype=np.uint8)[: row_step * height].reshape(height, row_step)[:, : width * point_step]
    rec = np.ascontiguousarray(raw).view(dtype).reshape(n_points)
    return np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)


def xyz_bytes(points: np.ndarray) -> tuple[list[tuple[str, int, int, int]], bytes, int]:
    """The inverse, for publishers and tests: fields, little-endian data and point_step 12."""
    p = np.ascontiguousarray(np.asarray(points, dtype="<f4").reshape(-1, 3))
    return [("x", 0, FLOAT32, 1), ("y", 4, FLOAT32, 1), ("z", 8, FLOAT32, 1)], p.tobytes(), 12
