"""Send-loop timing of the Go1 driver against the fake Go1 on loopback (prints numbers).

    python bench/bench_send_loop.py [--seconds 5] [--separate]
    python bench/bench_send_loop.py --graph [--seconds 30] [--rt] [--protocols go1_udp,unitree_sdk2,mini_cheetah_lcm]
    python bench/bench_send_loop.py --sdk2-codec

--graph: the send period ON THE WIRE *while the full graph runs*: the fake robot in its own
process, and in this one the `lucid-ros robot` graph (driver, proprioception, policy runner,
supervisor), armed, walking at 0.5 m/s (Go1 over each; SDK2 in the unitree_go layout), once with the
driver in its motor process (the default) and once in the graph's process (motor_process false).
A tap in a third process stamps every command packet as it crosses the interface (AF_PACKET,
kernel timestamps; root or CAP_NET_RAW), so the numbers are what the robot would receive.

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
LCM_COMMAND_CHANNEL = "pd_plustau_targets"
GAP_MS = 3.0  # a gap between two packets on the wire over 1.5 periods: a late or missing command


def wire_match(backend: str, opts: dict) -> dict:
    """Which packets are the driver's commands, as the wire tap sees them."""
    if backend == "go1_udp":
        return {"port": opts["port"]}
    if backend == "mini_cheetah_lcm":
        group, port = opts["lcm_url"].split("//")[1].split("?")[0].split(":")
        return {"mcast": [group, int(port)], "port": int(port), "lcm_channel": LCM_COMMAND_CHANNEL}
    from lucid_ros.hardware.sdk2 import dds, idl

    cmd, state = (len(dds.Layout(t).new()) for t in idl.TYPES["go"])  # RTPS packets: the CDR sample + < 150 B of headers
    return {"rtps": True, "size": [cmd, min(cmd + 150, state)]}


def wire_tap(seconds: float, match: dict) -> dict:
    """Arrival times of the driver's command packets on this machine's interfaces (AF_PACKET, kernel
    timestamps: when the packet crossed the interface, whoever reads it late; needs root/CAP_NET_RAW).
    LCM's looped-back multicast: kernel receive stamps on a socket that joined the group."""
    import socket
    import struct

    ETH_P_ALL, SO_TIMESTAMPNS, PACKET_OUTGOING = 3, 35, 4
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(80))
    except (OSError, AttributeError):
        pass
    if "mcast" in match:  # looped-back multicast never crosses a packet socket: a member of the group instead
        group, port = match["mcast"]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("", port))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("0.0.0.0"))
    else:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.settimeout(0.1)
    stamps = []
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        try:
            data, anc, _flags, addr = s.recvmsg(65536, 64)
        except TimeoutError:
            continue
        if "mcast" in match:
            payload = data
        else:
            if addr[2] == PACKET_OUTGOING or data[12:14] != b"\x08\x00" or data[23] != 17:  # one copy; IPv4; UDP
                continue
            udp = data[14 + (data[14] & 0xF) * 4 :]
            payload = udp[8:]
            if "port" in match and struct.unpack("!H", udp[2:4])[0] != match["port"]:
                continue
        if "lcm_channel" in match and not payload[8:].startswith(match["lcm_channel"].encode() + b"\0"):
            continue
        if match.get("rtps") and not (payload[:4] == b"RTPS" and match["size"][0] <= len(payload) <= match["size"][1]):
            continue
        for level, kind, d in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", d[:16])
                stamps.append(sec + nsec * 1e-9)
    iv = np.diff(np.array(stamps)) * 1e3
    if len(iv) < 2:
        return {"n": len(stamps), "error": "no command packets seen on the wire"}
    return {"n": len(stamps), "p50": float(np.percentile(iv, 50)), "p99": float(np.percentile(iv, 99)), "max": float(iv.max()),
            "gaps": int((iv > GAP_MS).sum()), "rate": float(1e3 / iv.mean())}  # fmt: skip


