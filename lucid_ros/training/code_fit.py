"""Fit the RGB student's camera encoder to the depth student's image code, offline (issue 17).

    python -m lucid_ros.training.code_fit --collect-minutes 20 --fit-minutes 15 --out-dir runs/code_fit

The depth student's encoder turns a depth frame into a 64-number code that its controller (fusion,
GRU, head) reads; a colour frame of the same capture shows the same terrain. This tool:

1. drives the frozen depth student (`--depth-guide`; the teacher drives a `--beta` share of the
   steps) through the teacher's courses in the distillation env (DistillEnv: the same worlds,
   scene randomisation, renderer and preprocessing as `distill`), and at every capture keeps the
   depth frame's code and the colour frame, plus `--relit` more colour pictures of the same capture
   under newly drawn light and material tints (`SceneJitter.relight`: the camera pose is kept, so
   the depth frame, and the code, are the same);
2. fits a fresh RGB encoder (the Student's convs and image layer) to those codes (MSE, Adam),
   holding the last `--val-share` of the captures out and reporting how much of their code it
   explains (R^2) every 30 s; the encoder best on the held-out captures is kept;
3. writes `go1_rgb.onnx` / `.yaml` in `--out-dir`: the depth student's controller (grafted, as
   `distill --graft` does) behind the fitted encoder, the spec's `training:` saying all of it, and
   `code_fit.png` (R^2 over the fit).

Why offline: `distill --depth-guide` fits the code on the frames DAgger keeps (24 chunks, a few
thousand distinct captures) and its encoder overfitted them: measured on held-out captures it
explained 0.44 of the code while it explained 0.85 of the frames it trained on, and half the
captures gave half that. The encoder is short of distinct pictures; rendering is cheap next to
DAgger's updates. Go on with `distill --init-dir <out-dir> --depth-guide <the same guide>` (no
`--graft`: it is grafted).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from lucid_ros.errors import ConfigError, exit_status
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot
from lucid_ros.training.camera import JitterRanges
from lucid_ros.training.config import TrainConfig
from lucid_ros.training.distill import (
    DistillEnv,
    build_students,
    course_weights,
    export_student,
    load_guide,
    student_phases,
)
from lucid_ros.training.parkour import distill_config, recipe_of, teacher_env_config
from lucid_ros.training.phases import StopOnSignal, git_commit
from lucid_ros.training.ppo import torch_threads
from lucid_ros.training.student import HIDDEN, Student
from lucid_ros.training.train_walk import fmt_time
from lucid_ros.vision.preprocess import from_spec

DEFAULT_WEIGHTS = "gaps=2.5,parkour=3,hurdle=1.2,stairs_up=0.7,stairs_down=0.7"


class Pool:
    """The captures: the guide's code of each depth frame (N, LATENT) and its colour pictures
    (N, 1 + relit, H, W, 3) uint8, the first as the episode's scene shows it."""

    def __init__(self, codes: np.ndarray, colour: np.ndarray, source: Path | None = None):
        if codes.ndim != 2 or colour.ndim != 5 or len(codes) != len(colour) or colour.dtype != np.uint8 or colour.shape[-1] != 3:
            raise ConfigError(
                source,
                "codes/colour",
                f"codes {codes.shape} {codes.dtype} and colour {colour.shape} {colour.dtype}: want (N, code) and (N, pictures, H, W, 3) uint8",
            )
        self.codes, self.colour = codes.astype(np.float32), colour

    def __len__(self) -> int:
        return len(self.codes)

    def save(self, path: Path, guide_sha256: str) -> None:
        np.savez(path, codes=self.codes, colour=self.colour, guide_sha256=np.array(guide_sha256))

    @classmethod
    def load(cls, path: Path, guide_sha256: str) -> Pool:
        """The captures `save` wrote, refused unless their codes are the given guide's (sha256 of its spec)."""
        try:
            with np.load(path) as d:
                pool, sha = cls(d["codes"], d["colour"], path), str(d["guide_sha256"])
        except (OSError, ValueError, KeyError) as e:  # not a file, not an .npz, or not code_fit's
            raise ConfigError(path, None, f"not a pool of captures written by --save-pool ({e})") from e
        if sha != guide_sha256:
            raise ConfigError(path, "guide_sha256", f"its codes are another depth student's ({sha[:12]}…, --depth-guide is {guide_sha256[:12]}…)")
        return pool


