"""The shipped Go1 walking policy is a valid policy for the Go1 (what `lucid-ros check-policy` runs)."""

from lucid_ros import paths
from lucid_ros.policy.check import check_policy
from lucid_ros.policy.spec import load_spec
from lucid_ros.robots.description import load_robot


def test_shipped_go1_walk_passes_check_policy():
    robot = load_robot("go1")
    spec_path = paths.config_dir() / "policies" / "go1_walk.yaml"
    report = check_policy(spec_path, robot)
    assert report.ok, report.text()
    spec = load_spec(spec_path, robot)
    assert {t.name for t in spec.observation.terms}.isdisjoint({"base_lin_vel", "foot_contacts"})  # nothing the robot lacks
    assert spec.kp == (20.0,) * 12 and spec.kd == (0.5,) * 12 and spec.action.scale == (0.25,) * 12
    for key in ("seed", "command", "wall_time_s", "env_steps", "final_metrics_last_20_iterations"):
        assert key in spec.training, key
