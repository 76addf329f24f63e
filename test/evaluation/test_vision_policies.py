"""What the shipped vision policies are for, through the whole graph (every node, the camera node
in the loop): the depth and RGB students climb stairs that stop the blind walking policy. Two of
the success table's seeded stairs-up variants (risers 0.133 and 0.156 m); the full table is in the
README and docs/results/vision/."""

import pytest

from lucid_ros.nodes.episodes import run_episode
from lucid_ros.paths import config_dir

POLICIES = config_dir() / "policies"


@pytest.mark.parametrize("seed", [8, 16])
def test_the_students_climb_stairs_the_blind_policy_cannot(seed):
    blind = run_episode("go1", POLICIES / "go1_walk.yaml", "stairs_up", seed)
    assert blind.status != "succeeded" and blind.obstacles_crossed == 0, blind
    for name in ("go1_depth", "go1_rgb"):
        ep = run_episode("go1", POLICIES / f"{name}.yaml", "stairs_up", seed)
        assert ep.status == "succeeded", f"{name}: {ep.status} ({ep.reason}), {ep.obstacles_crossed}/{ep.obstacles_total} steps"
        assert ep.difficulty_key == "stairs.riser" and ep.difficulty > 0.13
