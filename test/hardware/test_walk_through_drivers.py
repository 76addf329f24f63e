"""The issue's must-show: for each protocol, the policy drives the simulated robot *through the
real driver* for 20 s, and the robot does what it does in pure sim.

Through the driver: `lucid-ros fake-robot` (its own process, the MuJoCo world behind the exact
wire protocol) + the `lucid-ros robot` graph (driver node, proprioception, policy runner,
supervisor) on the wall clock, armed, auto-sequenced, cmd_vel 0.5 m/s. Pure sim: SimGraph with
the same robot, policy, command and start pose, in lockstep (computed once per case here).
Velocity comes from each MuJoCo world's ground truth, never from the stack's estimate: the fake
writes its true base motion to a CSV (--ground-truth).

Cases: Go1 over go1_udp and over mini_cheetah_lcm (go1_walk, walk-these-ways' LCM layout), the
Mini Cheetah over mini_cheetah_lcm in Cheetah-Software's layout (mini_cheetah_walk), Go2 over
unitree_sdk2 unitree_go (go2_walk), H1 standing (h1_stand) over unitree_sdk2 unitree_hg, H1 walking on
its own h1_walk over unitree_go, G1 on its own g1_walk over unitree_hg, and the humanoids walking with
Unitree's own policies (imported from ../shared/third_party/unitree_rl_gym; skipped, saying why,
where absent) over the layout each real robot uses: H1 unitree_go, G1 unitree_hg. A fake humanoid
hangs from the hoist while the driver starts and stands; the fake lowers it (the operator's part)
and the auto sequence runs the policy only once it is down (auto_gantry_wait).
Accept: |mean vx_driver - mean vx_sim| <= 20 % of |mean vx_sim|, no fall, RUNNING throughout;
H1 standing: base height held (within 5 cm of the pure-sim stand) and no fall for 20 s.
"""

import time
from pathlib import Path

import numpy as np
import pytest
from hw_tools import graph_starved, importable, realtime_threads, retry_once_if_starved, robot_priority, starved_of_cpu
from unitree_artifacts import artifact

from lucid_ros.hardware.loopback import fake_robot, loopback_link

pytest.importorskip("rclpy")

CMD = (0.5, 0.0, 0.0)
WALK_S = 20.0
SETTLE_S = 1.0  # after RUNNING (and after the harness let go) before anything is measured

_dds = pytest.mark.skipif(not importable("cyclonedds"), reason="cyclonedds 0.10.2 not installed (docker/build_cyclonedds.sh)")
_lcm = pytest.mark.skipif(not importable("lcm"), reason="lcm not installed")
CASES = [
    pytest.param("go1_udp", "go1", "go1_walk", None, id="go1-go1_udp"),
    pytest.param("mini_cheetah_lcm", "go1", "go1_walk", None, id="go1-mini_cheetah_lcm", marks=_lcm),
    pytest.param("mini_cheetah_lcm", "mini_cheetah", "mini_cheetah_walk", None, id="mini_cheetah-mini_cheetah_lcm", marks=_lcm),
    pytest.param("unitree_sdk2", "go2", "go2_walk", "go", id="go2-unitree_go", marks=_dds),
    pytest.param("unitree_sdk2", "h1", "h1_stand", "hg", id="h1_stand-unitree_hg", marks=_dds),
    pytest.param("unitree_sdk2", "h1", "unitree:h1", "go", id="h1_unitree-unitree_go", marks=_dds),
    pytest.param("unitree_sdk2", "h1", "h1_walk", "go", id="h1_walk-unitree_go", marks=_dds),
    pytest.param("unitree_sdk2", "g1", "unitree:g1", "hg", id="g1_unitree-unitree_hg", marks=_dds),
    pytest.param("unitree_sdk2", "g1", "g1_walk", "hg", id="g1_walk-unitree_hg", marks=_dds),
]
_imported: dict[str, str] = {}


def resolve_policy(policy: str, tmp_root: Path) -> tuple[str, bool]:
    """(policy for the graphs, walks?): `unitree:<robot>` is Unitree's pre-trained policy imported
    once per session with the import tool (skipped, saying why, without the file or torch)."""
    if not policy.startswith("unitree:"):
        return policy, "walk" in policy
    robot = policy.split(":", 1)[1]
    if robot not in _imported:
        src = artifact(robot)
        pytest.importorskip("torch", reason="importing Unitree's policy needs torch (pip install -e '.[import]')")
        from lucid_ros.importers import import_policy

        res = import_policy(src, "unitree_rl_gym", robot, out=tmp_root, name=f"{robot}_unitree", log=lambda *_: None)
        _imported[robot] = str(res.spec)
    return _imported[robot], True


