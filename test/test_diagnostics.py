"""The diagnostic rules without ROS: what level and message an operator sees for each condition."""

import math

import pytest

from lucid_ros.diagnostics import ERROR, OK, WARN, NodeHealth, Problem, Rules, capture_to_action, worst
from lucid_ros.health import RateMeter

HINT = "is the robot driver / sim bridge running?"


def feed(h: NodeHealth, name: str, t0: float, t1: float, hz: float) -> float:
    n = int(round((t1 - t0) * hz))
    for i in range(n + 1):
        h.seen(name, t0 + i / hz)
    return t0 + n / hz


def node(**kw) -> NodeHealth:
    h = NodeHealth("proprioception", started=0.0, **kw)
    h.input("joint_states", 50.0, 0.1, HINT)
    return h


def test_healthy_input_is_ok_with_rate_age_and_timeout_values():
    h = node()
    t = feed(h, "joint_states", 0.0, 3.0, 50.0)
    r = h.evaluate(t + 0.005, ok_message="estimating")
    assert r.level == OK and r.message == "estimating"
    assert r.values["joint_states_rate_hz"] == pytest.approx(50.0, rel=0.02)
    assert r.values["joint_states_expected_hz"] == 50.0
    assert r.values["joint_states_age_s"] == pytest.approx(0.005)
    assert r.values["joint_states_timeout_s"] == 0.1


def test_silent_input_is_error_naming_age_timeout_and_what_to_check():
    h = node()
    t = feed(h, "joint_states", 0.0, 3.0, 50.0)
    r = h.evaluate(t + 0.35)
    assert r.level == ERROR
    assert "joint_states stale: last 0.35 s ago (timeout 0.1 s)" in r.message
    assert "(expected 50)" in r.message and HINT in r.message
    assert r.values["joint_states_age_s"] == pytest.approx(0.35)
    # long silence: the rate decays to 0 Hz (a window of arrival times would keep saying 50)
    r = h.evaluate(t + 5.0)
    assert r.values["joint_states_rate_hz"] == 0.0
    assert "0 Hz (expected 50)" in r.message


def test_slow_input_is_warn_with_measured_and_expected_rate():
    h = node()
    t = feed(h, "joint_states", 0.0, 3.0, 30.0)  # fresh (33 ms < 100 ms) but 60 % of the rate
    r = h.evaluate(t + 0.01)
    assert r.level == WARN
    assert r.message.startswith("joint_states 30 Hz (expected 50): ")


def test_rate_is_not_judged_until_the_window_has_filled():
    h = node()
    t = feed(h, "joint_states", 5.0, 5.2, 50.0)  # just started: 10 samples over 0.2 s
    assert h.evaluate(t + 0.01).level == OK


def test_never_received_is_ok_during_bring_up_then_error():
    h = node()
    assert h.evaluate(1.0).level == OK
    assert h.evaluate(1.0).values["joint_states_age_s"] == "never"
    r = h.evaluate(2.5)
    assert r.level == ERROR and r.message.startswith("joint_states: nothing received in 2.5 s (expected 50): " + HINT)


def test_silent_output_is_warn_after_bring_up():
    h = NodeHealth("policy_runner", started=0.0)
    h.output("policy/joint_targets", 50.0, "see the inputs")
    assert h.evaluate(1.0).level == OK
    r = h.evaluate(3.0)
    assert r.level == WARN and "policy/joint_targets: nothing published in 3.0 s" in r.message
    assert "policy/joint_targets_age_s" not in r.values  # ages are for inputs


def test_optional_input_reports_values_but_never_raises_the_level():
    h = NodeHealth("policy_runner", started=0.0)
    h.input("cmd_vel", None, 0.5, "no teleop", required=False)
    h.seen("cmd_vel", 0.1)
    r = h.evaluate(10.0)
    assert r.level == OK and r.values["cmd_vel_age_s"] == pytest.approx(9.9)
    h.require("cmd_vel", True)
    assert h.evaluate(10.0).level == ERROR


