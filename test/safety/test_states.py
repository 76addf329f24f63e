"""The safety/event text has one writer (Event.to_text) and one parser (Event.parse)."""

from lucid_ros.safety.states import Event, SafetyState


def test_event_text_round_trips_through_the_one_parser():
    for ev in (Event(8.02, SafetyState.RUNNING, SafetyState.ESTOP, "estop", "safety/estop engaged"),
               Event(2.5, SafetyState.STANDING, SafetyState.RUNNING, "request run"),
               Event(3.0, SafetyState.RUNNING, SafetyState.RUNNING, "foreign joint_commands", "ignored, published by /rogue (x)")):  # fmt: skip
        assert Event.parse(ev.to_text()) == ev
    assert Event.parse("garbage") is None and Event.parse("1.0 RUNNING -> FLYING: x") is None
