"""Vision benchmarks (issue #4): render throughput, the vision policy's step time, and camera-to-action
latency through the full sim graph, on this machine's CPU (MUJOCO_GL=egl).

    python bench/bench_vision.py [--course hurdle] [--seed 1] [--frames 300] [--steps 2000]
                                 [--seconds 20] [--modes lockstep,realtime] [--camera-latency 0,50,100]
                                 [--policy SPEC ...] [--graph-policies mixed|first|all] [--baseline go1_walk|none]
                                 [--sections render,policy,graph] [--json OUT.json]

render: one frame of the Go1 ego camera's depth (106x60) and colour (80x45) streams, through the
  sim camera source (`SimCameraSource.render`, what the sim bridge calls) and through the training
  renderer (`EnvCamera.render`, what distillation calls per env, with and without scene jitter).
policy: for each student spec, (a) preprocessing one raw frame (`ImageHistory.push` + `tensor`),
  (b) the network alone (`OnnxPolicy.act` with observation, image and recurrent state), (c) the
  whole runtime step the policy runner does (`PolicyRuntime.step`: observation + network + mapping).
graph: `SimGraph` with the student for `--seconds` of sim time per (policy, mode, camera latency);
  capture-to-action is what the graph publishes on `policy/camera_latency` (graph clock, the number
  operators see), cross-checked against the runner's `capture_to_action_*` diagnostics, next to
  the wall-clock costs the graph reports (render, capture -> tensor, the sim's answer round trip).

Policies: `--policy`, else config/policies/go1_depth.yaml and go1_rgb.yaml when they exist, else
untrained stand-ins of the same architecture written by the trainer's own functions (needs torch):
the network's time does not depend on its weights. `--baseline go1_walk` runs the same graph with the
blind walking policy in each mode, so a realtime run's misses can be told apart from machine load.
Every number comes with the 1-minute load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

from lucid_ros import paths  # noqa: E402
from lucid_ros.health import percentiles_ms  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402

SECTIONS = ("render", "policy", "graph")


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def log(msg: str) -> None:
    print(f"[bench_vision] {msg}", file=sys.stderr, flush=True)


def timing(seconds: list[float]) -> dict:
    """p50/p99/max ms of per-call times (s), frames/s from their sum, and the load right now."""
    out = {k: round(v, 3) for k, v in percentiles_ms(seconds).items()}
    total = float(np.sum(seconds))
    return out | {"n": len(seconds), "per_s": round(len(seconds) / total, 1) if total > 0 else float("nan"), "load": load1()}


# ---- policies --------------------------------------------------------------------------------
def build_students(out_dir: Path) -> list[Path]:
    """Untrained depth and RGB students written exactly as lucid_ros.training.distill writes them
    (same spec, preprocessing, CNN + GRU and trot prior), for timing when none are trained yet."""
    try:
        import torch
    except ImportError:
        raise SystemExit(
            "bench_vision: no config/policies/go1_depth.yaml / go1_rgb.yaml, and torch (the `train` extra) is not installed "
            "to write untrained stand-ins: pass --policy SPEC.yaml"
        ) from None
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import STUDENTS, student_spec_dict, teacher_normaliser
    from lucid_ros.training.export import write_spec
    from lucid_ros.training.student import Student, student_to_onnx
    from lucid_ros.training.train_walk import trot_generator
    from lucid_ros.vision.preprocess import Preprocessor

    torch.manual_seed(0)
    robot, cfg = load_robot("go1"), TrainConfig()
    mean, std = teacher_normaliser(paths.config_dir() / "policies" / "go1_walk.onnx")  # the students' proprioceptive statistics
    out = []
    for stream, name, pre in STUDENTS:
        raw = student_spec_dict(robot, cfg, name, stream, pre)
        raw["training"] = {"tool": "bench/bench_vision.py: untrained, lucid_ros.training.distill's architecture (for timing only)"}
        onnx_path, yaml_path = out_dir / f"{name}.onnx", out_dir / f"{name}.yaml"
        model = Student(len(mean), Preprocessor(pre, stream).output_shape, robot.n_joints, mean, std, None, age=True)
        student_to_onnx(model, onnx_path, "obs", "image", "h_in", "h_out")
        write_spec(raw, onnx_path, yaml_path)
        model.tg = trot_generator(load_spec(yaml_path, robot), robot, cfg.obs)  # the trot prior is part of the exported graph
        student_to_onnx(model, onnx_path, "obs", "image", "h_in", "h_out")
        write_spec(raw, onnx_path, yaml_path)
        out.append(yaml_path)
    return out


def default_policies(work: Path) -> tuple[list[Path], str]:
    shipped = [paths.resolve("policies", n) for n in ("go1_depth", "go1_rgb")]
    if all(p.is_file() for p in shipped):
        return shipped, "shipped"
    log(f"no trained students in {shipped[0].parent}: writing untrained stand-ins of the same architecture to {work}")
    return build_students(work), "untrained stand-ins (distill's architecture)"


# ---- 1. render ---------------------------------------------------------------------------------
@dataclass
class _World:
    """What EnvCamera reads of a training world: a model, its index and a batch of qpos rows."""

    model: object
    index: object
    qpos: np.ndarray


def poses(sim, n: int) -> np.ndarray:
    """qpos of n standing poses along the first 2.5 m of the course (the view changes frame to frame)."""
    sim.reset()
    rows = np.repeat(sim.data.qpos[None], n, axis=0)
    rows[:, sim.index.root_qpos] += np.linspace(0.0, 2.5, n)
    return rows


def place(sim, qpos: np.ndarray) -> None:
    """Stand the sim's robot at that pose's base position (reset marks the derived quantities fresh)."""
    r = sim.index.root_qpos
    sim.reset(base_xyz=qpos[r : r + 3].copy())


def bench_render(args, robot) -> list[dict]:
    from lucid_ros.sim.robot_sim import SimRobot
    from lucid_ros.sim.world import build_model
    from lucid_ros.training.camera import EnvCamera, JitterRanges, SceneJitter
    from lucid_ros.vision.sources import SimCameraSource

    sim = SimRobot(robot, args.course, seed=args.seed)
    rows_q = poses(sim, 25)
    src = SimCameraSource(robot, "ego")
    rows = []
    for stream in ("depth", "color"):
        st = src.stream(stream)
        times = []
        for i in range(args.frames + 5):
            place(sim, rows_q[i % len(rows_q)])
            t0 = time.perf_counter()
            img = src.render(sim, stream)
            times.append(time.perf_counter() - t0)
        assert img.shape[:2] == (st.height, st.width)
        rows.append({"what": f"SimCameraSource.render {stream} {st.width}x{st.height}", **timing(times[5:])})
        log(f"render: {rows[-1]['what']}: {rows[-1]['per_s']} frames/s")
    sim.close()

    model, index = build_model(robot, sim.course)
    world = _World(model, index, rows_q)
    cam = EnvCamera(robot, [world], "ego", ("depth", "color"))
    jitter = SceneJitter(len(rows_q), cam.n_mat, JitterRanges(), np.random.default_rng(args.seed))
    jitter.draw(np.arange(len(rows_q)))
    try:
        for label, jit in (("scene jitter", jitter), ("no jitter", None)):
            for stream in ("depth", "color"):
                st = cam.stream(stream)
                times = []
                for i in range(args.frames + 5):
                    env = i % len(rows_q)
                    t0 = time.perf_counter()
                    cam.render(0, env, stream, jit, env=env if jit is not None else None)
                    times.append(time.perf_counter() - t0)
                rows.append({"what": f"EnvCamera.render {stream} {st.width}x{st.height}, {label}", **timing(times[5:])})
                log(f"render: {rows[-1]['what']}: {rows[-1]['per_s']} frames/s")
    finally:
        cam.close()
    return rows


# ---- 2. policy step --------------------------------------------------------------------------
def bench_policy(args, robot, spec_path: Path) -> dict:
    from lucid_ros.policy.observations import ObsInputs
    from lucid_ros.policy.runner import PolicyRuntime
    from lucid_ros.sim.robot_sim import SimRobot
    from lucid_ros.vision.preprocess import ImageHistory, from_spec
    from lucid_ros.vision.sources import SimCameraSource

    rt = PolicyRuntime(spec_path, robot, threads=args.ort_threads)
    spec = rt.spec
    img = spec.images[0]
    sim = SimRobot(robot, args.course, seed=args.seed)
    src = SimCameraSource(robot, img.camera)
    frames = []
    for q in poses(sim, 10):
        place(sim, q)
        frames.append(src.render(sim, img.stream))
    sim.close()
    hist = ImageHistory(from_spec(spec, 0))
    period = hist.pre.period
    pre_t = []
    for i in range(args.steps + 50):
        t0 = time.perf_counter()
        hist.push(frames[i % len(frames)], i * period)
        tensor = hist.tensor()
        pre_t.append(time.perf_counter() - t0)
    images = {img.input: tensor}
    ages = {img.input: 0.04}  # fed only to a network that reads its image's age
    inputs = ObsInputs(q=robot.default_pose[None].copy(), dq=np.zeros((1, robot.n_joints)), quat=np.array([[1.0, 0, 0, 0]]), ang_vel=np.zeros((1, 3)),
                       lin_vel=np.zeros((1, 3)), contacts=np.ones((1, len(robot.feet))), command=np.array([[0.5, 0.0, 0.0]]))  # fmt: skip
    rt.step(inputs, 0.0, images, ages=ages)
    obs = rt.last_obs[None].astype(np.float32)
    act_t = []
    for _ in range(args.steps + 50):
        t0 = time.perf_counter()
        rt.policy.act(obs, images, ages=ages)  # feeds and keeps the recurrent state
        act_t.append(time.perf_counter() - t0)
    rt.reset()
    step_t = []
    dt = 1.0 / spec.rate_hz
    for i in range(args.steps + 50):
        t0 = time.perf_counter()
        rt.step(inputs, i * dt, images, ages=ages)
        step_t.append(time.perf_counter() - t0)
    shape = "x".join(str(d) for d in tensor.shape[1:])
    log(f"policy {spec.name}: network p50 {np.percentile(act_t[50:], 50) * 1e3:.3f} ms")
    return {
        "policy": spec.name, "spec": str(spec_path), "provider": rt.provider_report, "ort_threads": args.ort_threads,
        "image": f"{img.stream} {tensor.shape[1:]}",
        "rows": [
            {"what": f"preprocess one {img.stream} frame -> {shape} (ImageHistory.push + tensor)", **timing(pre_t[50:])},
            {"what": "network (OnnxPolicy.act: obs + image + GRU state)", **timing(act_t[50:])},
            {"what": "whole runtime step (PolicyRuntime.step: observation + network + mapping)", **timing(step_t[50:])},
        ],
    }  # fmt: skip


# ---- 3. camera -> action through the graph -------------------------------------------------------
def _diag_float(values: dict, key: str) -> float:
    try:
        return round(float(values.get(key, "nan")), 3)
    except ValueError:
        return float("nan")


def bench_graph(args, spec_path: Path, realtime: bool, latency_ms: float) -> dict:
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import Float64

    from lucid_ros.nodes import qos
    from lucid_ros.nodes.graph import SimGraph

    lock = threading.Lock()
    samples: list[float] = []  # seconds, in arrival order
    diags: dict[str, dict[str, str]] = {}
    load0 = load1()
    overrides = {"sim_bridge": {"camera_latency": latency_ms / 1000.0}}  # what `lucid-ros sim --camera-latency` sets
    with SimGraph(
        robot="go1", policy=spec_path, course=args.course, seed=args.seed, realtime=realtime, cmd_vel=tuple(args.cmd_vel), overrides=overrides
    ) as g:
        m = g.monitor

        def on_latency(msg: Float64) -> None:
            with lock:
                samples.append(msg.data)

        def on_diag(msg: DiagnosticArray) -> None:
            with lock:
                for s in msg.status:
                    diags[s.hardware_id] = {kv.key: kv.value for kv in s.values}

        m.create_subscription(Float64, "policy/camera_latency", on_latency, qos.SENSOR)
        m.create_subscription(DiagnosticArray, "diagnostics", on_diag, qos.DIAGNOSTICS)
        if not g.wait_for_state("RUNNING", wall_timeout=60):
            raise TimeoutError(f"never reached RUNNING: {g.monitor.events}")
        ls = g.sim.lockstep
        n0, misses0, t0, w0, k0 = len(ls.latencies), ls.misses, g.sim_time, time.perf_counter(), len(samples)
        g.run_for(args.seconds, wall_timeout=4 * args.seconds + 60)
        wall, t1, k1 = time.perf_counter() - w0, g.sim_time, len(samples)
        answers, misses = list(ls.latencies[n0:]), ls.misses - misses0
        g.wait_until(lambda: "step_p50_ms" in diags.get("policy_runner", {}), 3.0)  # the runner's first report, in a very short run
        render_ms = {s: round(v, 3) for src in getattr(g.sim, "camera_sources", []) for s, v in src.health().capture_ms.items() if v == v}
        state = g.state
        events = list(g.monitor.events)
    with lock:
        lat = samples[k0:k1]
        runner, camera = dict(diags.get("policy_runner", {})), dict(diags.get("camera", {}))
    expected = int(round((t1 - t0) * load_robot("go1").rate_hz))
    a = percentiles_ms(answers)
    return {
        "policy": Path(spec_path).stem, "mode": "realtime" if realtime else "lockstep", "camera_latency_ms": latency_ms,
        "capture_to_action_ms": {k: round(v, 2) for k, v in percentiles_ms(lat).items()}, "samples": len(lat), "policy_steps": expected,
        "runner_diag_capture_to_action_ms": {k: _diag_float(runner, f"capture_to_action_{k}") for k in ("p50_ms", "p99_ms", "max_ms")},
        "runner_diag_step_ms": {k: _diag_float(runner, f"step_{k}") for k in ("p50_ms", "p99_ms")},
        "runner_diag_inference_ms": {k: _diag_float(runner, f"inference_{k}") for k in ("p50_ms", "p99_ms")},
        "camera_capture_to_tensor_ms": {k: _diag_float(camera, f"capture_to_tensor_{k}") for k in ("p50_ms", "p99_ms")},
        "render_p50_ms": render_ms, "answer_ms": {k: round(v, 2) for k, v in a.items()},
        "deadline_misses": misses, "ticks": expected, "realtime_factor": round((t1 - t0) / wall, 2), "final_state": state,
        "events": events[-3:], "load": max(load0, load1()),
    }  # fmt: skip


# ---- summary -----------------------------------------------------------------------------------
def fmt(x: float, w: int = 8, p: int = 2) -> str:
    """Right-aligned in w characters (left-aligned for w < 0); '-' for NaN (nothing measured)."""
    a, w = ("<" if w < 0 else ">"), abs(w)
    return f"{x:{a}{w}.{p}f}" if x == x else f"{'-':{a}{w}}"


def summary(res: dict) -> str:
    out = [f"\nbench_vision: go1, course {res['course']} seed {res['seed']}, {res['cores']} cores, MUJOCO_GL={res['mujoco_gl']}, "
           f"policies: {res['policy_source']}"]  # fmt: skip
    if res.get("render"):
        out += ["", f"{'render (one frame, one thread)':<58}{'frames/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'load':>6}"]
        for r in res["render"]:
            out.append(f"  {r['what']:<56}{r['per_s']:9.1f}{fmt(r['p50_ms'])}{fmt(r['p99_ms'])}{fmt(r['max_ms'])}{r['load']:6.2f}")
    for p in res.get("policy", []):
        out += ["", f"{'policy ' + p['policy'] + ' (batch 1)':<76}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'load':>6}"]
        for r in p["rows"]:
            out.append(f"  {r['what']:<74}{fmt(r['p50_ms'], 8, 3)}{fmt(r['p99_ms'], 8, 3)}{fmt(r['max_ms'], 8, 3)}{r['load']:6.2f}")
        out.append(f"  ({p['provider']}; {p['ort_threads']} intra-op thread(s), as the runner opens it)")
    if res.get("graph"):
        out += ["", "camera -> action through the graph: policy/camera_latency (graph clock) | wall-clock costs the graph reports",
                f"  {'policy':<10}{'mode':<9}{'cam lat':>8}{'p50':>7}{'p99':>7}{'max':>7}{'n/steps':>11} |{'render':>7}{'cap->tensor':>13}"
                f"{'step p50/p99':>14}{'answer p50/p99':>16}{'rtf':>6}{'miss':>6}  {'state':<9}{'load':>5}"]  # fmt: skip
        notes = []
        for r in res["graph"]:
            if r["final_state"] != "RUNNING":
                notes.append(f"  {r['policy']} {r['mode']} {r['camera_latency_ms']:g} ms: {r['events'][-1] if r['events'] else r['final_state']}")
            c, rd = r["capture_to_action_ms"], r["render_p50_ms"]
            render = max(rd.values()) if rd else float("nan")
            ct, st, an = r["camera_capture_to_tensor_ms"], r["runner_diag_step_ms"], r["answer_ms"]
            out.append(f"  {r['policy']:<10}{r['mode']:<9}{r['camera_latency_ms']:6.0f}ms{fmt(c['p50_ms'], 7, 1)}{fmt(c['p99_ms'], 7, 1)}"
                       f"{fmt(c['max_ms'], 7, 1)}{r['samples']:>6}/{r['policy_steps']:<4} |{fmt(render, 7)}{fmt(ct['p50_ms'], 6)}/{fmt(ct['p99_ms'], -6)}"
                       f"{fmt(st['p50_ms'], 7)}/{fmt(st['p99_ms'], -6)}{fmt(an['p50_ms'], 8)}/{fmt(an['p99_ms'], -7)}{r['realtime_factor']:6.2f}"
                       f"{r['deadline_misses']:6d}  {r['final_state']:<9}{r['load']:5.2f}")  # fmt: skip
        out += [
            "  ms throughout. p50/p99/max: capture of the image the action used -> action published, graph clock (sim time; in lockstep it",
            "  moves in 20 ms ticks, so it shows the frame's age: 10 Hz camera, 50 Hz policy, plus the configured latency). render: the",
            "  sim camera's p50 per frame (wall); cap->tensor: frame ready -> policy tensor (camera node, wall); step: the runner's step",
            "  (diagnostics, wall); answer: sensors out -> joint_commands in (sim bridge, wall); miss: answers later than their tick.",
        ]
        if notes:
            out += ["  The runner steps (and the latency is measured) whatever the safety state; runs that left RUNNING:", *notes]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--course", default="hurdle")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=300, help="frames per render measurement")
    ap.add_argument("--steps", type=int, default=2000, help="calls per policy measurement")
    ap.add_argument("--seconds", type=float, default=20.0, help="sim seconds per graph run, once RUNNING")
    ap.add_argument("--modes", default="lockstep,realtime")
    ap.add_argument("--camera-latency", default="0,50,100", help="ms, comma-separated (the sim bridge's camera_latency)")
    ap.add_argument("--graph-policies", choices=("mixed", "first", "all"), default="mixed",
                    help="graph runs: every latency for the first policy and the first latency for the others (mixed), the first policy only, "
                         "or every latency for every policy")  # fmt: skip
    ap.add_argument("--baseline", default="go1_walk", help="a blind policy run in each mode beside the students: what the same graph costs "
                                                              "without a camera at this load ('none' to skip)")  # fmt: skip
    ap.add_argument("--cmd-vel", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 0.0, 0.0])
    ap.add_argument("--policy", action="append", type=Path, help="a student spec (repeatable); default: see below")
    ap.add_argument("--ort-threads", type=int, default=1, help="ONNX Runtime intra-op threads (the runner uses 1)")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        ap.error(f"--sections: unknown {bad}; choose from {list(SECTIONS)}")
    latencies = [float(x) for x in args.camera_latency.split(",") if x.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in ("lockstep", "realtime") for m in modes):
        ap.error(f"--modes: expected lockstep and/or realtime, got {args.modes!r}")
    robot = load_robot("go1")
    work = Path(tempfile.mkdtemp(prefix="bench_vision_"))
    if args.policy:
        policies, source = [p.expanduser().resolve() for p in args.policy], "given"
    elif set(sections) & {"policy", "graph"}:
        policies, source = default_policies(work)
    else:
        policies, source = [], "none"
    res: dict = {"course": args.course, "seed": args.seed, "cores": os.cpu_count(), "mujoco_gl": os.environ.get("MUJOCO_GL"),
                 "policy_source": source, "load_start": list(os.getloadavg()), "render": [], "policy": [], "graph": []}  # fmt: skip
    wall0 = time.monotonic()
    if "render" in sections:
        log(f"render: {args.frames} frames per stream and renderer, course {args.course} seed {args.seed}")
        res["render"] = bench_render(args, robot)
    if "policy" in sections:
        for p in policies:
            res["policy"].append(bench_policy(args, robot, p))
    if "graph" in sections:
        grid = [latencies if i == 0 or args.graph_policies == "all" else latencies[:1] for i in range(len(policies))]
        n_graph = 1 if args.graph_policies == "first" else len(policies)
        runs = [(p, m, lat) for p, lats in list(zip(policies, grid, strict=True))[:n_graph] for m in modes for lat in lats]
        if args.baseline != "none":
            runs += [(paths.resolve("policies", args.baseline), m, 0.0) for m in modes]
        for k, (p, m, lat) in enumerate(runs):
            log(f"graph {k + 1}/{len(runs)}: {p.stem}, {m}, camera latency {lat:g} ms, {args.seconds:g} s of sim")
            try:
                r = bench_graph(args, p, m == "realtime", lat)
            except (TimeoutError, RuntimeError) as exc:
                log(f"graph {p.stem} {m} {lat:g} ms: {exc}")
                r = {"policy": p.stem, "mode": m, "camera_latency_ms": lat, "error": str(exc)}
                res["graph"].append(r)
                continue
            c, a = r["capture_to_action_ms"], r["answer_ms"]
            log(f"  capture->action p50 {c['p50_ms']:.1f} ms p99 {c['p99_ms']:.1f} ms ({r['samples']} samples); answer p50 {a['p50_ms']:.1f} ms "
                f"p99 {a['p99_ms']:.1f} ms; {r['final_state']}, load {r['load']}")  # fmt: skip
            res["graph"].append(r)
    res["graph_failed"] = [r for r in res["graph"] if "error" in r]
    res["graph"] = [r for r in res["graph"] if "error" not in r]
    res["load_end"] = list(os.getloadavg())
    res["wall_s"] = round(time.monotonic() - wall0, 1)
    print(summary(res), flush=True)
    for r in res["graph_failed"]:
        print(f"  FAILED {r['policy']} {r['mode']} {r['camera_latency_ms']:g} ms: {r['error']}")
    print(f"\n{res['wall_s']:.0f} s wall; load average {os.getloadavg()[0]:.2f} (start {res['load_start'][0]:.2f})", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 1 if res["graph_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
