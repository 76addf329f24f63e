"""Where tests find Unitree's pre-trained humanoid policies (deploy/pre_train/<robot>/motion.pt).

From a unitree_rl_gym checkout named by UNITREE_RL_GYM, else ../shared/third_party/unitree_rl_gym
beside the repository; a test that needs one skips, saying where it looked, where neither has it.
(Not a test module: test/ is on sys.path through its conftest.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "third_party" / "unitree_rl_gym"


def artifact(robot: str) -> Path:
    """Unitree's motion.pt for `robot`, or skip saying where it was looked for."""
    user = os.environ.get("UNITREE_RL_GYM")
    candidates = ([Path(user) / "deploy" / "pre_train" / robot / "motion.pt"] if user else []) + [SHARED / robot / "motion.pt"]
    for c in candidates:
        if c.is_file():
            return c
    pytest.skip(
        f"Unitree's pre-trained {robot} policy not found (looked in {', '.join(map(str, candidates))}); set UNITREE_RL_GYM to a unitree_rl_gym checkout"
    )
