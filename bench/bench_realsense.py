"""How long the librealsense post-processing chain takes on one 848x480 z16 depth frame (CPU),
through the same `build_filters` the RealSense source uses, on frames from a software_device.

    python bench/bench_realsense.py [--frames 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyrealsense2 as rs

from lucid_ros.vision.realsense import build_filters, parse_filters

CHAINS = {
    "decimation 2": "[{decimation: {magnitude: 2}}]",
    "hole_filling": "[hole_filling]",
    "spatial (disparity)": "[disparity, spatial, depth]",
    "temporal (disparity)": "[disparity, temporal, depth]",
    "full (dec 2, disp, spatial, temporal, depth, holes)": "[{decimation: {magnitude: 2}}, disparity, spatial, temporal, depth, hole_filling]",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    w, h = 848, 480
    dev = rs.software_device()
    sensor = dev.add_sensor("Depth")
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = rs.stream.depth, 0, 0, w, h, 30, 2, rs.format.z16
    i = rs.intrinsics()
    i.width, i.height, i.fx, i.fy, i.ppx, i.ppy, i.model = w, h, 420.0, 420.0, w / 2, h / 2, rs.distortion.none
    vs.intrinsics = i
    profile = rs.video_stream_profile(sensor.add_video_stream(vs, True))
    sensor.add_read_only_option(rs.option.depth_units, 0.001)
    queue = rs.frame_queue(args.frames + 1, keep_frames=True)
    sensor.open(profile)
    sensor.start(queue)
    rng = np.random.default_rng(0)
    for n in range(args.frames):
        z = (1000 + 300 * rng.standard_normal((h, w))).clip(0, 65535).astype(np.uint16)
        z[rng.random((h, w)) < 0.05] = 0  # 5 % holes, like a D435 indoors
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride, f.timestamp, f.frame_number, f.profile = z, 2, 2 * w, n * 33.3, n, profile
        f.domain, f.depth_units = rs.timestamp_domain.hardware_clock, 0.001
        sensor.on_video_frame(f)
    frames = [queue.wait_for_frame(1000) for _ in range(args.frames)]
    print(f"{args.frames} frames of {w}x{h} z16, one thread of this machine")
    for name, chain in CHAINS.items():
        blocks = build_filters(parse_filters(chain))
        times = []
        for fr in frames:
            t0 = time.perf_counter()
            out = fr
            for b in blocks:
                out = b.process(out)
            np.asanyarray(out.get_data()).astype(np.float32) * 0.001  # the source's unit conversion
            times.append(time.perf_counter() - t0)
        ms = np.array(times[5:]) * 1e3
        print(f"  {name:55s} p50 {np.percentile(ms, 50):6.2f} ms  p99 {np.percentile(ms, 99):6.2f} ms")
    sensor.stop()
    sensor.close()


if __name__ == "__main__":
    main()