_reference: dict[tuple[str, str], dict] = {}


class _Starved(Exception):
    """A process of the test stalled past a staleness timeout: the shared machine, not the stack."""


def _summary(vel: np.ndarray, pos: np.ndarray, quat: np.ndarray, nominal: float) -> dict:
    from lucid_ros.metrics import FallDetector

    det = FallDetector(nominal)
    return {
        "vx": float(vel[:, 0].mean()),
        "vy": float(vel[:, 1].mean()),
        "height": float(pos[:, 2].mean()),
        "height_min": float(pos[:, 2].min()),
        "fell": any(det.fallen(p, q) for p, q in zip(pos, quat, strict=True)),
        "distance": float(np.linalg.norm(pos[-1, :2] - pos[0, :2])),
    }


def pure_sim(robot: str, policy: str, walks: bool) -> dict:
    """SimGraph, lockstep: the same policy, command and start pose; once per (robot, policy)."""
    from lucid_ros.nodes.graph import SimGraph
    from lucid_ros.robots import load_robot

    key = (robot, policy)
    if key not in _reference:
        r = load_robot(robot)
        start = "lying" if r.kind == "quadruped" else "default"
        cmd = CMD if walks else (0.0, 0.0, 0.0)
        # The reference, not the code under test: the H1's pure-sim stand was damped (pitch 0.61 rad)
        # in 2 full-suite runs on 2026-12-03 and never alone (3 of 3). One fresh retry, said out loud;
        # a second damped stand fails the test as before.
        for attempt in range(2):
            with SimGraph(robot=robot, policy=policy, start_pose=start, cmd_vel=cmd) as g:
                if not g.wait_for_state("RUNNING", wall_timeout=60):
                    print(f"pure-sim reference {robot}/{policy}: not RUNNING (state {g.state}): {g.monitor.events}")
                    assert attempt == 0, f"pure-sim reference {robot}/{policy} never reached RUNNING"
                    continue
                g.run_for(SETTLE_S)
                t0 = g.sim_time
                g.run_until(t0 + WALK_S)
                assert g.state == "RUNNING", g.monitor.events
            break
        m = g.monitor.metrics
        t = np.array(m.t)
        win = (t >= t0) & (t <= t0 + WALK_S)
        _reference[key] = _summary(np.array(m.vel_body)[win], np.array(m.pos)[win], np.array(m.quat)[win], r.nominal_base_height)
    return _reference[key]


