"""Train the Go1 velocity-tracking walking policy, export it, check it.

    python -m lucid_ros.training.train_walk --seed 0 --out config/policies/go1_walk

writes go1_walk.onnx, go1_walk.yaml (spec; `training:` records seed, command, commit, wall time,
steps and final metrics) and go1_walk_training.png (learning curve), then runs check_policy on
the result. `--robot R` trains another quadruped from its description (default out
config/policies/R_walk; docs/training.md lists what is still Go1-tuned). Progress lines go to stdout. The run stops at --iterations or --minutes, whichever
comes first; the curriculum follows whichever is further along, so a shorter budget still ends
on the full command ranges. Same seed, same machine-independent result up to thread scheduling
of floating-point sums in MuJoCo's pool (none: each env runs on one thread) and torch (acting on one
thread; the update on PPOConfig.update_threads, which gives bit-identical parameters on this machine).
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
import torch

from lucid_ros.policy.check import check_policy
from lucid_ros.policy.spec import PolicySpec, load_spec
from lucid_ros.robots.description import RobotDescription, load_robot
from lucid_ros.training.config import ObsConfig, TrainConfig, humanoid_config, spec_dict
from lucid_ros.training.env import WalkEnv
from lucid_ros.training.export import actor_to_onnx, write_spec
from lucid_ros.training.phases import Phases, StopOnSignal, keep_phase_start
from lucid_ros.training.ppo import PPO, ActorCritic, RolloutBuffer, TrotGenerator


def export_policy(model: ActorCritic, robot: RobotDescription, cfg: TrainConfig, out_prefix: Path, training: dict) -> PolicySpec:
    onnx_path = out_prefix.with_suffix(".onnx")
    yaml_path = out_prefix.with_suffix(".yaml")
    actor_to_onnx(model, onnx_path)
    spec = spec_dict(robot, cfg.obs, name=out_prefix.name)
    spec["training"] = training
    write_spec(spec, onnx_path, yaml_path)
    return load_spec(yaml_path, robot)


def build(cfg: TrainConfig, robot: RobotDescription, workdir: Path) -> tuple[WalkEnv, ActorCritic, PolicySpec]:
    """Network, spec (exported once from the untrained network so the env reads a real spec file)
    and env."""
    probe = spec_dict(robot, cfg.obs)
    n_act = len(probe["joint_order"])
    n_terms = {"base_ang_vel": 3, "projected_gravity": 3, "velocity_command": 3, "gait_phase": 2}
    frame = sum(n_terms.get(t["name"], n_act) for t in probe["observation"]["terms"])
    obs_dim = frame * cfg.obs.history
    from lucid_ros.training.env import priv_dim

    model = ActorCritic(obs_dim, priv_dim(robot), n_act, cfg.ppo)
    spec = export_policy(model, robot, cfg, workdir / f"{robot.name}_walk", {})
    if spec.obs_dim != obs_dim:
        raise RuntimeError(f"spec observation {spec.obs_dim} != network input {obs_dim}")
    model.tg = trot_generator(spec, robot, cfg.obs)
    spec = export_policy(model, robot, cfg, workdir / f"{robot.name}_walk", {})
    env = WalkEnv(robot, spec, cfg.env, seed=cfg.seed, nthread=cfg.nthread)
    return env, model, spec


def trot_generator(spec: PolicySpec, robot: RobotDescription, obs: ObsConfig) -> TrotGenerator:
    """The gait prior for this spec (a trot, or a biped's alternating steps): clock and command read
    from the observation's latest frame."""
    o = spec.observation
    sin_index = int(o.term_indices("gait_phase")[-1][0])
    cmd_index = [int(i) for i in o.term_indices("velocity_command")[-1]]
    cmd_scale = next(t.scale for t in o.terms if t.name == "velocity_command")
    # which half of the clock each foot swings in, as rewards.GAITS: diagonal pairs; left then right
    feet_sign = {"FR": 1.0, "FL": -1.0, "RR": -1.0, "RL": 1.0, "le": 1.0, "ri": -1.0}
    # tg_thigh / tg_calf are written in Go1's signs (thigh flexes +, knee bends -); a robot whose
    # joints turn the other way (the Mini Cheetah: hip -0.8, knee +1.6) flexes with the opposite
    # sign, so each amplitude takes the sign of the joint's default pose (Go1: unchanged). A biped's
    # swing flexes hip pitch, knee and ankle pitch further the way its default pose bends them.
    # H1's one ankle joint (`ankle_joint`) pitches, as G1's `ankle_pitch_joint`; no quadruped joint name has either
    words = (("thigh", obs.tg_thigh), ("calf", obs.tg_calf), ("hip_pitch", obs.tg_hip_pitch), ("knee", obs.tg_knee),
             ("ankle_pitch", obs.tg_ankle), ("ankle_joint", obs.tg_ankle))  # fmt: skip
    default = dict(zip(robot.joint_names, robot.default_pose, strict=True))
    amplitude, sign = [], []
    for name in spec.joint_order:
        sign.append(feet_sign[name[:2]])
        a = abs(next((v for w, v in words if w in name), 0.0))
        amplitude.append(a if default[name] >= 0 else -a)
    return TrotGenerator(sin_index, cmd_index, list(cmd_scale), amplitude, sign, obs.tg_gain)


def fmt_time(s: float) -> str:
    return f"{int(s // 60)}m{int(s % 60):02d}s"


def plot_curve(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([h["steps"] for h in history]) / 1e6
    levels = [h for h in history if "levels" in h]  # a parkour curriculum: where the envs stand, per course
    fig, ax = plt.subplots(2, 3 if levels else 2, figsize=(16 if levels else 11, 7), squeeze=False)
    if levels:
        for name in levels[-1]["levels"]:
            ax[0, 2].plot([h["steps"] / 1e6 for h in levels], [h["levels"].get(name, np.nan) for h in levels], label=name)
        ax[0, 2].set_title("curriculum: mean level / top level")
        ax[0, 2].legend()
        ax[1, 2].plot([h["steps"] / 1e6 for h in levels], [h["level_moves"]["up"] for h in levels], label="promoted")
        ax[1, 2].plot([h["steps"] / 1e6 for h in levels], [h["level_moves"]["down"] for h in levels], label="demoted")
        ax[1, 2].set_title("curriculum moves per iteration")
        ax[1, 2].legend()
    ax[0, 0].plot(steps, [h["ep_return"] for h in history])
    ax[0, 0].set_title("mean episode return")
    ax[0, 1].plot(steps, [h["err_vx"] for h in history], label="|vx - cmd| (m/s)")
    ax[0, 1].plot(steps, [h["err_vy"] for h in history], label="|vy - cmd| (m/s)")
    ax[0, 1].plot(steps, [h["err_wz"] for h in history], label="|wz - cmd| (rad/s)")
    ax[0, 1].set_title("tracking error (mean over envs and steps)")
    ax[0, 1].legend()
    ax[1, 0].plot(steps, [h["falls_per_min"] for h in history])
    ax[1, 0].set_title("falls per env-minute")
    ax[1, 1].plot(steps, [h["ep_len_s"] for h in history])
    ax[1, 1].set_title("mean episode length (s)")
    for a in ax.ravel():
        a.set_xlabel("env steps (millions)")
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def ppo_loop(
    env,
    model: ActorCritic,
    ppo: PPO,
    cfg: TrainConfig,
    budget: float,
    log_every: int,
    tag: str,
    snapshot=None,
    t_start: float | None = None,
    critic_only_iters: int = 0,
    curriculum_s: tuple[float, float] | None = None,
    history_out: list[dict] | None = None,
) -> tuple[list[dict], int, int]:
    """Collect and update until cfg.iterations or `budget` s; progress lines to stdout; `snapshot(it, steps)`
    every 50 iterations; Ctrl-C or SIGTERM ends the loop after the iteration under way (StopOnSignal),
    as the budget does. The first `critic_only_iters` iterations train the critic alone (a warm-started
    actor keeps its behaviour while a fresh critic learns its values). `curriculum_s` = (s already
    trained, s planned in all): a resumed run's curriculum goes on from where the last phase left it
    (default: this run is the whole of it). Returns (history, iterations, steps)."""
    t_start = time.time() if t_start is None else t_start
    robot_joints = env.spec.n_act  # the actions the policy outputs (a humanoid's legs only)
    n, T = env.n, cfg.ppo.steps_per_env
    obs, priv = env.reset_all()
    buf = RolloutBuffer(T, n, obs.shape[1], priv.shape[1], robot_joints)
    model.obs_norm.update(torch.from_numpy(obs))
    model.priv_norm.update(torch.from_numpy(np.concatenate([obs, priv], axis=1)))
    actor_params = [*model.actor.parameters(), model.log_std]
    ep_ret, ep_len = np.zeros(n), np.zeros(n)
    history: list[dict] = [] if history_out is None else history_out  # a caller's list sees it grow
    recent_ret, recent_len = [], []
    steps = 0
    print(
        f"[{tag}] {n} envs x {T} steps/iter, obs {obs.shape[1]}, priv {priv.shape[1]}, budget {cfg.iterations} it / {budget / 60:g} min, "
        f"seed {cfg.seed}",
        flush=True,
    )
    it = 0
    with StopOnSignal(tag) as stop:  # Ctrl-C ends the loop after this iteration: the caller saves as at the budget's end
        for it in range(cfg.iterations):
            t_it = time.time()
            falls = 0
            err = {"err_vx": 0.0, "err_vy": 0.0, "err_wz": 0.0}
            terms_sum: dict[str, float] = {}
            t_env = 0.0
            for _t in range(T):
                o_t, p_t = torch.from_numpy(obs), torch.from_numpy(priv)
                a, logp, v, mu, sig = ppo.act(o_t, p_t)
                t0 = time.time()
                obs, priv, rew, fell, timeout, info = env.step(a.numpy().astype(np.float64))
                t_env += time.time() - t0
                r = torch.from_numpy(rew) + cfg.ppo.gamma * v * torch.from_numpy(timeout.astype(np.float32))
                done = fell | timeout
                buf.add(o_t, p_t, a, logp, v, r, torch.from_numpy(done.astype(np.float32)), mu, sig)
                ep_ret += rew
                ep_len += 1
                if done.any():
                    recent_ret += ep_ret[done].tolist()
                    recent_len += ep_len[done].tolist()
                    ep_ret[done] = 0
                    ep_len[done] = 0
                falls += int(fell.sum())
                for k in err:
                    err[k] += float(info[k].mean())
                for k, v_ in info["terms"].items():
                    terms_sum[k] = terms_sum.get(k, 0.0) + v_
            with torch.no_grad():
                last_v = model.value(torch.from_numpy(obs), torch.from_numpy(priv))
            buf.finish(last_v, cfg.ppo.gamma, cfg.ppo.lam)
            t_up = time.time()
            for prm in actor_params:
                prm.requires_grad_(it >= critic_only_iters)
            stats = ppo.update(buf)
            t_up = time.time() - t_up
            flat_obs = buf.obs.reshape(-1, buf.obs.shape[-1])
            model.obs_norm.update(flat_obs)
            model.priv_norm.update(torch.cat([flat_obs, buf.priv.reshape(-1, buf.priv.shape[-1])], dim=1))
            steps += n * T
            elapsed = time.time() - t_start
            done_s, plan_s = curriculum_s if curriculum_s is not None else (0.0, budget)
            env.progress = max((it + 1) / cfg.iterations, (done_s + elapsed) / plan_s)
            recent_ret, recent_len = recent_ret[-400:], recent_len[-400:]
            rec = {
                "it": it, "steps": steps, "time_s": elapsed,
                "ep_return": float(np.mean(recent_ret)) if recent_ret else 0.0,
                "ep_len_s": float(np.mean(recent_len)) * env.dt if recent_len else 0.0,
                "falls_per_min": falls / (n * T * env.dt / 60.0),
                **{k: v_ / T for k, v_ in err.items()},
                "terms": {k: v_ / T for k, v_ in terms_sum.items()},
                **stats,
                **(env.log_fields() if hasattr(env, "log_fields") else {}),  # a parkour curriculum's levels
            }  # fmt: skip
            history.append(rec)
            if it % log_every == 0 or it == cfg.iterations - 1:
                sps = n * T / (time.time() - t_it)
                eta = min((cfg.iterations - it - 1) * (time.time() - t_it), max(budget - elapsed, 0.0))
                terms = " ".join(f"{k}={v_:+.4f}" for k, v_ in rec["terms"].items())
                print(
                    f"it {it:5d} steps {steps / 1e6:7.2f}M ret {rec['ep_return']:7.3f} len {rec['ep_len_s']:5.1f}s falls/min {rec['falls_per_min']:.3f} "
                    f"err vx {rec['err_vx']:.3f} vy {rec['err_vy']:.3f} wz {rec['err_wz']:.3f} | std {stats['std']:.3f} lr {stats['lr']:.1e} "
                    f"kl {stats['kl']:.4f} vloss {stats['value_loss']:.4f} | {sps:6.0f} steps/s (env {t_env:.2f}s upd {t_up:.2f}s) "
                    f"prog {env.progress:.2f} elapsed {fmt_time(elapsed)} ETA {fmt_time(eta)}",
                    flush=True,
                )
                print(f"      terms: {terms}", flush=True)
                if "levels" in rec:
                    lv = " ".join(f"{k} {v:.2f}" for k, v in rec["levels"].items())
                    print(
                        f"      levels (fraction of the top): {lv} | moves up {rec['level_moves']['up']} down {rec['level_moves']['down']}",
                        flush=True,
                    )
            if snapshot is not None and (it % 50 == 0 or it == cfg.iterations - 1):
                snapshot(it, steps)
            if elapsed >= budget:
                print(f"[{tag}] time budget reached after {it + 1} iterations", flush=True)
                break
            if stop.requested:
                print(f"[{tag}] stopped by {stop.signal} after {it + 1} iterations", flush=True)
                break
    return history, it, steps


def train(cfg: TrainConfig, out_prefix: Path, minutes: float, log_every: int, checkpoint: Path | None, command: str, robot_name: str = "go1",
          resume: Path | None = None, total_minutes: float | None = None) -> int:  # fmt: skip
    """One training run, or one phase of a run that spans sessions: with `resume`, the checkpoint's
    network (and its running observation statistics) continue, the curriculum goes on over
    `total_minutes` in all, and the spec's `training:` block records every phase (its commit,
    command, minutes, iterations and steps) with totals over all of them. The optimiser's state
    is not carried: Adam restarts and the KL-adaptive learning rate finds its level within a few
    iterations."""
    run = Phases(command, resume, minutes, total_minutes, tag="train_walk")
    t_start, commit = run.t_start, run.commit
    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    robot = load_robot(robot_name)
    # The trunk height the reward asks for is the robot's own standing height (the Go1's 0.28 m
    # was a constant here; the other robots' are their YAML's nominal_base_height).
    cfg.env.reward.base_height_target = robot.nominal_base_height
    work = Path(tempfile.mkdtemp(prefix="lucid_train_"))
    env, model, spec = build(cfg, robot, work)
    ppo = PPO(model, cfg.ppo, gen)
    run.load(model)

    run_history: list[dict] = []  # ppo_loop appends to it: a snapshot holds the curve so far

    def snapshot(it: int, steps: int) -> None:
        if checkpoint is not None:
            run.save(checkpoint, model, it, steps, run_history, cfg.as_dict())
            totals = run.totals(it, steps)
            export_policy(
                model, robot, cfg, checkpoint.parent / f"{robot.name}_walk_latest", {"iteration": totals["iterations"], "steps": totals["steps"]}
            )

    history, it, steps = ppo_loop(env, model, ppo, cfg, minutes * 60.0, log_every, "train_walk", snapshot, t_start,
                                  curriculum_s=run.curriculum_s, history_out=run_history)  # fmt: skip
    snapshot(it, steps)
    wall = time.time() - t_start
    last = history[-20:]
    final = {k: round(float(np.mean([h[k] for h in last])), 4) for k in ("ep_return", "ep_len_s", "falls_per_min", "err_vx", "err_vy", "err_wz")}
    fields = run.training_fields(it, steps)  # totals over the phases, and the phases
    phases = fields.pop("phases", None)
    training = {
        "tool": "lucid_ros.training.train_walk (PPO, asymmetric actor-critic)",
        "command": command,
        "seed": cfg.seed,
        "git_commit": commit,
        **fields,
        "n_envs": env.n,
        "physics": f"MuJoCo {__import__('mujoco').__version__}, dt {robot.physics_dt} s, {env.substeps} physics steps per policy step, "
        "MotorModel(pd_torque) every physics step",
        "courses": {"flat_fraction": cfg.env.flat_fraction, "rough": f"config/courses/rough.yaml enlarged to {cfg.env.terrain_extent:g} m"},
        "domain_randomisation": {
            "friction": list(cfg.env.friction),
            "payload_kg": list(cfg.env.payload),
            "motor_strength": list(cfg.env.strength),
            "kp_scale": list(cfg.env.kp_scale),
            "kd_scale": list(cfg.env.kd_scale),
            "latency_ms": [cfg.env.latency_steps[0] * robot.physics_dt * 1e3, cfg.env.latency_steps[1] * robot.physics_dt * 1e3],
            "push_N": list(cfg.env.push_force),
            "push_s": list(cfg.env.push_duration_s),
            "noise": {"gyro": cfg.env.noise_gyro, "gravity": cfg.env.noise_gravity, "q": cfg.env.noise_q, "dq": cfg.env.noise_dq},
        },
        "final_metrics_last_20_iterations": final,
        **({"phases": phases} if phases else {}),
        "config": json.loads(json.dumps(cfg.as_dict())),
    }
    spec = export_policy(model, robot, cfg, out_prefix, training)
    png = out_prefix.parent / f"{out_prefix.name}_training.png"
    whole = run.whole_history(history)
    total_steps, total_s = fields["env_steps"], fields["wall_time_s"]
    plot_curve(whole, png, f"{out_prefix.name}: seed {cfg.seed}, {total_steps / 1e6:.1f}M steps, {fmt_time(total_s)}")
    (work / "history.json").write_text(json.dumps(history))
    report = check_policy(spec.path, robot)
    print(report.text(), flush=True)
    print(
        f"[train_walk] wrote {spec.onnx_path}, {spec.path}, {png}; wall {fmt_time(wall)}, {steps} steps; history {work / 'history.json'}", flush=True
    )
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--robot", default="go1", help="robot description (config/robots/<robot>.yaml)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", type=Path, default=None, help="output prefix: <out>.onnx, <out>.yaml, <out>_training.png (default config/policies/<robot>_walk)"
    )
    p.add_argument("--iterations", type=int, default=TrainConfig.iterations)
    p.add_argument("--minutes", type=float, default=TrainConfig.time_budget_s / 60.0, help="wall-clock budget")
    p.add_argument("--envs", type=int, default=None, help="parallel envs (default from EnvConfig)")
    p.add_argument("--threads", type=int, default=2, help="MuJoCo stepping threads")
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="checkpoint (and <robot>_walk_latest.onnx beside it; default /tmp/lucid_train/<robot>_walk.pt)"
    )
    p.add_argument("--resume", type=Path, default=None,
                   help="continue a run from its checkpoint (a training that spans sessions: each phase is recorded in the spec)")  # fmt: skip
    p.add_argument("--total-minutes", dest="total_minutes", type=float, default=None,
                   help="the whole run's planned minutes over all phases, for the command curriculum (default: --minutes)")  # fmt: skip
    p.add_argument("--yaw-weight", dest="yaw_weight", type=float, default=None,
                   help="weight of yaw-rate tracking (default: the recipe's, 1.0 for humanoids; H1's phases 1-2 used 0.5)")  # fmt: skip
    args = p.parse_args(argv)
    cfg = TrainConfig(iterations=args.iterations, seed=args.seed, nthread=args.threads)
    humanoid_config(load_robot(args.robot), cfg)  # a biped's recipe; quadrupeds unchanged
    if args.yaw_weight is not None:
        if not args.yaw_weight >= 0:
            p.error(f"--yaw-weight must be >= 0, got {args.yaw_weight}")
        cfg.env.weights.tracking_ang_vel = args.yaw_weight
    cfg.time_budget_s = args.minutes * 60.0
    if args.envs is not None:
        cfg.env.n_envs = args.envs
    np.random.seed(args.seed)
    command = "python -m lucid_ros.training.train_walk " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    out = args.out if args.out is not None else Path(f"config/policies/{args.robot}_walk")
    checkpoint = args.checkpoint if args.checkpoint is not None else Path(f"/tmp/lucid_train/{args.robot}_walk.pt")
    args.resume = keep_phase_start(args.resume, checkpoint)
    return train(cfg, out, args.minutes, args.log_every, checkpoint, command, args.robot, args.resume, args.total_minutes)


if __name__ == "__main__":
    sys.exit(main())
