"""A training that spans sessions (issue 17: 'training may be stopped and resumed over several runs;
every phase is recorded in the spec'): a second phase resumed from the first's checkpoint continues
its totals, and the spec lists both phases, for the walking trainer and the parkour teacher's."""

import pytest
import yaml

pytest.importorskip("torch")

from lucid_ros.training import train_teacher, train_walk  # noqa: E402


def _training(path) -> dict:
    return yaml.safe_load(path.read_text())["training"]


@pytest.mark.parametrize("trainer", ["walk", "teacher"])
def test_a_resumed_phase_continues_the_run_and_the_spec_records_both(tmp_path, trainer):
    ck = tmp_path / "run.pt"
    if trainer == "walk":
        tool, out, common = train_walk, tmp_path / "go1_walk", ["--robot", "go1", "--envs", "8", "--log-every", "1"]
    else:
        tool, out, common = train_teacher, tmp_path / "go1_teacher", ["--envs", "4", "--log-every", "1", "--recipe", "jump"]
    assert tool.main([*common, "--iterations", "2", "--minutes", "5", "--out", str(out), "--checkpoint", str(ck)]) == 0
    first = _training(out.with_suffix(".yaml"))
    assert first["iterations"] == 2 and "phases" not in first
    assert tool.main([*common, "--iterations", "1", "--minutes", "5", "--out", str(out), "--checkpoint", str(ck), "--resume", str(ck)]) == 0
    second = _training(out.with_suffix(".yaml"))
    assert second["iterations"] == 3 and second["env_steps"] == first["env_steps"] * 3 // 2
    assert [p["iterations"] for p in second["phases"]] == [2, 1]
    assert second["phases"][1]["resumed_from"].endswith("run_phase_start.pt")  # the start of the phase is kept
    assert (tmp_path / "run_phase_start.pt").is_file()
    if trainer == "teacher":  # the jump recipe's curriculum levels go on from where the first phase left them
        import torch

        assert len(torch.load(ck, weights_only=True)["env_state"]["levels"]) == 4
        assert "curriculum" in second and set(second["curriculum"]["levels_at_end"]) <= {"hurdle", "gaps", "stairs_up", "stairs_down", "parkour"}


@pytest.mark.parametrize(("trainer", "sig"), [("walk", "SIGINT"), ("teacher", "SIGTERM")])
def test_ctrl_c_or_sigterm_stops_after_the_iteration_and_saves_everything_trained(tmp_path, trainer, sig):
    """A run of hours is stopped by hand between sessions: Ctrl-C (or a scheduler's SIGTERM) must
    not lose what was trained since the last 50-iteration snapshot. The loop finishes the iteration
    under way, then the checkpoint, the spec and the plot are written as at the end of the budget."""
    import signal
    import subprocess
    import sys
    import threading

    import torch

    ck, out = tmp_path / "run.pt", tmp_path / f"go1_{trainer}"
    mod, args = ("train_walk", ["--robot", "go1", "--envs", "8"]) if trainer == "walk" else ("train_teacher", ["--envs", "4", "--recipe", "jump"])
    cmd = [sys.executable, "-m", f"lucid_ros.training.{mod}", *args, "--log-every", "1", "--iterations", "100000", "--minutes", "60",
           "--out", str(out), "--checkpoint", str(ck)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:  # a few iterations in (past the first snapshot at iteration 0), stop it
            lines.append(line)
            if line.startswith("it ") and int(line.split()[1]) >= 3:
                proc.send_signal(getattr(signal, sig))
                break
        lines += proc.stdout.readlines()
        rc = proc.wait()
    finally:
        watchdog.cancel()
        proc.kill()
    log = "".join(lines)
    assert rc == 0, log[-3000:]
    assert f"stopped by {sig}" in log, log[-3000:]
    trained = _training(out.with_suffix(".yaml"))
    saved = torch.load(ck, weights_only=True)
    assert 4 <= trained["iterations"] < 100000 and saved["iterations"] == trained["iterations"], (trained["iterations"], saved["iterations"])
    assert len(saved["history"]) == trained["iterations"]  # the whole curve, not the snapshot's at iteration 0
    assert (tmp_path / f"go1_{trainer}_training.png").is_file()