def _wait_released(gt_path: Path, timeout: float) -> bool:
    """Poll the fake's ground truth (written about once a second) until the hoist no longer holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            gt = _read_ground_truth(gt_path) if gt_path.is_file() else None
        except (ValueError, IndexError):  # a line being written
            gt = None
        if gt is not None and len(gt["harness"]) and gt["harness"][-1] < 0.5:
            return True
        time.sleep(0.2)
    return False


def _read_ground_truth(path) -> dict[str, np.ndarray]:
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {h: np.array([float(r[i]) for r in rows]) for i, h in enumerate(header[:-1])}
    cols["command"] = np.array([r[-1] for r in rows])
    return cols


def through_driver(tmp_path, backend: str, robot: str, policy: str, flavor: str | None, walks: bool) -> dict:
    from lucid_ros.nodes.robot_run import RobotGraph
    from lucid_ros.robots import load_robot

    r = load_robot(robot)
    gt_path = tmp_path / f"{robot}_{backend}_ground_truth.csv"
    cli_args, opts = loopback_link(backend)
    start = "lying" if r.kind == "quadruped" else "default"
    extra = ["--flavor", flavor] if flavor else []
    with fake_robot(robot, backend, [*cli_args, *extra, "--start-pose", start, "--ground-truth", str(gt_path)], preexec_fn=robot_priority):
        if flavor:
            opts["flavor"] = flavor
        cmd = CMD if walks else (0.0, 0.0, 0.0)
        overrides = {"robot_driver": {"remote_cmd_vel": False}}
        with realtime_threads(), RobotGraph(robot, backend, policy, arm=True, auto=True, driver_options=opts, overrides=overrides, cmd_vel=cmd) as g:

            def starved() -> None:
                # a stale input, a silent robot, or the motor process's 50 ms watchdog on our own
                # command stream: a process of the test did not get the CPU (the retry tells which)
                if graph_starved(g):
                    exc = _Starved(f"{g.gc_pauses.summary()}; {g.stalls.summary()}; counters {g.driver.counters}: {g.monitor.events[-1:]}")
                    exc.machine = starved_of_cpu(g)
                    raise exc

            assert g.wait_active(15.0), g.driver.refusal or g.driver.health().message
            if not g.wait_for_state("RUNNING", 20.0):
                starved()
                raise AssertionError(g.monitor.events)
            t_running = t_cmd = time.time()
            if r.kind == "humanoid":
                # as an operator would: the fake lowers the hoist after the stand (the auto sequence
                # waits auto_gantry_wait for it), and the walk is commanded once the robot is down
                g.monitor.cmd_vel = (0.0, 0.0, 0.0)
                if not _wait_released(gt_path, 15.0):
                    raise AssertionError(f"the fake's hoist was not released 15 s after RUNNING: {g.monitor.events}")
                g.monitor.cmd_vel = cmd
                t_cmd = time.time()
            runner = g.nodes["policy_runner"]
            steps0, wall0 = runner.steps, time.monotonic()
            end = wall0 + SETTLE_S + WALK_S + 0.5
            while time.monotonic() < end and g.state == "RUNNING":
                time.sleep(0.1)
            policy_hz = (runner.steps - steps0) / (time.monotonic() - wall0)
            if g.state != "RUNNING":
                starved()
            assert g.state == "RUNNING", g.monitor.events
            stats = g.driver.health().values
    gt = _read_ground_truth(gt_path)
    free = gt["wall_time"][gt["harness"] < 0.5]
    t0 = max(t_running, t_cmd, free[0] if len(free) else np.inf) + SETTLE_S
    win = (gt["wall_time"] >= t0) & (gt["wall_time"] <= t0 + WALK_S)
    span = gt["sim_time"][win]
    if not len(span) or span[-1] - span[0] <= WALK_S - 0.5:  # the fake's physics fell behind the wall clock
        raise _Starved(f"only {span[-1] - span[0] if len(span) else 0:.1f} s of simulated ground truth in {WALK_S:.0f} s of wall time")
    vel = np.stack([gt["vx_body"], gt["vy_body"], gt["wz_body"]], axis=1)[win]
    pos = np.stack([gt["x"], gt["y"], gt["z"]], axis=1)[win]
    quat = np.stack([gt["qw"], gt["qx"], gt["qy"], gt["qz"]], axis=1)[win]
    out = _summary(vel, pos, quat, r.nominal_base_height)
    out["send_period_p50_ms"] = stats.get("period_p50_ms")
    out["send_period_p99_ms"] = stats.get("period_p99_ms")
    out["watchdog_trips"] = stats.get("watchdog_trips")
    out["policy_hz"], out["spec_hz"] = policy_hz, runner.runtime.spec.rate_hz
    return out


@pytest.mark.parametrize("backend, robot, policy, flavor", CASES)
def test_policy_through_the_driver_matches_pure_sim(tmp_path, tmp_path_factory, backend, robot, policy, flavor):
    policy, walks = resolve_policy(policy, tmp_path_factory.getbasetemp() / "imported")
    ref = pure_sim(robot, policy, walks)
    got = retry_once_if_starved(lambda: through_driver(tmp_path, backend, robot, policy, flavor, walks), _Starved, "the real-time walk")
    print(f"\n{robot} {policy} over {backend}{'/' + flavor if flavor else ''}: pure sim {ref}\n  through the driver {got}")
    assert not ref["fell"] and not got["fell"], (ref, got)
    assert got["watchdog_trips"] == 0, got
    # the network runs at its spec's rate on the robot's jittery tick stamps (it ran at 0.64x when
    # the schedule compared stamps exactly: lucid_ros.policy.schedule)
    assert got["policy_hz"] >= 0.9 * got["spec_hz"], (
        f"the policy ran at {got['policy_hz']:.1f} Hz through {backend}, its spec says {got['spec_hz']:g}"
    )
    if walks:
        assert ref["vx"] > 0.4, f"pure sim does not walk: {ref}"
        assert abs(got["vx"] - ref["vx"]) <= 0.2 * abs(ref["vx"]), f"vx through {backend} {got['vx']:.3f} vs pure sim {ref['vx']:.3f} m/s"
    else:
        assert abs(got["height"] - ref["height"]) < 0.05, f"base height {got['height']:.3f} vs pure sim {ref['height']:.3f} m"
        assert got["height_min"] > 0.9 * ref["height"], got
        assert got["distance"] < 0.3, f"drifted {got['distance']:.2f} m while standing"
