"""Which half of an RGB student fails in closed loop: its picture-to-code half or its controller (issue 17).

    python -m lucid_ros.training.closed_loop --student runs/carry/go1_rgb_draw/go1_rgb.yaml \\
        --depth-guide runs/carry/go1_depth_color_view/go1_depth.yaml --courses hurdle --out-dir runs/closed_loop

An RGB student fitted to a depth student's image code (`code_fit`, `distill --depth-guide`) turns
its colour frame into a code in the guide's code space and acts on it with a controller that
started as the guide's. Held-out R² on captures the guide drove says how well it reads frames the
guide sees; it does not say what happens where the student's own mistakes take it. This tool drives
the same seeded worlds (distill's DistillEnv: the teacher's courses at their training levels, the
same renderer, scene randomisation and preprocessing) four times, every env starting at its
course's start on the same command:

- `student`: the student as it runs on the robot (its controller on its code of the colour frame);
- `student_on_guide_code`: the student's controller on the guide's code of the depth frame of the
  same capture (a perfect picture-to-code half);
- `guide`: the depth student as it is;
- `guide_on_student_code`: the guide's controller on the student's code (the student's picture
  half behind a controller that never adapted to it).

If the two rows on the guide's code cross what the guide crosses and the two on the student's code
do not, the picture half is what fails. Per driver: each env's first episode (sim.outcome's names:
succeeded, fell, stuck, bypassed, timed_out; obstacles crossed of those ahead), and along the
driver's own trajectories how much of the guide's code the student's code explains (R², against the
variance of the guide's code along the guide's own drives), moving and standing (trunk slower than
`STILL_MPS`): a student that stops in front of a hurdle stops where its code is wrong, and a
standing camera brings no new picture to correct it. Writes closed_loop.json, closed_loop.md and,
for the `student` driver, stood.png: the colour frame, the guide's depth frame and (a student that
draws depth) its drawing where it stood longest.

Measured on 2026-12-07 in docs/training.md, "The RGB student's picture half fails in closed loop".
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from lucid_ros.errors import ConfigError, exit_status
from lucid_ros.paths import config_dir
from lucid_ros.policy.spec import PolicySpec, load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.training.config import TrainConfig
from lucid_ros.training.distill import COLOR_PREPROCESS, DistillEnv, build_students, init_stack, load_guide, read_guide
from lucid_ros.training.parkour import DISTANCE_BINS, distance_ahead, distill_config, recipe_of, teacher_env_config
from lucid_ros.training.phases import git_commit
from lucid_ros.training.student import HIDDEN, Student, onnx_channels, onnx_draws, onnx_memory, student_from_onnx
from lucid_ros.training.train_walk import fmt_time

DRIVERS = ("student", "student_on_guide_code", "guide", "guide_on_student_code")
# The student's controller on the guide's code only near an obstacle (`--near` m before it to NEAR_PAST
# past its far end), its own code elsewhere; and the reverse: which frames decide a crossing.
WINDOWED = ("student_on_guide_code_near", "student_on_own_code_near")
STILL_MPS = 0.2  # a trunk slower than this (m/s along x) is standing: no new picture of what is ahead
OUTCOMES = ("succeeded", "fell", "stuck", "bypassed", "timed_out")


@dataclass
class Drive:
    """One driver's run: each env's first episode and the codes along every step."""

    driver: str
    outcome: list[str]
    crossed: list[int]
    ahead: list[int]
    course: list[str]
    spawn_x: np.ndarray
    end_x: np.ndarray
    err: np.ndarray  # (T, n) mean squared difference between the student's and the guide's code per step
    guide_code: np.ndarray  # (T, n, LATENT)
    still: np.ndarray  # (T, n) the trunk stood (vx < STILL_MPS) at that step
    live: np.ndarray  # (T, n) the step belongs to the env's first episode (the statistics count only those)
    to_next: np.ndarray  # (T, n) m from the trunk to the next obstacle's start (negative on it; inf past the last)
    frames: dict = field(default_factory=dict)  # env -> (colour, depth, drawn or None, steps stood) where it stood longest


def episode_outcome(ended_by: dict[str, bool], fell: bool) -> str:
    """sim.outcome's name for how an episode that ended at this step ended (ParkourEnv.ended_by's
    flags for the env, and whether the env called it a fall)."""
    if ended_by["goal"]:
        return "succeeded"
    if ended_by["stuck"]:
        return "stuck"
    if ended_by["off_line"]:
        return "bypassed"
    return "fell" if fell else "timed_out"


def obstacles_crossed(obstacles, spawn_x: float, end_x: float) -> tuple[int, int]:
    """(crossed, ahead): of the obstacles that start ahead of the spawn, how many the trunk passed
    the far end of (sim.outcome's crossing, along x)."""
    ahead = [o for o in obstacles if o.x0 > spawn_x]
    return sum(1 for o in ahead if end_x > o.x1), len(ahead)


def near_obstacle(x: np.ndarray, courses: list, before: float) -> np.ndarray:
    """(n,) whether each env's trunk x is within `before` m of an obstacle's start to NEAR_PAST past its end."""
    return distance_ahead(x, courses) <= before  # the nearest start not yet left (NEAR_PAST past its end) is within `before`


def drive(
    env: DistillEnv, guide: Student, student: Student, driver: str, steps: int, vx: float, keep_frames: bool = False, near_m: float = 0.4
) -> Drive:
    """Run `driver` (one of DRIVERS) on `env` from its reset for `steps` steps or until every env's
    first episode has ended, every env on forward command `vx`, steered back to its line as the
    success table's operator does. The WINDOWED drivers switch codes by the trunk's x: near an
    obstacle is from `near_m` before its start to NEAR_PAST past its end."""
    if driver not in (*DRIVERS, *WINDOWED):
        raise ValueError(f"driver {driver!r}: expected one of {DRIVERS + WINDOWED}")
    env.reset_all()
    n = env.n
    env.t_limit[:] = env.cfg.episode_s  # the first episodes end at random times in training (desync): not here
    env.command[:] = 0.0
    env.command[:, 0] = vx
    env.steered[:] = True
    env.cmd_timer[:] = np.inf  # the command holds for the first episode
    env._observe(env.state)  # the first step's observation with this command
    spawn_x = env.state["pos"][:, 0].copy()
    courses = [env.courses[int(c)] for c in env.course_of]
    h = {"guide": torch.zeros(1, n, HIDDEN), "student": torch.zeros(1, n, HIDDEN)}  # the controllers' states
    h["memory"] = student.zero_state(n)[..., HIDDEN:]  # a student's code memory (empty without one): on its own frames, whoever drives
    outcome: list[str | None] = [None] * n
    end_x = np.zeros(n)
    err, codes, still, live, to_next = [], [], [], [], []
    stood = np.zeros(n, dtype=int)  # steps stood in a row, per env, in its first episode
    longest = np.zeros(n, dtype=int)
    frames: dict[int, tuple] = {}
    on_guide = driver in ("guide", "student_on_guide_code")
    by_student = driver.startswith("student")
    for _ in range(steps):
        imgs, ages = env.images(), env.image_ages()
        ahead = distance_ahead(env.state["pos"][:, 0], courses)
        with torch.no_grad():
            zg = guide.latent(torch.from_numpy(imgs[0]))
            zs, h["memory"] = student.remember(
                torch.from_numpy(env.student_obs[1]),
                student.latent(torch.from_numpy(imgs[1])),
                h["memory"],
                torch.from_numpy(ages[1]) if student.age else None,
            )
            if driver in WINDOWED:
                near = torch.from_numpy(ahead <= near_m)[:, None]  # near_obstacle, from this step's distances
                z = torch.where(near, zg, zs) if driver == "student_on_guide_code_near" else torch.where(near, zs, zg)
            else:
                z = zg if on_guide else zs
            if by_student:
                a, h["student"] = student._core(
                    torch.from_numpy(env.student_obs[1]), z, h["student"], torch.from_numpy(ages[1]) if student.age else None
                )
            else:
                a, h["guide"] = guide._core(torch.from_numpy(env.student_obs[0]), z, h["guide"], torch.from_numpy(ages[0]) if guide.age else None)
        vel = env.state["vel_w"][:, 0]
        standing = vel < STILL_MPS
        err.append(torch.mean((zs - zg) ** 2, dim=1).numpy())
        codes.append(zg.numpy())
        still.append(standing)
        to_next.append(ahead)
        first = np.array([o is None for o in outcome])
        live.append(first)
        stood = np.where(standing & first, stood + 1, 0)
        if keep_frames:
            for i in np.flatnonzero(stood > longest):
                drawn = None if student.drawer is None else student.draw_and_code(torch.from_numpy(imgs[1][i : i + 1]))[0][0].detach().numpy()
                frames[int(i)] = (imgs[1][i].copy(), imgs[0][i].copy(), drawn, int(stood[i]))
        longest = np.maximum(longest, stood)
        _obs, _priv, _rew, fell, timeout, _info = env.step(a.numpy().astype(np.float64))
        done = fell | timeout
        for i in np.flatnonzero(done & first):
            outcome[i] = episode_outcome({k: bool(v[i]) for k, v in env.ended_by.items()}, bool(fell[i]))
            end_x[i] = env.end_x[i]
        for k in h:
            h[k][:, done] = 0.0
        if all(o is not None for o in outcome):
            break
    for i in range(n):
        if outcome[i] is None:  # still going when the steps ran out
            outcome[i], end_x[i] = "timed_out", env.state["pos"][i, 0]
    counted = [obstacles_crossed(c.obstacles, spawn_x[i], end_x[i]) for i, c in enumerate(courses)]
    return Drive(
        driver, [str(o) for o in outcome], [c[0] for c in counted], [c[1] for c in counted], [c.name for c in courses], spawn_x, end_x,
        np.array(err), np.array(codes), np.array(still), np.array(live), np.array(to_next), frames,
    )  # fmt: skip


def summary(drives: list[Drive]) -> dict:
    """Per driver: outcomes of the first episodes, obstacles crossed of those ahead, and the share of
    the guide's code the student's explains along its trajectories (all, moving, standing), each
    against the variance of the guide's code along the guide's own drives (or the first drive's);
    all over the steps of each env's first episode, the one judged."""
    ref = next((d for d in drives if d.driver == "guide"), drives[0])
    var = float(ref.guide_code[ref.live].var(axis=0).mean())
    out = {}
    for d in drives:
        r2 = lambda m, d=d: None if not (m & d.live).any() else round(1.0 - float(d.err[m & d.live].mean()) / max(var, 1e-12), 3)  # noqa: E731
        out[d.driver] = {
            "episodes": len(d.outcome),
            "outcomes": {k: v for k, v in Counter(d.outcome).items()},
            "succeeded": sum(o == "succeeded" for o in d.outcome),
            "obstacles_crossed": int(sum(d.crossed)),
            "obstacles_ahead": int(sum(d.ahead)),
            "code_r2": r2(np.ones_like(d.still)),
            "code_r2_moving": r2(~d.still),
            "code_r2_standing": r2(d.still),
            "standing_share": round(float(d.still[d.live].mean()), 3),
            "code_r2_by_distance": {name: r2((d.to_next >= lo) & (d.to_next < hi)) for name, lo, hi in DISTANCE_BINS},
        }
    return out


def table(result: dict) -> str:
    rows = [
        "| driver | succeeded | obstacles crossed | fell | stuck | bypassed | timed out | code R² (all / moving / standing) | steps standing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in result.items():
        o = s["outcomes"]
        rows.append(
            f"| {name} | {s['succeeded']}/{s['episodes']} | {s['obstacles_crossed']}/{s['obstacles_ahead']} | {o.get('fell', 0)} | {o.get('stuck', 0)} | "
            f"{o.get('bypassed', 0)} | {o.get('timed_out', 0)} | {s['code_r2']} / {s['code_r2_moving']} / {s['code_r2_standing']} | {s['standing_share']:.0%} |"
        )
    rows += ["", "| driver | " + " | ".join(f"code R², {name}" for name, _, _ in DISTANCE_BINS) + " |", "|---|" + "---|" * len(DISTANCE_BINS)]
    for name, s in result.items():
        rows.append(f"| {name} | " + " | ".join(str(s["code_r2_by_distance"][b]) for b, _, _ in DISTANCE_BINS) + " |")
    return "\n".join(rows) + "\n"


def plot_stood(frames: dict, path: Path, count: int = 6) -> None:
    """Where the student stood longest: its colour frame (de-normalised), the guide's depth frame and its drawing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lucid_ros.vision.preprocess import IMAGENET_MEAN, IMAGENET_STD

    shown = sorted(frames.items(), key=lambda kv: -kv[1][3])[:count]
    if not shown:
        return
    cols = 3
    fig, ax = plt.subplots(len(shown), cols, figsize=(2.6 * cols, 1.6 * len(shown)), squeeze=False)
    mean, std = np.array(IMAGENET_MEAN)[:, None, None], np.array(IMAGENET_STD)[:, None, None]
    for r, (env, (colour, depth, drawn, stood)) in enumerate(shown):
        ax[r, 0].imshow(np.clip(colour[-3:] * std + mean, 0.0, 1.0).transpose(1, 2, 0))
        ax[r, 0].set_title(f"env {env}: colour (stood {stood * 0.02:.1f} s)", fontsize=7)
        ax[r, 1].imshow(depth[-1], vmin=-0.5, vmax=0.5)
        ax[r, 1].set_title("guide's depth frame", fontsize=7)
        if drawn is not None:
            ax[r, 2].imshow(np.clip(drawn[0], -0.5, 0.5), vmin=-0.5, vmax=0.5)
            ax[r, 2].set_title("student's drawing", fontsize=7)
    for a in ax.ravel():
        a.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def check_pair(student: PolicySpec, guide: PolicySpec) -> None:
    """ConfigError unless `student` is a colour student whose code is the guide's (its spec's
    training.depth_guide names the guide's ONNX by sha256) through the guide's camera mount: only
    then does each controller read the other's code."""
    img = student.images[0] if student.images else None
    if img is None or img.stream != "color":
        raise ConfigError(student.path, "inputs.images", "--student must be an RGB student (one image input, stream color)")
    if img.camera != guide.images[0].camera:
        raise ConfigError(student.path, "inputs.images[0].camera", f"is '{img.camera}'; the guide sees through '{guide.images[0].camera}'")
    fitted = (student.training.get("depth_guide") or {}).get("sha256")
    if fitted != guide.sha256:
        said = "was fitted to no depth guide" if fitted is None else f"was fitted to another depth student's code ({str(fitted)[:12]}…)"
        raise ConfigError(
            student.path, "training.depth_guide.sha256",
            f"{said}; --depth-guide {guide.path.name} is {guide.sha256[:12]}…: its controller does not read this student's code",
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    pol = config_dir() / "policies"
    p = argparse.ArgumentParser(
        prog="python -m lucid_ros.training.closed_loop",
        description="Drive an RGB student, its depth guide, and each controller on the other's image code over the same seeded courses.",
    )
    p.add_argument("--student", type=Path, required=True, help="the RGB student's spec (fitted to --depth-guide's code)")
    p.add_argument("--depth-guide", type=Path, required=True, help="the depth student whose code it was fitted to")
    p.add_argument("--teacher", type=Path, default=pol / "go1_teacher.yaml", help="whose courses and levels (its recipe's)")
    p.add_argument("--courses", default="hurdle", help="comma-separated courses of the teacher's recipe (e.g. hurdle,gaps)")
    p.add_argument("--envs", type=int, default=28, help="envs per driver (split evenly over the courses' levels)")
    p.add_argument("--seconds", type=float, default=30.0, help="episode time limit (s)")
    p.add_argument("--vx", type=float, default=0.5, help="forward command (m/s)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="camera latency drawn per episode, up to this")
    p.add_argument("--drivers", default=",".join(DRIVERS), help=f"which of {','.join(DRIVERS + WINDOWED)}")
    p.add_argument("--near", type=float, default=0.4, help="the windowed drivers' window: m before an obstacle's start")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out-dir", type=Path, required=True)
    args = p.parse_args(argv)
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    bad = [d for d in drivers if d not in DRIVERS + WINDOWED]
    if bad or not drivers:
        p.error(f"--drivers {args.drivers!r}: each must be one of {', '.join(DRIVERS + WINDOWED)}")
    if args.envs < 1 or not args.seconds > 0 or not args.vx > 0 or not args.near >= 0:
        p.error("--envs must be >= 1, --seconds and --vx > 0, --near >= 0")
    command = "python -m lucid_ros.training.closed_loop " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    torch.set_num_threads(1)
    robot = load_robot("go1")
    teacher = load_spec(args.teacher, robot)
    guide_spec = read_guide(args.depth_guide)
    student_spec = load_spec(args.student, robot)
    check_pair(student_spec, guide_spec)
    pk = distill_config(teacher)
    names = [c.strip() for c in args.courses.split(",") if c.strip()]
    known = [name for name, _ in pk.groups()]
    if not names or any(c not in known for c in names):
        p.error(f"--courses {args.courses!r}: each must be one of {', '.join(known)}")
    # every level of the named courses gets envs alike; the rest none (a share too small to get one)
    pk = replace(pk, shares={k: tuple((1.0 if k in names else 1e-9) for _ in v) for k, v in pk.shares.items()}, start_share=1.0)
    cfg = TrainConfig(seed=args.seed, nthread=args.threads, env=replace(teacher_env_config(args.envs, recipe_of(teacher)), episode_s=args.seconds))
    work = Path(tempfile.mkdtemp(prefix="lucid_closed_loop_"))
    specs, models = build_students(
        robot, cfg, teacher, work, None, guide_spec.images[0].camera, guide_spec.images[0].age is not None, guided=True,
        depth_pre=guide_spec.images[0].preprocess,
        channels={"depth": onnx_channels(guide_spec.onnx_path), "color": onnx_channels(student_spec.onnx_path)},
        color_pre={**COLOR_PREPROCESS, "stack": init_stack(args.student)}, draw_color=onnx_draws(student_spec.onnx_path),
        memory=onnx_memory(student_spec.onnx_path),
    )  # fmt: skip
    load_guide(guide_spec, specs[0], models, graft=False)
    guide, student = models
    student_from_onnx(student, student_spec.onnx_path)
    guide.eval()
    student.eval()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    drives = []
    t_start = time.time()
    for d in drivers:
        t0 = time.time()
        env = DistillEnv(
            robot, teacher, specs, cfg.env, pk, seed=args.seed, nthread=args.threads, latency_max_steps=int(round(args.latency_ms / 20.0))
        )
        print(f"[closed_loop] {d}: {env.n} envs on {', '.join(names)} from the courses' start, {args.seconds:g} s at {args.vx:g} m/s ...", flush=True)
        drives.append(drive(env, guide, student, d, int(round(args.seconds / env.dt)) + 1, args.vx, keep_frames=d == "student", near_m=args.near))
        s = summary([drives[-1]])[d]
        print(
            f"[closed_loop] {d}: {s['succeeded']}/{s['episodes']} succeeded, obstacles {s['obstacles_crossed']}/{s['obstacles_ahead']}, "
            f"{dict(s['outcomes'])} ({fmt_time(time.time() - t0)})",
            flush=True,
        )
    result = summary(drives)
    doc = {
        "command": command, "git_commit": git_commit(), "student": str(args.student), "student_sha256": student_spec.sha256,
        "depth_guide": str(args.depth_guide), "guide_sha256": guide_spec.sha256, "courses": names, "envs": len(drives[0].outcome),
        "seconds": args.seconds, "vx": args.vx, "near_m": args.near, "latency_ms": args.latency_ms, "seed": args.seed, "still_mps": STILL_MPS, "drivers": result,
        "episodes": {d.driver: [{"course": c, "spawn_x": round(float(x0), 2), "end_x": round(float(x1), 2), "outcome": o, "crossed": k, "ahead": a}
                                for c, x0, x1, o, k, a in zip(d.course, d.spawn_x, d.end_x, d.outcome, d.crossed, d.ahead, strict=True)] for d in drives},
    }  # fmt: skip
    (args.out_dir / "closed_loop.json").write_text(json.dumps(doc, indent=1))
    md = f"# Closed loop: {args.student.name} and its depth guide on {', '.join(names)}\n\n`{command}`\n\n{table(result)}"
    (args.out_dir / "closed_loop.md").write_text(md)
    student_drive = next((d for d in drives if d.driver == "student"), None)
    if student_drive is not None:
        plot_stood(student_drive.frames, args.out_dir / "stood.png")
    print(table(result), flush=True)
    print(f"[closed_loop] wrote {args.out_dir / 'closed_loop.json'} and closed_loop.md in {fmt_time(time.time() - t_start)}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as exc:
        sys.exit(exit_status(exc, "closed_loop"))
