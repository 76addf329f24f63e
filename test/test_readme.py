"""The README's two commands are the ones CI runs, and they name things that exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_blocks(text: str) -> list[list[str]]:
    return [[ln.strip() for ln in b.strip().splitlines()] for b in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_ci_runs_the_readme_install_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    blocks = code_blocks(readme)
    run_block = next(b for b in blocks if "lucid-ros sim" in b)
    test_block = next(b for b in blocks if any("pytest" in ln for ln in b))
    for line in run_block[1:] + test_block:  # the venv line is CI's own (it builds a fresh one)
        assert line in ci, f"README command not run by .ci/run: {line}"


def test_readme_names_every_interface_topic():
    readme = (ROOT / "README.md").read_text()
    for topic in ["joint_states", "imu/data", "odom", "sim/ground_truth/odom", "cmd_vel", "policy/joint_targets", "joint_commands",
                  "safety/estop", "safety/state", "diagnostics", "safety/stand", "safety/run", "safety/damp", "safety/reset"]:
        assert f"`{topic}`" in readme or topic in readme, topic