def collect(
    env: DistillEnv, guide: Student, teacher_sess: ort.InferenceSession, teacher, seconds: float, beta: float, relit: int, seed: int
) -> tuple[Pool, int]:
    """Drive the guide (the teacher on a `beta` share of the steps) for `seconds` of wall time and
    keep every capture's code and colour pictures; returns them and the env steps taken."""
    depth_k, colour_k = env.streams.index("depth"), env.streams.index("color")
    rng = np.random.default_rng(seed + 7919)  # the relit draws and who drives, apart from the episodes' own
    depth_raw: list[np.ndarray] = []
    colour: list[np.ndarray] = []

    def on_capture(i: int, frames: list[np.ndarray]) -> None:
        pictures = [frames[colour_k]]
        for _ in range(relit):
            undo = env.jitter.relight(i, rng)
            try:
                pictures.append(env.camera.render(env.world_course[i], env.local_of[i], "color", env.jitter, env=i))
            finally:
                undo()
        depth_raw.append(frames[depth_k])
        colour.append(np.stack(pictures))
        env.renders += relit

    env.on_capture = on_capture
    n = env.n
    h = torch.zeros(1, n, HIDDEN)
    obs, _priv = env.reset_all()
    t0 = last = time.time()
    steps = 0
    with StopOnSignal("code_fit: collection") as stop:
        while time.time() - t0 < seconds and not stop.requested:
            imgs, ages = env.images(), env.image_ages()
            label = teacher_sess.run([teacher.action_output], {teacher.obs_input: obs.astype(np.float32)})[0]
            with torch.no_grad():
                a, h = guide.step(torch.from_numpy(env.student_obs[0]), torch.from_numpy(imgs[0]), h, torch.from_numpy(ages[0]))
            act = np.where((rng.random(n) < beta)[:, None], label, a.numpy()).astype(np.float64)
            obs, _priv, _rew, fell, timeout, _info = env.step(act)
            h[:, fell | timeout] = 0.0
            steps += n
            if time.time() - last >= 30.0:
                last = time.time()
                print(f"[code_fit] collecting: {len(colour)} captures, {steps} env steps, {fmt_time(last - t0)} of {fmt_time(seconds)}", flush=True)
    env.on_capture = None
    if not colour:
        raise RuntimeError("no capture was made: collect for longer")
    pre = env.histories[0].pre
    codes = []
    with torch.no_grad():
        for s in range(0, len(depth_raw), 1024):
            codes.append(guide.latent(torch.from_numpy(pre.transform(np.stack(depth_raw[s : s + 1024])).astype(np.float32))).numpy())
    return Pool(np.concatenate(codes), np.stack(colour)), steps


