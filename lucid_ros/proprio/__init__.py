"""Proprioception core: the state estimate the policy observes, and the stamp join the nodes use.

Pure Python + numpy + mujoco (for the leg kinematics); the proprioception node adapts it to topics.
"""

from lucid_ros.proprio.estimator import ProprioEstimator
from lucid_ros.proprio.sync import StampSync

__all__ = ["ProprioEstimator", "StampSync"]