def bench_graph(backend: str, seconds: float, own_process: bool, rt: bool = False) -> dict:
    import json
    from contextlib import nullcontext

    from lucid_ros.hardware.loopback import fake_robot, loopback_link, realtime_threads
    from lucid_ros.nodes.robot_run import RobotGraph

    robot, policy = GRAPH_CASES[backend]
    cli, opts = loopback_link(backend)
    where = "motor process" if own_process else "in the graph"
    row = {"backend": backend, "where": where}
    fake_prio = (lambda: os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))) if rt else None
    # --rt: the graph's threads (and the in-process driver's) at SCHED_RR 5 and the fake robot at 10, as
    # the hardware tests run them and a robot computer would; the motor process takes FIFO 60 anyway
    with fake_robot(robot, backend, cli, preexec_fn=fake_prio), realtime_threads() if rt else nullcontext():
        over = {"robot_driver": {"remote_cmd_vel": False, "motor_process": own_process}}
        with RobotGraph(robot, backend, policy, arm=True, auto=True, driver_options=opts, overrides=over, cmd_vel=(0.5, 0.0, 0.0)) as g:
            if not g.wait_active(15.0) or not g.wait_for_state("RUNNING", 20.0):
                why = [e for e in g.monitor.events if "-> DAMPING" in e][:1] or g.monitor.events[-1:]
                return {**row, "error": f"{g.driver.refusal or why} (load {os.getloadavg()[0]:.1f})"}
            time.sleep(1.0)
            d = g.driver
            trips0 = d.counters["watchdog_trips"]
            # the tap in its own process: this one runs the graph
            tap = subprocess.run([sys.executable, __file__, "--tap", json.dumps(wire_match(backend, opts)), "--seconds", str(seconds)],
                                 capture_output=True, text=True, timeout=seconds + 30)  # fmt: skip
            wire = json.loads(tap.stdout.strip().splitlines()[-1]) if tap.returncode == 0 else {"error": tap.stderr[-300:]}
            s = d.loop.stats()
            h = d.health().values
            return {**row, **wire, "driver_p99": s["period_p99_ms"], "state": g.state, "trips": d.counters["watchdog_trips"] - trips0,
                    "cmd_age_max": h.get("command_age_max_ms", float("nan")), "load": os.getloadavg()[0]}  # fmt: skip


def main_graph(seconds: float, protocols: list[str], rt: bool = False) -> None:
    rows = [bench_graph(b, seconds, own, rt) for b in protocols for own in (True, False)]
    print(f"\n{'graph at SCHED_RR 5, fake robot RR 10 (--rt); ' if rt else 'graph and fake robot at normal priority; '}"
          f"send period ON THE WIRE (kernel arrival times of the command packets, AF_PACKET) while the walking graph runs, "
          f"{seconds:g} s each, target 2.000 ms; gaps = intervals > {GAP_MS:g} ms; driver p99 = the send loop's own view; "
          "state = safety state at the end; age = oldest command the motor process sent (ms):")  # fmt: skip
    print(
        f"{'backend':<18}{'driver':<15}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'gaps':>6}{'packets':>9}{'drv p99':>9}{'trips':>6}{'age':>6}{'state':>9}{'load':>6}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['backend']:<18}{r['where']:<15}error: {r['error']}")
            continue
        print(f"{r['backend']:<18}{r['where']:<15}{r['p50']:>8.3f}{r['p99']:>8.3f}{r['max']:>8.2f}{r['gaps']:>6d}{r['n']:>9d}"
              f"{r['driver_p99']:>9.3f}{r['trips']:>6d}{r['cmd_age_max']:>6.0f}{r['state']:>9}{r['load']:>6.1f}")  # fmt: skip


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
    ap.add_argument("--rt", action="store_true", help="--graph: the graph at SCHED_RR 5 and the fake robot at 10 (as the hardware tests)")
    ap.add_argument("--sdk2-codec", action="store_true", help="per-sample cost of the SDK2 messages, cyclonedds objects vs raw bytes")
    ap.add_argument("--tap", default=None, metavar="JSON", help=argparse.SUPPRESS)  # --graph's wire tap, in its own process
    args = ap.parse_args()
    if args.tap:
        import json

        print(json.dumps(wire_tap(args.seconds, json.loads(args.tap))))
        return
    if args.sdk2_codec:
        main_sdk2_codec()
        return
    if args.graph:
        main_graph(args.seconds, args.protocols.split(","), args.rt)
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