def test_a_new_fault_raises_its_level_once_and_the_total_stays_visible():
    h = NodeHealth("policy_runner", started=0.0)
    h.fault("nonfinite_outputs", ERROR, "check the ONNX export")
    h.fault("dropped_malformed", WARN, "same robot YAML?")
    assert h.evaluate(1.0).values["nonfinite_outputs"] == 0
    h.count("nonfinite_outputs", 3)
    h.count("dropped_malformed")
    r = h.evaluate(2.0)
    assert r.level == ERROR
    assert r.message.startswith("nonfinite_outputs: 3 new (3 total): check the ONNX export")  # the worst first
    assert "dropped_malformed: 1 new (1 total)" in r.message
    r = h.evaluate(3.0)  # nothing new since: back to OK, the count stays
    assert r.level == OK and r.values["nonfinite_outputs"] == 3
    h.set_count("dropped_malformed", 5)
    r = h.evaluate(4.0)
    assert r.level == WARN and "4 new (5 total)" in r.message


def test_latency_percentiles_and_budget():
    h = NodeHealth("safety_supervisor", started=0.0)
    h.latency("tick", 0.02, "CPU load?")
    r = h.evaluate(1.0)
    assert r.level == OK and math.isnan(r.values["tick_p50_ms"])  # no samples yet is not a problem
    for i in range(100):
        h.took("tick", 0.001 if i < 98 else 0.05)
    r = h.evaluate(2.0)
    assert r.values["tick_p50_ms"] == pytest.approx(1.0) and r.values["tick_max_ms"] == pytest.approx(50.0)
    assert r.values["tick_budget_ms"] == pytest.approx(20.0)
    assert r.level == WARN and r.message.startswith("tick p99 ") and "> budget 20.0 ms: CPU load?" in r.message


def test_node_problems_and_values_come_first():
    h = node()
    feed(h, "joint_states", 0.0, 3.0, 50.0)
    r = h.evaluate(3.01, [Problem(ERROR, "DAMPING: joint_states stale")], values={"state": "DAMPING"})
    assert r.level == ERROR and r.message.startswith("DAMPING: joint_states stale")
    assert next(iter(r.values)) == "state"


def test_bad_fault_level_is_refused():
    with pytest.raises(ValueError, match="must be WARN or ERROR"):
        NodeHealth("x", 0.0).fault("f", OK, "")


def test_worst_level():
    assert worst([]) == OK and worst([OK, WARN]) == WARN and worst([ERROR, WARN, OK]) == ERROR


def test_rate_meter_over_a_horizon_decays_when_the_stream_stops():
    m = RateMeter(window=1000)
    for i in range(101):
        m.mark(i * 0.01)
    assert m.rate() == pytest.approx(100.0)
    assert m.rate(now=1.0, horizon=2.0) == pytest.approx(100.0)
    assert m.rate(now=2.0, horizon=2.0) == pytest.approx(50.0, rel=0.02)  # 1 s of silence halves it
    assert m.rate(now=3.5, horizon=2.0) == 0.0


def test_rules_are_data():
    h = NodeHealth("x", 0.0, rules=Rules(rate_warn_fraction=0.5))
    h.input("joint_states", 50.0, 0.1, HINT)
    t = feed(h, "joint_states", 0.0, 3.0, 30.0)
    assert h.evaluate(t + 0.01).level == OK  # 60 % passes a 50 % rule


def test_capture_to_action_uses_the_oldest_input_image():
    assert capture_to_action(1.25, [1.2, 1.1]) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="at least one"):
        capture_to_action(1.0, [])
    with pytest.raises(ValueError, match="non-finite"):
        capture_to_action(1.0, [float("nan")])


def test_a_bad_input_is_named_instead_of_the_outputs_it_starves():
    h = node()
    h.output("odom", 50.0, "see the inputs")
    t = feed(h, "joint_states", 0.0, 3.0, 50.0)
    feed(h, "odom", 0.0, 3.0, 50.0)
    r = h.evaluate(t + 1.0)
    assert r.level == ERROR and r.message.startswith("joint_states stale") and "odom" not in r.message
    assert r.values["odom_rate_hz"] < 40  # still reported
