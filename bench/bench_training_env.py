"""Training throughput on this machine: the walk env and the parkour env next to raw MuJoCo (prints numbers).

    python bench/bench_training_env.py [--steps 48] [--threads 2] [--envs 504]

For each env (WalkEnv with go1_walk's spec, ParkourEnv with go1_teacher's on fixed levels and on the
jump recipe's curriculum worlds), driven by the shipped
policy's own actions so the robots walk and climb as in training (random actions make them fall and
writhe, which costs the solver more):
- env-steps/s of `env.step` (50 Hz steps: 10 physics steps, motor law, observation, rewards,
  resets; the policy's inference is not counted);
- the share of that time spent in MuJoCo's `batch.step` for the same batch (timed inside the env's
  own steps), and the rate MuJoCo alone would reach: what the env could reach with free Python;
- plain `mj_step` on one thread, one MjData per env, from the states the env left (no batch).
Then one PPO update of the teacher's size (504 envs x 24 steps, its network) with torch on 1 and
on 2 threads. Wall-clock numbers: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import mujoco
import numpy as np
import onnxruntime as ort
import torch

from lucid_ros.paths import config_dir
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots import load_robot
from lucid_ros.training.config import EnvConfig, TrainConfig
from lucid_ros.training.env import WalkEnv, priv_dim
from lucid_ros.training.parkour import ParkourConfig, ParkourEnv, parkour_config, teacher_env_config
from lucid_ros.training.ppo import PPO, ActorCritic, RolloutBuffer


def policy_of(name: str):
    spec = load_spec(config_dir() / "policies" / f"{name}.yaml")
    sess = ort.InferenceSession(str(spec.onnx_path), providers=["CPUExecutionProvider"])
    return spec, lambda obs: sess.run(None, {spec.obs_input: obs.astype(np.float32)})[0].astype(np.float64)


class TimedBatch:
    """A mujoco.batch.Batch whose step() calls are timed (everything else passes through)."""

    def __init__(self, batch) -> None:
        object.__setattr__(self, "_b", batch)
        object.__setattr__(self, "seconds", 0.0)

    def step(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self._b.step(*args, **kwargs)
        object.__setattr__(self, "seconds", self.seconds + time.perf_counter() - t0)
        return out

    def __getattr__(self, name):
        return getattr(self._b, name)


def measure(label: str, env: WalkEnv, act, steps: int) -> None:
    obs, _ = env.reset_all()
    for _ in range(25):  # walk off the spawn transients
        obs, *_ = env.step(act(obs))
    timed = [TimedBatch(w.batch) for w in env.worlds]
    for w, tb in zip(env.worlds, timed, strict=True):
        w.batch = tb
    t_env = 0.0
    for _ in range(steps):
        a = act(obs)
        t0 = time.perf_counter()
        obs, *_ = env.step(a)
        t_env += time.perf_counter() - t0
    t_mj = sum(tb.seconds for tb in timed)
    # MuJoCo on one thread, one MjData per env of the first world, from the states the env left
    w = env.worlds[0]
    k = min(32, w.batch.nsim)
    datas = [w.batch.get_data(i) for i in range(k)]
    model = w.batch.get_model(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        for d in datas:
            mujoco.mj_step(model, d, env.substeps)
    t_one = (time.perf_counter() - t0) * env.n / k
    rate = env.n * steps / t_env
    print(
        f"{label:<26} {len(env.worlds):>2} world(s) {env.n:>4} envs: env {rate:6.0f} env-steps/s | of its time in MuJoCo's batch.step "
        f"{100 * t_mj / t_env:3.0f} % (MuJoCo alone would run {env.n * steps / t_mj:6.0f}) | mj_step, 1 thread, 1 MjData per env: "
        f"{env.n * steps / t_one:5.0f}",
        flush=True,
    )


def ppo_update_time(obs_dim: int, n_env: int, threads: int) -> float:
    torch.set_num_threads(threads)
    cfg = TrainConfig().ppo
    gen = torch.Generator().manual_seed(0)
    n_priv = priv_dim(load_robot("go1"))
    model = ActorCritic(obs_dim, n_priv, 12, cfg)
    ppo = PPO(model, replace(cfg, update_threads=threads), gen)
    T = cfg.steps_per_env
    buf = RolloutBuffer(T, n_env, obs_dim, n_priv, 12)
    for _ in range(T):
        o, p = torch.randn(n_env, obs_dim, generator=gen), torch.randn(n_env, buf.priv.shape[-1], generator=gen)
        a, logp, v, mu, sig = ppo.act(o, p)
        buf.add(o, p, a, logp, v, torch.randn(n_env, generator=gen), torch.zeros(n_env), mu, sig)
    buf.finish(torch.zeros(n_env), cfg.gamma, cfg.lam)
    t0 = time.perf_counter()
    ppo.update(buf)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=48, help="env steps timed per env")
    p.add_argument("--threads", type=int, default=2, help="MuJoCo stepping threads")
    p.add_argument("--envs", type=int, default=504)
    args = p.parse_args()
    torch.set_num_threads(1)
    robot = load_robot("go1")
    walk_spec, walk = policy_of("go1_walk")
    measure("walk env (go1_walk)", WalkEnv(robot, walk_spec, EnvConfig(n_envs=args.envs), nthread=args.threads), walk, args.steps)
    teacher_spec, teacher = policy_of("go1_teacher")
    env = ParkourEnv(robot, teacher_spec, teacher_env_config(args.envs), ParkourConfig(), nthread=args.threads)
    measure("parkour env (go1_teacher)", env, teacher, args.steps)
    # the jump recipe's worlds: one per course with every level's boxes, each env on its own level
    env = ParkourEnv(robot, teacher_spec, teacher_env_config(args.envs, "jump"), parkour_config("jump"), nthread=args.threads)
    measure("parkour env, curriculum", env, teacher, args.steps)
    for threads in (1, 2):
        dt = ppo_update_time(teacher_spec.obs_dim, args.envs, threads)
        print(
            f"PPO update, teacher size ({teacher_spec.obs_dim} inputs, {args.envs} x 24 samples), torch on {threads} thread(s): {dt:.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