def fit(
    model: Student, pool: Pool, pre, seconds: float, val_share: float, lr: float, batch: int, seed: int,
    iterations: int | None = None, log_every: float = 30.0,
) -> dict:  # fmt: skip
    """Fit model's encoder to the pool's codes for `seconds` (or `iterations`, whichever ends
    first); the last `val_share` of the captures (in time) are held out and scored by their first
    (un-relit) picture, every `log_every` s and at the end. Leaves the encoder that was best on them
    in `model`; returns the curve and the best score."""
    n = len(pool)
    n_val = max(1, int(round(n * val_share)))
    if n - n_val < batch:
        raise ValueError(f"{n} captures: too few to hold {n_val} out and fit batches of {batch}")
    params = [*model.convs.parameters(), *model.img_fc.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    codes = torch.from_numpy(pool.codes)
    val_x = torch.from_numpy(pre.transform(pool.colour[n - n_val :, 0]).astype(np.float32))
    val_y = codes[n - n_val :]
    var = float(val_y.var(dim=0).mean())

    def score() -> float:
        with torch.no_grad():
            z = torch.cat([model.latent(val_x[s : s + 1024]) for s in range(0, n_val, 1024)])
        return 1.0 - float(torch.mean((z - val_y) ** 2)) / max(var, 1e-12)

    curve: list[dict] = []
    best = (score(), {k: v.clone() for k, v in model.state_dict().items()})
    t0 = time.time()
    it, next_log, train_r2 = 0, 0.0, float("nan")
    with StopOnSignal("code_fit: fit") as stop:
        while time.time() - t0 < seconds and not stop.requested and (iterations is None or it < iterations):
            idx = rng.integers(0, n - n_val, batch)
            pic = rng.integers(0, pool.colour.shape[1], batch)
            x = torch.from_numpy(pre.transform(pool.colour[idx, pic]).astype(np.float32))
            loss = torch.mean((model.latent(x) - codes[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            it += 1
            train_r2 = 1.0 - float(loss.detach()) / max(var, 1e-12)
            if time.time() - t0 >= next_log:
                next_log += log_every
                val = score()
                curve.append({"time_s": round(time.time() - t0, 1), "iterations": it, "train_r2": round(train_r2, 4), "val_r2": round(val, 4)})
                if val > best[0]:
                    best = (val, {k: v.clone() for k, v in model.state_dict().items()})
                print(
                    f"[code_fit] fit {fmt_time(time.time() - t0)}: it {it} R2 on its batches {train_r2:.3f}, held out {val:.3f} (best {best[0]:.3f})",
                    flush=True,
                )
    val = score()
    curve.append({"time_s": round(time.time() - t0, 1), "iterations": it, "train_r2": round(train_r2, 4), "val_r2": round(val, 4)})
    if val > best[0]:
        best = (val, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    return {"iterations": it, "batch": batch, "lr": lr, "val_captures": n_val, "val_r2_best": round(best[0], 4), "curve": curve}


def plot_fit(curve: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [c["time_s"] / 60.0 for c in curve]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t, [c["train_r2"] for c in curve], label="its own batches")
    ax.plot(t, [c["val_r2"] for c in curve], label="held-out captures")
    ax.set_xlabel("minutes of fitting")
    ax.set_ylabel("share of the depth code explained (R²)")
    ax.set_ylim(-0.2, 1.0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    pol = Path(__file__).resolve().parents[2] / "config" / "policies"
    p = argparse.ArgumentParser(prog="python -m lucid_ros.training.code_fit", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--depth-guide",
        type=Path,
        default=pol / "go1_depth.yaml",
        help="the depth student whose code the encoder learns and whose controller it gets",
    )
    p.add_argument("--teacher", type=Path, default=pol / "go1_teacher.yaml")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--collect-minutes", type=float, default=20.0)
    p.add_argument("--fit-minutes", type=float, default=15.0)
    p.add_argument("--fit-iterations", type=int, default=None, help="stop the fit after this many batches (or --fit-minutes, whichever comes first)")
    p.add_argument("--relit", type=int, default=3, help="more colour pictures of each capture, under new light and tints")
    p.add_argument("--beta", type=float, default=0.3, help="share of the steps the teacher drives (the rest: the depth student)")
    p.add_argument("--envs", type=int, default=60)
    p.add_argument("--latency-ms", type=float, default=140.0, help="camera latency drawn per episode (the depth student drives through it)")
    p.add_argument("--course-weights", type=course_weights, default=course_weights(DEFAULT_WEIGHTS), metavar="COURSE=F,...")
    p.add_argument("--val-share", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--save-pool", type=Path, default=None, help="write the captures (codes and colour pictures, .npz) here")
    p.add_argument("--pool", type=Path, default=None, help="fit on these saved captures instead of collecting")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.relit < 0 or not 0.0 < args.val_share < 0.5 or not 0.0 <= args.beta <= 1.0:
        p.error("--relit must be >= 0, --val-share in (0, 0.5), --beta in [0, 1]")
    command = "python -m lucid_ros.training.code_fit " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    t_start = time.time()
    commit = git_commit()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    robot = load_robot("go1")
    teacher = load_spec(args.teacher, robot)
    guide_spec = load_spec(args.depth_guide, robot)
    if not guide_spec.images or guide_spec.images[0].stream != "depth":
        raise ConfigError(args.depth_guide, "inputs.images", "--depth-guide must be a depth student (one image input, stream depth)")
    camera = guide_spec.images[0].camera
    cfg = TrainConfig(seed=args.seed, nthread=args.threads, env=teacher_env_config(args.envs, recipe_of(teacher)))
    work = Path(tempfile.mkdtemp(prefix="lucid_code_fit_"))
    specs, models = build_students(robot, cfg, teacher, work, None, camera, guide_spec.images[0].age is not None, guided=True)
    guide = load_guide(args.depth_guide, specs[0], models, graft=True)
    guide_model, rgb = models
    guide_model.eval()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.pool is not None:
        pool = Pool.load(args.pool, guide.sha256)
        collected = {"pool": str(args.pool)}
        print(f"[code_fit] {len(pool)} captures from {args.pool}", flush=True)
    else:
        pk = distill_config(teacher, args.course_weights)
        env = DistillEnv(
            robot, teacher, specs, cfg.env, pk, seed=args.seed, nthread=args.threads, latency_max_steps=int(round(args.latency_ms / 20.0))
        )
        sess = ort.InferenceSession(str(teacher.onnx_path), providers=["CPUExecutionProvider"])
        print(
            f"[code_fit] collecting {args.collect_minutes:g} min: {env.n} envs in {len(env.worlds)} worlds through '{camera}', {args.relit} relit pictures per capture",
            flush=True,
        )
        t0 = time.time()
        pool, steps = collect(env, guide_model, sess, teacher, args.collect_minutes * 60.0, args.beta, args.relit, args.seed)
        collected = {
            "minutes": round((time.time() - t0) / 60.0, 1), "env_steps": steps, "captures": len(pool), "renders": env.renders, "relit": args.relit, "beta": args.beta,
            "envs": env.n, "courses": [c.name for c in env.courses], "course_weights": args.course_weights,
            "camera_latency_ms": [0.0, args.latency_ms], "scene_randomisation": json.loads(json.dumps(JitterRanges().__dict__)),
        }  # fmt: skip
        print(f"[code_fit] {len(pool)} captures, {env.renders} renders in {fmt_time(time.time() - t0)}", flush=True)
        if args.save_pool is not None:
            pool.save(args.save_pool, guide.sha256)
            print(f"[code_fit] captures written to {args.save_pool}", flush=True)
    with torch_threads(args.threads):
        result = fit(rgb, pool, from_spec(specs[1], 0), args.fit_minutes * 60.0, args.val_share, args.lr, args.batch, args.seed, args.fit_iterations)
    wall = time.time() - t_start
    curve = result.pop("curve")
    training = {
        "tool": "lucid_ros.training.code_fit (the depth student's controller; an RGB encoder fitted to its image code, offline)",
        "command": command, "seed": args.seed, "git_commit": commit, "wall_time_s": round(wall, 1), "iterations": result["iterations"],
        "env_steps": collected.get("env_steps", 0), "init": "fresh encoder; controller grafted from the guide", "teacher": teacher.path.name, "teacher_sha256": teacher.sha256,
        "stream": "color", "camera": camera,
        "depth_guide": {"spec": guide.path.name, "sha256": guide.sha256, "graft": True, **result},
        "collection": collected,
    }  # fmt: skip
    training.update(student_phases([], training))
    out = export_student(rgb, specs[1], args.out_dir / "go1_rgb", training)
    plot_fit(curve, args.out_dir / "code_fit.png")
    (args.out_dir / "code_fit.json").write_text(json.dumps({"curve": curve, **result}, indent=1))
    print(
        f"[code_fit] wrote {out.onnx_path} and {out.path}: held-out R2 {result['val_r2_best']:.3f} after {result['iterations']} iterations; "
        f"curve {args.out_dir / 'code_fit.png'}; done in {fmt_time(wall)}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as exc:
        sys.exit(exit_status(exc, "code_fit"))
