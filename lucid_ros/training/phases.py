"""A training run that spans sessions: each phase resumes the last one's checkpoint, and the spec's
`training:` block records every phase (commit, command, minutes, iterations, steps) with totals over
all of them. One implementation for train_walk and train_teacher.

The checkpoint holds the network (with its running observation statistics), the totals so far, the
phases before this one and the whole learning curve. The optimiser's state is not carried: Adam
restarts and the KL-adaptive learning rate finds its level within a few iterations.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import torch


def git_commit() -> str | None:
    """The commit of the code that runs (HEAD may move during a run of hours), or None outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class Phases:
    """This phase of a run: `load(model)` continues a checkpoint's; `save(...)` writes one;
    `training_fields(...)` are the spec's totals and phases."""

    def __init__(self, command: str, resume: Path | None, minutes: float, total_minutes: float | None = None, tag: str = "train") -> None:
        self.t_start = time.time()
        self.commit = git_commit()
        self.command = command
        self.resume = resume
        self.tag = tag
        self.plan_s = 60.0 * (total_minutes if total_minutes is not None else minutes)
        self.prior: dict = {"time_s": 0.0, "steps": 0, "iterations": 0, "phases": [], "history": []}
        self.env_state: dict = {}  # what the env keeps between phases (a parkour curriculum's levels)

    def load(self, model: torch.nn.Module) -> None:
        """Continue the network and the totals of the checkpoint `resume` (nothing without one)."""
        if self.resume is None:
            return
        ck = torch.load(self.resume, weights_only=True)
        model.load_state_dict(ck["model"])
        self.prior.update({k: ck[k] for k in self.prior if k in ck})
        self.env_state = ck.get("env_state", {})
        p = self.prior
        print(f"[{self.tag}] resumed from {self.resume}: {p['iterations']} iterations, {p['steps'] / 1e6:.2f}M steps, "
              f"{p['time_s'] / 60:.1f} min in {len(p['phases'])} phase(s) before this one", flush=True)  # fmt: skip

    @property
    def curriculum_s(self) -> tuple[float, float]:
        """(seconds trained before this phase, seconds planned in all): ppo_loop's curriculum clock."""
        return self.prior["time_s"], self.plan_s

    def phases(self, it: int, steps: int) -> list[dict]:
        here = {"git_commit": self.commit, "command": self.command, "resumed_from": str(self.resume) if self.resume else None,
                "minutes": round((time.time() - self.t_start) / 60.0, 1), "iterations": it + 1, "env_steps": steps}  # fmt: skip
        return [*self.prior["phases"], here]

    def totals(self, it: int, steps: int) -> dict:
        p = self.prior
        return {"time_s": p["time_s"] + time.time() - self.t_start, "steps": p["steps"] + steps, "iterations": p["iterations"] + it + 1}

    def whole_history(self, history: list[dict]) -> list[dict]:
        """The earlier phases' learning curve, then this phase's on the whole run's axes."""
        p = self.prior
        shifted = [{**h, "steps": h["steps"] + p["steps"], "time_s": h["time_s"] + p["time_s"], "it": h["it"] + p["iterations"]} for h in history]
        return [*p["history"], *shifted]

    def save(self, path: Path, model: torch.nn.Module, it: int, steps: int, history: list[dict], cfg: dict, env_state: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        ck = {
            "model": model.state_dict(),
            "env_state": env_state or {},
            **self.totals(it, steps),
            "phases": self.phases(it, steps),
            "history": self.whole_history(history),
            "cfg": cfg,
        }
        torch.save(ck, path)

    def training_fields(self, it: int, steps: int) -> dict:
        """wall_time_s, iterations and env_steps over all phases, and the phases (when there is more than one)."""
        t = self.totals(it, steps)
        out = {"wall_time_s": round(t["time_s"], 1), "iterations": t["iterations"], "env_steps": t["steps"]}
        if self.resume is not None or self.prior["phases"]:
            out["phases"] = self.phases(it, steps)
        return out


def keep_phase_start(resume: Path | None, checkpoint: Path) -> Path | None:
    """A run that writes its checkpoint where it resumes from keeps a copy of the phase's start
    (`<stem>_phase_start.pt`) and resumes from that."""
    if resume is None or resume.resolve() != checkpoint.resolve():
        return resume
    keep = checkpoint.with_name(f"{checkpoint.stem}_phase_start{checkpoint.suffix}")
    keep.write_bytes(resume.read_bytes())
    return keep


class StopOnSignal:
    """Ctrl-C (SIGINT) or SIGTERM during a training run: the iteration under way finishes and the loop
    ends as if its time were up, so the caller writes its checkpoint, spec and plots as at the end of
    the budget and nothing trained is lost (a run of hours is stopped this way between sessions). A
    second signal stops at once (KeyboardInterrupt): what came after the last snapshot is lost.
    Outside the main thread (signals cannot be caught there) it does nothing. The handlers before
    it are put back on exit."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.signal: str | None = None  # the name of the signal that asked to stop, once one has
        self._old: dict = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, _frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopped without saving")
        self.signal = signal.Signals(signum).name
        print(f"[{self.tag}] {self.signal}: stopping after this iteration, then saving the checkpoint and the export "
              f"(send it again to stop now and lose what came after the last snapshot)", flush=True)  # fmt: skip

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old = {}
