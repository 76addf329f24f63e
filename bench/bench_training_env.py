"""Training throughput on this machine: the walk env and the parkour env next to raw MuJoCo (prints numbers).

    python bench/bench_training_env.py [--steps 48] [--threads 2] [--envs 504]

For each env (WalkEnv with go1_walk's spec, ParkourEnv with go1_teacher's), driven by the shipped
policy's own actions so the robots walk and climb as in training (random actions make them fall and
writhe, which costs the solver more):
- env-steps/s of `env.step` (50 Hz steps: 10 physics steps, motor law, observation, rewards,
  resets; the policy's inference is not counted);
- raw MuJoCo for the same batch: the same worlds from the same states, `batch.step` ten times per
  env step with the torques held, nothing else (what the env could reach with free Python);
- MuJoCo alone for those states on one thread, one MjData per env (`mj_step`), times the cores.
Then one PPO update of the teacher's size (504 envs x 24 steps, its network) with torch on 1 and
on 2 threads. Wall-clock numbers: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import time

import mujoco
import numpy as np
import onnxruntime as ort
import torch

from lucid_ros.paths import config_dir
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots import load_robot
from lucid_ros.training.config import EnvConfig, TrainConfig
from lucid_ros.training.env import WalkEnv, priv_dim
from lucid_ros.training.parkour import ParkourConfig, ParkourEnv, teacher_env_config
from lucid_ros.training.ppo import PPO, ActorCritic, RolloutBuffer


def policy_of(name: str):
    spec = load_spec(config_dir() / "policies" / f"{name}.yaml")
    sess = ort.InferenceSession(str(spec.onnx_path), providers=["CPUExecutionProvider"])
    return spec, lambda obs: sess.run(None, {spec.obs_input: obs.astype(np.float32)})[0].astype(np.float64)


def measure(label: str, env: WalkEnv, act, steps: int) -> None:
    obs, _ = env.reset_all()
    for _ in range(25):  # walk off the spawn transients
        obs, *_ = env.step(act(obs))
    t_env = 0.0
    for _ in range(steps):
        a = act(obs)
        t0 = time.perf_counter()
        obs, *_ = env.step(a)
        t_env += time.perf_counter() - t0
    # raw MuJoCo: the same batches from the states the env left, torques held
    t0 = time.perf_counter()
    for _ in range(steps):
        for _k in range(env.substeps):
            for w in env.worlds:
                w.batch.step()
    t_raw = time.perf_counter() - t0
    # one thread, one MjData per env of the first world: MuJoCo's own speed for these robots
    w = env.worlds[0]
    k = min(32, w.batch.nsim)
    datas = [w.batch.get_data(i) for i in range(k)]
    model = w.batch.get_model(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        for d in datas:
            mujoco.mj_step(model, d, env.substeps)
    t_one = (time.perf_counter() - t0) * env.n / k
    rate, raw = env.n * steps / t_env, env.n * steps / t_raw
    print(
        f"{label:<26} {len(env.worlds):>2} world(s) {env.n:>4} envs: env {rate:8.0f} env-steps/s | raw MuJoCo, same batch {raw:8.0f} "
        f"(env at {100 * rate / raw:3.0f} %) | mj_step on 1 thread {env.n * steps / t_one:7.0f}",
        flush=True,
    )


def ppo_update_time(obs_dim: int, n_env: int, threads: int) -> float:
    torch.set_num_threads(threads)
    cfg = TrainConfig().ppo
    gen = torch.Generator().manual_seed(0)
    model = ActorCritic(obs_dim, priv_dim(load_robot("go1")), 12, cfg)
    ppo = PPO(model, cfg, gen)
    T = cfg.steps_per_env
    buf = RolloutBuffer(T, n_env, obs_dim, priv_dim(load_robot("go1")), 12)
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
    for threads in (1, 2):
        dt = ppo_update_time(teacher_spec.obs_dim, args.envs, threads)
        print(
            f"PPO update, teacher size ({teacher_spec.obs_dim} inputs, {args.envs} x 24 samples), torch on {threads} thread(s): {dt:.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
