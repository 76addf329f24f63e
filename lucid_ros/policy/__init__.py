"""Everything between a policy file and joint targets: spec, observations, actions, ONNX runner, check.

`fixtures` and `make_stand_policy` need `onnx` (a test/training dependency) and are not imported here.
"""

from lucid_ros.policy.actions import ActionMapper
from lucid_ros.policy.check import CheckReport, check_policy
from lucid_ros.policy.observations import ObservationBuilder, ObsInputs
from lucid_ros.policy.runner import OnnxPolicy, PolicyRuntime
from lucid_ros.policy.spec import (
    ActionSpec,
    ImageInput,
    ObservationSpec,
    PolicySpec,
    RecurrentState,
    TermSpec,
    load_spec,
)

__all__ = [
    "ActionMapper",
    "ActionSpec",
    "CheckReport",
    "ImageInput",
    "ObsInputs",
    "ObservationBuilder",
    "ObservationSpec",
    "OnnxPolicy",
    "PolicyRuntime",
    "PolicySpec",
    "RecurrentState",
    "TermSpec",
    "check_policy",
    "load_spec",
]
