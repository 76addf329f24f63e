"""Send-loop timing of the Go1 driver against the fake Go1 on loopback (prints numbers).

    python bench/bench_send_loop.py [--seconds 5] [--separate]
    python bench/bench_send_loop.py --graph [--seconds 30] [--protocols go1_udp,unitree_sdk2,mini_cheetah_lcm]
    python bench/bench_send_loop.py --sdk2-codec

--graph: the period of each driver's send loop *while the full graph runs*: the fake robot in
its own process, and in this one the `lucid-ros robot` graph (driver, proprioception, policy
runner, supervisor), armed, walking at 0.5 m/s (Go1 over each; SDK2 in the unitree_go layout).

Measures the driver's 500 Hz send loop (absolute deadlines) start-to-start period p50/p99/max,
the rate, deadline misses, and the fake robot's own loop. With --separate the fake robot runs
in another process (as on a robot: the driver shares its process only with the graph).
Also prints the per-packet cost of encoding a LowCmd and decoding a LowState.
--sdk2-codec: per-sample cost of the SDK2 messages (Go2/unitree_go, H1/unitree_hg) both ways: the
cyclonedds sample objects (what the driver and fake used before issue #5) vs the raw-bytes path.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import timeit

import numpy as np

GRAPH_CASES = {"go1_udp": ("go1", "go1_walk"), "mini_cheetah_lcm": ("go1", "go1_walk"), "unitree_sdk2": ("go1", "go1_walk")}


def bench_graph(backend: str, seconds: float) -> dict:
    from lucid_ros.hardware.loopback import fake_robot, loopback_link
    from lucid_ros.nodes.robot_run import RobotGraph

    robot, policy = GRAPH_CASES[backend]
    cli, opts = loopback_link(backend)
    with fake_robot(robot, backend, cli):
        over = {"robot_driver": {"remote_cmd_vel": False}}
        with RobotGraph(robot, backend, policy, arm=True, auto=True, driver_options=opts, overrides=over, cmd_vel=(0.5, 0.0, 0.0)) as g:
            if not g.wait_active(15.0) or not g.wait_for_state("RUNNING", 20.0):
                return {"backend": backend, "error": f"{g.driver.refusal or g.monitor.events[-1:]}"}
            time.sleep(1.0)
            d = g.driver
            d.loop.intervals.clear()
            d.loop.lateness.clear()
            misses0, sent0 = d.loop.misses, d.counters["sent"]
            time.sleep(seconds)
            s = d.loop.stats()
            iv = np.array(d.loop.intervals) * 1e3
            return {
                "backend": backend, "robot": robot, "policy": policy, "state": g.state, "p50": s["period_p50_ms"], "p99": s["period_p99_ms"],
                "p999": float(np.percentile(iv, 99.9)), "max": s["period_max_ms"], "rate": s["rate_hz"], "misses": d.loop.misses - misses0,
                "sent": d.counters["sent"] - sent0, "over_4ms": int((iv > 4.0).sum()), "load": os.getloadavg()[0],
            }  # fmt: skip


def main_graph(seconds: float, protocols: list[str]) -> None:
    rows = [bench_graph(b, seconds) for b in protocols]
    print(
        f"\nsend-loop period while the full graph runs ({seconds:g} s each, target 2.000 ms = 500 Hz, cmd_vel 0.5 m/s; state = safety state at the end):"
    )
    print(
        f"{'backend':<18}{'robot/policy':<18}{'p50 ms':>8}{'p99 ms':>8}{'p99.9':>8}{'max ms':>8}{'rate Hz':>9}{'misses':>8}{'>4 ms':>7}{'state':>9}{'load':>6}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['backend']:<18}error: {r['error']}")
            continue
        print(f"{r['backend']:<18}{r['robot'] + '/' + r['policy']:<18}{r['p50']:>8.3f}{r['p99']:>8.3f}{r['p999']:>8.3f}{r['max']:>8.2f}"
              f"{r['rate']:>9.1f}{r['misses']:>8d}{r['over_4ms']:>7d}{r['state']:>9}{r['load']:>6.1f}")  # fmt: skip


def _us(fn, n: int = 2000) -> float:
    fn()
    return min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e6


def _object_cmd(drv, cmd):
    """The LowCmd_ built field by field as a cyclonedds sample, as the driver did before the raw path."""
    c = drv.CmdType()
    for k, slot in enumerate(drv.vidx):
        m = c.motor_cmd[int(slot)]
        m.mode, m.q, m.dq, m.tau, m.kp, m.kd = int(drv.modes[k]), float(cmd.q[k]), 0.0, 0.0, float(cmd.kp[k]), float(cmd.kd[k])
    from lucid_ros.hardware.sdk2 import codec

    c.crc = codec.lowcmd_crc(c, drv.flavor)
    return c


def _sdk2_codec_rows(name: str, flavor: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    from lucid_ros.hardware.sdk2 import codec, dds, idl
    from lucid_ros.hardware.sdk2.driver import RawStateCheck, Sdk2Driver
    from lucid_ros.robots import load_robot
    from lucid_ros.types import JointCommand

    robot = load_robot(name)
    Cmd, State = idl.TYPES[flavor]
    drv = Sdk2Driver(robot, flavor=flavor)
    n = robot.n_joints
    cmd = JointCommand(0.0, robot.default_pose, np.zeros(n), np.zeros(n), robot.kp, robot.kd)
    s = State()
    s.imu_state.quaternion = [1.0, 0.0, 0.0, 0.0]
    s.crc = codec.lowstate_crc(s, flavor)
    state_bytes, cmd_bytes = s.serialize(), drv.build(cmd).serialize()
    chk = codec.LowStateCheck(flavor, robot.vendor_index)
    old = (_us(lambda: _object_cmd(drv, cmd).serialize()), _us(lambda: chk.accept(State.deserialize(state_bytes))),
           _us(lambda: s.serialize()), _us(lambda: codec.lowcmd_crc(Cmd.deserialize(cmd_bytes), flavor)))  # fmt: skip
    raw_chk = RawStateCheck(flavor, robot.vendor_index, dds.Layout(State))
    S, C, slots = dds.Layout(State), dds.Layout(Cmd), np.asarray(robot.vendor_index)

    def fake_state() -> bytes:  # what FakeSdk2Robot._send_state writes
        buf = S.new()
        for f in ("q", "dq", "tau_est"):
            S.put(buf, f"motor_state.{f}", robot.default_pose, at=slots)
        for f, v in (("quaternion", [1.0, 0, 0, 0]), ("gyroscope", [0.0] * 3), ("accelerometer", [0, 0, 9.8]), ("rpy", [0.0] * 3)):
            S.put(buf, f"imu_state.{f}", v)
        return S.seal(buf)

    def fake_cmd():  # what FakeSdk2Robot._poll_commands reads
        buf = C.decodable(cmd_bytes)
        return C.crc(buf) == int(C.get(buf, "crc")[0]), [C.get(buf, f"motor_cmd.{f}")[slots] for f in ("q", "dq", "tau", "kp", "kd")]

    new = (_us(lambda: drv.encode(cmd)), _us(lambda: raw_chk.check(state_bytes)), _us(fake_state), _us(fake_cmd))
    return old, new


def main_sdk2_codec() -> None:
    print(
        f"{'robot/layout':<12}{'path':<24}{'driver: encode cmd':>20}{'check+decode state':>20}{'fake: encode state':>20}{'check+decode cmd':>18}  (us per sample)"
    )
    for name, flavor in (("go2", "go"), ("h1", "hg")):
        old, new = _sdk2_codec_rows(name, flavor)
        for label, row in (("cyclonedds objects", old), ("raw bytes (dds.Layout)", new)):
            print(f"{name + '/' + flavor:<12}{label:<24}" + "".join(f"{v:>20.0f}" for v in row[:3]) + f"{row[3]:>18.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--separate", action="store_true", help="run the fake robot in its own process")
    ap.add_argument("--graph", action="store_true", help="measure each driver inside the full walking graph")
    ap.add_argument("--protocols", default="go1_udp,unitree_sdk2,mini_cheetah_lcm")
    ap.add_argument("--sdk2-codec", action="store_true", help="per-sample cost of the SDK2 messages, cyclonedds objects vs raw bytes")
    args = ap.parse_args()
    if args.sdk2_codec:
        main_sdk2_codec()
        return
    if args.graph:
        main_graph(args.seconds, args.protocols.split(","))
        return

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
