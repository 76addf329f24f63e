"""Send-loop timing of the Go1 driver against the fake Go1 on loopback (prints numbers).

    python bench/bench_send_loop.py [--seconds 5] [--separate]

Measures the driver's 500 Hz send loop (absolute deadlines) start-to-start period p50/p99/max,
the rate, deadline misses, and the fake robot's own loop. With --separate the fake robot runs
in another process (as on a robot: the driver shares its process only with the graph).
Also prints the per-packet cost of encoding a LowCmd and decoding a LowState.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import timeit

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--separate", action="store_true", help="run the fake robot in its own process")
    args = ap.parse_args()

    from lucid_ros.hardware.go1 import codec
    from lucid_ros.hardware.go1.driver import Go1UdpDriver
    from lucid_ros.hardware.go1.fake import FakeGo1
    from lucid_ros.robots import load_robot
    from lucid_ros.types import JointCommand

    robot = load_robot("go1")
    proc = fake = None
    if args.separate:
        port = 18007
        proc = subprocess.Popen([sys.executable, "-m", "lucid_ros.cli", "fake-robot", "--robot", "go1", "--protocol", "go1_udp", "--port", str(port)])
        time.sleep(3.0)
    else:
        fake = FakeGo1(robot, port=0).start()
        port = fake.port
    d = Go1UdpDriver(robot, host="127.0.0.1", port=port, local_ip="127.0.0.1", local_port=0, arm=True)
    try:
        d.activate()
        n = robot.n_joints
        cmd = JointCommand(0.0, np.array(robot.default_pose), np.zeros(n), np.zeros(n), robot.kp, robot.kd)
        t_end = time.monotonic() + args.seconds
        d.loop.intervals.clear()
        while time.monotonic() < t_end:
            d.write(cmd)  # a 50 Hz supervisor
            time.sleep(0.02)
        s = d.loop.stats()
        print(
            f"driver send loop ({args.seconds:g} s, target 2.000 ms): p50 {s['period_p50_ms']:.3f} ms  p99 {s['period_p99_ms']:.3f} ms  "
            f"max {s['period_max_ms']:.3f} ms  rate {s['rate_hz']:.1f} Hz  misses {s['misses']}"
        )
        late = np.array(d.loop.lateness) * 1e3
        print(f"driver wake-up lateness: p50 {np.percentile(late, 50):.3f} ms  p99 {np.percentile(late, 99):.3f} ms")
        if fake is not None:
            f = fake.loop.stats()
            print(f"fake robot loop (same process): p50 {f['period_p50_ms']:.3f} ms  p99 {f['period_p99_ms']:.3f} ms  rate {f['rate_hz']:.1f} Hz")
        h = d.health().values
        print(f"states received {h['received']}, rejected {sum(v for k, v in h.items() if k.startswith('rx_rejected'))}, sent {h['sent']}")
    finally:
        d.close()
        if fake is not None:
            fake.stop()
        if proc is not None:
            proc.terminate()
            proc.wait(5)
    st = codec.encode_low_state(codec.Go1Decoder("state").decode(codec.encode_low_state(_state())) or _state())
    dec = codec.Go1Decoder("state")
    k = 2000
    t_dec = timeit.timeit(lambda: dec.decode(st), number=k) / k
    t_enc = timeit.timeit(lambda: d.encode(cmd), number=k) / k
    print(f"codec: encode LowCmd {t_enc * 1e6:.1f} us, decode+CRC LowState {t_dec * 1e6:.1f} us")


def _state():
    from lucid_ros.hardware.go1 import codec

    n = codec.N_MOTORS
    z = np.zeros(n)
    return codec.LowState(
        0, np.full(n, 10, np.uint8), z, z, z, z, np.array([1.0, 0, 0, 0]), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(4), np.zeros(4), b""
    )


if __name__ == "__main__":
    main()
