"""Train the privileged parkour teacher: the walking policy plus terrain heights, fine-tuned by PPO
on the shipped courses at every difficulty level.

    python -m lucid_ros.training.train_teacher --minutes 75 --out config/policies/go1_teacher

Warm start: the actor starts as config/policies/go1_walk.onnx (weights and observation normaliser
read back from the ONNX file, so the run needs nothing outside the repo), with zero weights on the
new height-scan inputs: at iteration 0 the teacher walks exactly like the blind policy, and PPO
only has to learn what to do with what it now sees. A fresh critic is trained alone for the first
--critic-warmup iterations before the actor moves. Writes <out>.onnx, <out>.yaml (spec with
`training:`) and <out>_training.png; progress lines go to stdout.
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
import onnx
import torch
from onnx import numpy_helper

from lucid_ros.paths import config_dir
from lucid_ros.policy.spec import PolicySpec, load_spec
from lucid_ros.robots.description import RobotDescription, load_robot
from lucid_ros.training.config import TrainConfig
from lucid_ros.training.env import PRIV_DIM
from lucid_ros.training.export import actor_to_onnx, write_spec
from lucid_ros.training.parkour import RECIPES, SCAN_TERM, SCAN_X, SCAN_Y, ParkourEnv, parkour_config, teacher_env_config, teacher_spec_dict
from lucid_ros.training.phases import Phases, keep_phase_start
from lucid_ros.training.ppo import PPO, ActorCritic
from lucid_ros.training.train_walk import fmt_time, plot_curve, ppo_loop, trot_generator


def export_teacher(model: ActorCritic, robot: RobotDescription, cfg: TrainConfig, out_prefix: Path, training: dict) -> PolicySpec:
    onnx_path = actor_to_onnx(model, out_prefix.with_suffix(".onnx"))
    spec = teacher_spec_dict(robot, cfg.obs, name=out_prefix.name)
    spec["training"] = training
    write_spec(spec, onnx_path, out_prefix.with_suffix(".yaml"))
    return load_spec(out_prefix.with_suffix(".yaml"), robot)


def teacher_obs_dim(robot: RobotDescription, cfg: TrainConfig) -> int:
    """Observation width of the teacher spec (term sizes x their history); export checks it against the spec."""
    sizes = {"base_ang_vel": 3, "projected_gravity": 3, "velocity_command": 3, "gait_phase": 2}
    count = lambda lo, hi, step: len(np.arange(lo, hi + step / 2, step))  # noqa: E731 - the spec's stop-inclusive grid
    frame = sum(
        sizes.get(t["name"], robot.n_joints) for t in teacher_spec_dict(robot, cfg.obs, "probe")["observation"]["terms"] if t["name"] != "height_scan"
    )
    return frame * cfg.obs.history + count(*SCAN_X) * count(*SCAN_Y) * SCAN_TERM.get("history", cfg.obs.history)


def warm_start(model: ActorCritic, onnx_path: Path, init_std: float) -> int:
    """Copy a shipped MLP actor (actor_to_onnx's layout) into `model`, whose observation extends
    the shipped one at its end; the extra inputs get zero weights. Returns the shipped input width."""
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_path)).graph.initializer}
    linears = [m for m in model.actor if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for k, lin in enumerate(linears):
            w, b = torch.from_numpy(inits[f"w{k}"].copy()), torch.from_numpy(inits[f"b{k}"].copy())
            if k == 0:
                if w.shape[1] > lin.in_features:
                    raise ValueError(f"{onnx_path}: the shipped actor reads {w.shape[1]} inputs, more than the new {lin.in_features}")
                lin.weight.zero_()
                lin.weight[:, : w.shape[1]] = w
            else:
                if tuple(w.shape) != tuple(lin.weight.shape):
                    raise ValueError(f"{onnx_path}: layer {k} is {tuple(w.shape)}, the new actor's is {tuple(lin.weight.shape)}")
                lin.weight.copy_(w)
            lin.bias.copy_(b)
        n_old = inits["w0"].shape[1]
        norm = model.obs_norm
        norm.mean[:n_old] = torch.from_numpy(inits["norm_mean"][0].copy())
        norm.var[:n_old] = torch.from_numpy(inits["norm_std"][0].copy()).square() - norm.eps
        norm.count.fill_(1e5)  # the shipped statistics count; new inputs start at (0, 1) and adapt
        model.log_std.fill_(float(np.log(init_std)))
    return n_old


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=config_dir() / "policies" / "go1_teacher")
    p.add_argument("--init", type=Path, default=config_dir() / "policies" / "go1_walk.onnx", help="blind actor to start from")
    p.add_argument("--minutes", type=float, default=75.0)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--envs", type=int, default=504)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--critic-warmup", type=int, default=10)
    p.add_argument("--resume", type=Path, default=None,
                   help="continue a run from its checkpoint (a training that spans sessions: each phase is recorded in the spec)")  # fmt: skip
    p.add_argument("--checkpoint", type=Path, default=None, help="where the run's checkpoint goes (default: go1_teacher.pt in its workdir)")
    p.add_argument("--total-minutes", dest="total_minutes", type=float, default=None,
                   help="the whole run's planned minutes over all phases, for the curriculum clock (default: --minutes)")  # fmt: skip
    p.add_argument("--init-std", type=float, default=0.3)
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--recipe", choices=RECIPES, default="climb",
                   help="climb: the shipped teacher's reward; jump: goal-velocity, stall and edge terms, no gait terms, no zero clip (issue 17)")  # fmt: skip
    args = p.parse_args(argv)
    command = "python -m lucid_ros.training.train_teacher " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="lucid_teacher_"))
    checkpoint = args.checkpoint if args.checkpoint is not None else work / "go1_teacher.pt"
    run = Phases(command, keep_phase_start(args.resume, checkpoint), args.minutes, args.total_minutes, tag="train_teacher")
    t_start, commit = run.t_start, run.commit
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    cfg = TrainConfig(iterations=args.iterations, seed=args.seed, nthread=args.threads, env=teacher_env_config(args.envs, args.recipe))
    cfg.time_budget_s = args.minutes * 60.0
    cfg.ppo.lr = 1e-4  # fine-tuning: start low, the KL schedule raises it if the steps are small
    robot = load_robot("go1")
    obs_dim = teacher_obs_dim(robot, cfg)
    model = ActorCritic(obs_dim, PRIV_DIM, robot.n_joints, cfg.ppo)
    spec = export_teacher(model, robot, cfg, work / "go1_teacher", {})
    if spec.obs_dim != obs_dim:
        raise RuntimeError(f"teacher spec observation {spec.obs_dim} != network input {obs_dim}")
    model.tg = trot_generator(spec, robot, cfg.obs)
    if run.resume is not None:
        run.load(model)
        print(f"[train_teacher] workdir {work}", flush=True)
    else:
        n_old = warm_start(model, args.init, args.init_std)
        print(f"[train_teacher] warm start from {args.init}: {n_old} of {obs_dim} inputs carried over; workdir {work}", flush=True)
    spec = export_teacher(model, robot, cfg, work / "go1_teacher", {})
    pk = parkour_config(args.recipe)
    env = ParkourEnv(robot, spec, cfg.env, pk, seed=args.seed, nthread=args.threads)
    if run.env_state:
        kept = env.load_state_dict(run.env_state)
        print(
            f"[train_teacher] curriculum levels {'carried over from the checkpoint' if kept else 'restarted: the checkpoint has another env layout'}",
            flush=True,
        )
    print(f"[train_teacher] {len(env.worlds)} worlds: " + ", ".join(f"{c.name}{dict(c.drawn).get(k, '')}" for c, k in _labels(env)), flush=True)
    ppo = PPO(model, cfg.ppo, torch.Generator().manual_seed(args.seed))

    run_history: list[dict] = []  # ppo_loop appends to it: a snapshot holds the curve so far

    def snapshot(it: int, steps: int) -> None:
        run.save(checkpoint, model, it, steps, run_history, cfg.as_dict(), env.state_dict())
        totals = run.totals(it, steps)
        export_teacher(model, robot, cfg, checkpoint.parent / "go1_teacher_latest", {"iteration": totals["iterations"], "steps": totals["steps"]})

    history, it, steps = ppo_loop(
        env, model, ppo, cfg, args.minutes * 60.0, args.log_every, "train_teacher", snapshot, t_start,
        critic_only_iters=0 if run.resume is not None else args.critic_warmup, curriculum_s=run.curriculum_s, history_out=run_history,
    )  # fmt: skip
    snapshot(it, steps)
    fields = run.training_fields(it, steps)  # totals over the phases, and the phases
    phases = fields.pop("phases", None)
    wall = time.time() - t_start
    last = history[-20:]
    final = {k: round(float(np.mean([h[k] for h in last])), 4) for k in ("ep_return", "ep_len_s", "falls_per_min", "err_vx")}
    training = {
        "tool": "lucid_ros.training.train_teacher (PPO fine-tune of go1_walk with privileged height_scan)",
        "command": command,
        "seed": args.seed,
        "git_commit": commit,
        **fields,
        "n_envs": env.n,
        "recipe": args.recipe,
        **(
            {"curriculum": {"levels_at_end": env.levels(), "demote_below": pk.demote_below, "course_shares": pk.course_shares}}
            if pk.curriculum
            else {}
        ),
        "init": str(args.init.name) if run.resume is None else f"resumed from {run.resume}",
        "courses": [f"{c.name} (variant {c.variant}: {dict(c.drawn)})" for c in env.courses],
        "final_metrics_last_20_iterations": final,
        **({"phases": phases} if phases else {}),
        "config": json.loads(json.dumps(cfg.as_dict())),
    }
    spec = export_teacher(model, robot, cfg, args.out, training)
    png = args.out.parent / f"{args.out.name}_training.png"
    plot_curve(
        run.whole_history(history),
        png,
        f"{args.out.name}: seed {args.seed}, {fields['env_steps'] / 1e6:.1f}M steps, {fmt_time(fields['wall_time_s'])}",
    )
    (work / "history.json").write_text(json.dumps(history))
    print(f"[train_teacher] wrote {spec.onnx_path}, {spec.path}, {png}; wall {fmt_time(wall)}; history {work / 'history.json'}", flush=True)
    return 0


def _labels(env: ParkourEnv):
    from lucid_ros.sim.courses import DIFFICULTY

    return [(c, DIFFICULTY.get(c.name, "")) for c in env.courses]


if __name__ == "__main__":
    sys.exit(main())
