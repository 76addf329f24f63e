"""Safety: the supervisor state machine, its checks, and the target limits training shares.

Pure Python (no rclpy): the safety_supervisor node adapts it to topics and services.
"""

from lucid_ros.safety.limits import clip_targets
from lucid_ros.safety.states import GUARDS, TRANSITIONS, Event, SafetyState
from lucid_ros.safety.supervisor import AutoSequence, Supervisor

__all__ = ["GUARDS", "TRANSITIONS", "AutoSequence", "Event", "SafetyState", "Supervisor", "clip_targets"]
