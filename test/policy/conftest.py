"""Shared fixtures for the policy tests: the Go1 description and a synthetic 29-joint humanoid."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucid_ros.robots.description import JointSpec, RobotDescription, SafetyLimits, load_robot

# legged_gym / Isaac order (FL, FR, RL, RR) versus Go1's canonical SDK order (FR, FL, RR, RL).
LEGGED_GYM_ORDER = [f"{leg}_{part}_joint" for leg in ("FL", "FR", "RL", "RR") for part in ("hip", "thigh", "calf")]


@pytest.fixture(scope="session")
def go1() -> RobotDescription:
    # The model files are checked by test/robots; these tests need only the YAML.
    return load_robot("go1", check_models=False)


@pytest.fixture(scope="session")
def humanoid29() -> RobotDescription:
    """A G1-like 29-joint robot: 12 leg joints then 17 waist/arm joints, distinct defaults and gains."""
    legs = [f"{side}_{j}_joint" for side in ("left", "right") for j in ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")]
    upper = ["waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint"]
    upper += [
        f"{side}_{j}_joint"
        for side in ("left", "right")
        for j in ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
    ]
    joints = tuple(
        JointSpec(
            name=n,
            vendor_index=i,
            lower=-2.0,
            upper=2.0,
            velocity_limit=20.0,
            effort_limit=50.0,
            default=0.01 * (i + 1),
            kp=100.0 + i,
            kd=2.0 + 0.1 * i,
        )
        for i, n in enumerate(legs + upper)
    )
    return RobotDescription(
        name="g1_fake",
        kind="humanoid",
        source=Path("g1_fake.yaml"),
        urdf_path=Path("g1.urdf"),
        mjcf_path=Path("g1.xml"),
        base_body="pelvis",
        imu_site="imu",
        imu_frame="imu_link",
        feet=("left_foot", "right_foot"),
        nominal_base_height=0.75,
        rate_hz=50.0,
        physics_dt=0.002,
        stand_duration=2.0,
        vendor_motor_slots=35,
        joints=joints,
        safety=SafetyLimits(1.0, 1.0, 0.5, 0.1, 0.1, 0.1, 0.5, 2.0),
    )
