"""PPO with an asymmetric actor-critic (torch, CPU, one thread).

The actor sees only what the robot has (the spec's observation); the critic also sees privileged
simulator state (true base velocity, height, friction, payload, contacts). The critic's extra
knowledge is thrown away at export, and it makes the value function, and so the advantages, far
better early in training, which is where a 60-minute CPU budget is won or lost.

Running mean/std normalisers on both inputs; the actor's is folded into the exported ONNX graph.
Adaptive learning rate on the KL divergence (the rsl_rl schedule) keeps updates stable without
tuning a learning-rate decay to the run length.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from lucid_ros.training.config import PPOConfig


class RunningNorm(nn.Module):
    """y = clip((x - mean) / sqrt(var + eps), ±clip); statistics updated from batches while training."""

    def __init__(self, dim: int, clip: float = 5.0, eps: float = 1e-2):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(1e-4))
        self.clip = clip
        self.eps = eps

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        m, v, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        tot = self.count + n
        delta = m - self.mean
        self.mean += delta * n / tot
        self.var = (self.var * self.count + v * n + delta.square() * self.count * n / tot) / tot
        self.count = tot

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp((x - self.mean) / torch.sqrt(self.var + self.eps), -self.clip, self.clip)


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class TrotGenerator(nn.Module):
    """A fixed open-loop trot added to the actor's output (a policy modulating a trajectory
    generator, after Iscen et al. 2018): while the command asks to move, each leg's thigh and calf
    swing with the gait clock, diagonal pairs in antiphase; at zero command it is silent.

        tg_j = amplitude_j * relu(sign_j * sin(phase)) * clip(gain * max_k |command_k|, 0, 1)

    It reads the clock and the command from the observation itself (its latest frame), so it is
    part of the policy network: export writes it into the ONNX graph with the same numbers, and the
    runtime needs nothing extra. With it, PPO starts from a robot that already steps in place and
    only has to learn where to put the feet: walking appears in ~1M steps instead of ~10M.
    """

    def __init__(self, sin_index: int, cmd_index: list[int], cmd_scale: list[float], amplitude: list[float], sign: list[float], gain: float):
        super().__init__()
        self.sin_index = int(sin_index)
        self.register_buffer("cmd_index", torch.tensor(cmd_index, dtype=torch.long))
        self.register_buffer("inv_scale", 1.0 / torch.tensor(cmd_scale, dtype=torch.float32))
        self.register_buffer("amplitude", torch.tensor(amplitude, dtype=torch.float32))
        self.register_buffer("sign", torch.tensor(sign, dtype=torch.float32))
        self.gain = float(gain)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        s = obs[:, self.sin_index : self.sin_index + 1]
        cmd = torch.abs(obs[:, self.cmd_index] * self.inv_scale)
        gate = torch.clamp(cmd.max(dim=1, keepdim=True).values * self.gain, 0.0, 1.0)
        return torch.relu(s * self.sign) * self.amplitude * gate


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, priv_dim: int, n_act: int, cfg: PPOConfig, tg: TrotGenerator | None = None):
        super().__init__()
        self.tg = tg
        self.obs_norm = RunningNorm(obs_dim)
        self.priv_norm = RunningNorm(obs_dim + priv_dim)
        self.actor = mlp([obs_dim, *cfg.actor_hidden, n_act])
        self.critic = mlp([obs_dim + priv_dim, *cfg.critic_hidden, 1])
        self.log_std = nn.Parameter(torch.full((n_act,), float(np.log(cfg.init_std))))
        self.min_log_std = float(np.log(cfg.min_std))
        with torch.no_grad():  # small last layer: the first actions stay near the default pose
            self.actor[-1].weight.mul_(0.01)
            self.actor[-1].bias.zero_()

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.actor(self.obs_norm(obs))
        return out if self.tg is None else out + self.tg(obs)

    def dist(self, obs: torch.Tensor) -> torch.distributions.Normal:
        std = torch.exp(torch.clamp(self.log_std, min=self.min_log_std))
        return torch.distributions.Normal(self.mean_action(obs), std)

    def value(self, obs: torch.Tensor, priv: torch.Tensor) -> torch.Tensor:
        return self.critic(self.priv_norm(torch.cat([obs, priv], dim=-1))).squeeze(-1)


class RolloutBuffer:
    def __init__(self, steps: int, n_env: int, obs_dim: int, priv_dim: int, n_act: int):
        z = lambda *s: torch.zeros(*s)  # noqa: E731
        self.obs = z(steps, n_env, obs_dim)
        self.priv = z(steps, n_env, priv_dim)
        self.act = z(steps, n_env, n_act)
        self.logp = z(steps, n_env)
        self.val = z(steps, n_env)
        self.rew = z(steps, n_env)
        self.done = z(steps, n_env)
        self.ret = z(steps, n_env)
        self.adv = z(steps, n_env)
        self.mu = z(steps, n_env, n_act)
        self.sigma = z(steps, n_env, n_act)
        self.steps = steps
        self.t = 0

    def add(self, obs, priv, act, logp, val, rew, done, mu, sigma) -> None:
        t = self.t
        self.obs[t], self.priv[t], self.act[t], self.logp[t], self.val[t] = obs, priv, act, logp, val
        self.rew[t], self.done[t], self.mu[t], self.sigma[t] = rew, done, mu, sigma
        self.t += 1

    def finish(self, last_val: torch.Tensor, gamma: float, lam: float) -> None:
        gae = torch.zeros_like(last_val)
        for t in reversed(range(self.steps)):
            nxt = last_val if t == self.steps - 1 else self.val[t + 1]
            live = 1.0 - self.done[t]
            delta = self.rew[t] + gamma * nxt * live - self.val[t]
            gae = delta + gamma * lam * live * gae
            self.adv[t] = gae
        self.ret = self.adv + self.val
        self.t = 0


@contextmanager
def torch_threads(n: int):
    """torch on n threads inside the block, the previous count after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class PPO:
    def __init__(self, model: ActorCritic, cfg: PPOConfig, generator: torch.Generator):
        self.model = model
        self.cfg = cfg
        self.lr = cfg.lr
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        self.gen = generator

    @torch.no_grad()
    def act(self, obs: torch.Tensor, priv: torch.Tensor):
        d = self.model.dist(obs)
        a = d.mean + d.stddev * torch.randn(d.mean.shape, generator=self.gen)
        return a, d.log_prob(a).sum(-1), self.model.value(obs, priv), d.mean, d.stddev

    def update(self, buf: RolloutBuffer) -> dict[str, float]:
        with torch_threads(self.cfg.update_threads):
            return self._update(buf)

    def _update(self, buf: RolloutBuffer) -> dict[str, float]:
        cfg = self.cfg
        n = buf.steps * buf.obs.shape[1]
        flat = lambda x: x.reshape(n, *x.shape[2:])  # noqa: E731
        obs, priv, act, logp0, val0 = flat(buf.obs), flat(buf.priv), flat(buf.act), flat(buf.logp), flat(buf.val)
        ret, adv, mu0, sig0 = flat(buf.ret), flat(buf.adv), flat(buf.mu), flat(buf.sigma)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        mb = n // cfg.minibatches
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "kl": 0.0}
        count = 0
        for _ in range(cfg.epochs):
            perm = torch.randperm(n, generator=self.gen)
            for k in range(cfg.minibatches):
                idx = perm[k * mb : (k + 1) * mb]
                d = self.model.dist(obs[idx])
                logp = d.log_prob(act[idx]).sum(-1)
                with torch.no_grad():  # KL(old || new) of diagonal Gaussians, for the lr schedule
                    s1, s0 = d.stddev, sig0[idx]
                    kl = (torch.log(s1 / s0) + (s0.square() + (mu0[idx] - d.mean).square()) / (2 * s1.square()) - 0.5).sum(-1).mean()
                    if kl > cfg.desired_kl * 2.0:
                        self.lr = max(cfg.lr_min, self.lr / 1.5)
                    elif 0.0 < kl < cfg.desired_kl / 2.0:
                        self.lr = min(cfg.lr_max, self.lr * 1.5)
                    for g in self.opt.param_groups:
                        g["lr"] = self.lr
                ratio = torch.exp(logp - logp0[idx])
                a = adv[idx]
                pl = -torch.min(ratio * a, torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * a).mean()
                v = self.model.value(obs[idx], priv[idx])
                v_clipped = val0[idx] + torch.clamp(v - val0[idx], -cfg.value_clip, cfg.value_clip)
                vl = torch.max((v - ret[idx]).square(), (v_clipped - ret[idx]).square()).mean()
                ent = d.entropy().sum(-1).mean()
                loss = pl + cfg.value_coef * vl - cfg.entropy * ent
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                self.opt.step()
                stats["policy_loss"] += pl.item()
                stats["value_loss"] += vl.item()
                stats["entropy"] += ent.item()
                stats["kl"] += kl.item()
                count += 1
        out = {k: v / count for k, v in stats.items()}
        out["lr"] = self.lr
        out["std"] = float(torch.exp(self.model.log_std.detach()).mean())
        return out
