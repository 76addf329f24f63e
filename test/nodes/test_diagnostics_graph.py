"""Through the real graph: every node reports on `diagnostics` with the documented keys, OK while
healthy; a silent joint_states and a NaN policy turn the right nodes ERROR with messages that say
what is wrong; a vision policy's capture-to-action latency is measured and published."""

from __future__ import annotations

import threading
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from std_msgs.msg import Float64

from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph
from lucid_ros.robots import load_robot

ROBOT = load_robot("go1")
LEVEL = {DiagnosticStatus.OK: "OK", DiagnosticStatus.WARN: "WARN", DiagnosticStatus.ERROR: "ERROR", DiagnosticStatus.STALE: "STALE"}

# docs/diagnostics.md: the keys each node always reports
KEYS = {
    "sim_bridge": ["sim_time", "real_time_factor", "joint_commands_rate_hz", "joint_commands_age_s", "joint_states_rate_hz",
                   "joint_states_expected_hz", "imu/data_rate_hz", "step_p50_ms", "step_p99_ms", "step_max_ms", "answer_p50_ms",
                   "answer_p99_ms", "deadline_misses", "lockstep_timeouts", "rejected_commands"],
    "proprioception": ["joint_states_rate_hz", "joint_states_expected_hz", "joint_states_age_s", "joint_states_timeout_s",
                       "imu/data_rate_hz", "imu/data_age_s", "odom_rate_hz", "proprioception/joint_states_rate_hz",
                       "proprioception/feet_rate_hz", "estimate_p50_ms", "estimate_p99_ms", "estimate_max_ms",
                       "dropped_malformed", "dropped_unmatched", "nonfinite_inputs"],
    "policy_runner": ["status", "policy", "proprioception/joint_states_rate_hz", "proprioception/joint_states_age_s", "odom_age_s",
                      "proprioception/feet_age_s", "cmd_vel_age_s", "policy/joint_targets_rate_hz", "policy/joint_targets_expected_hz",
                      "inference_p50_ms", "inference_p99_ms", "inference_max_ms", "step_p99_ms", "joint_states_to_target_p99_ms",
                      "nonfinite_outputs", "dropped_malformed"],
    "safety_supervisor": ["state", "faults", "joint_states_rate_hz", "joint_states_age_s", "joint_states_timeout_s", "imu/data_age_s",
                          "policy/joint_targets_age_s", "joint_commands_rate_hz", "tick_p50_ms", "tick_p99_ms", "tick_max_ms",
                          "dropped_malformed"],
    "black_box": ["mode", "received", "dropped", "queued", "topics", "/joint_states_rate_hz"],
}


class Diagnostics:
    """Every DiagnosticStatus the graph publishes, with the wall time it arrived."""

    def __init__(self, graph: SimGraph):
        self.lock = threading.Lock()
        self.seen: list[tuple[float, DiagnosticStatus]] = []
        graph.monitor.create_subscription(DiagnosticArray, "diagnostics", self._on, qos.DIAGNOSTICS)

    def _on(self, msg: DiagnosticArray) -> None:
        with self.lock:
            self.seen += [(time.monotonic(), s) for s in msg.status]

    def latest(self, node: str, after: float = 0.0) -> DiagnosticStatus | None:
        with self.lock:
            return next((s for t, s in reversed(self.seen) if s.hardware_id == node and t >= after), None)

    def wait(self, graph: SimGraph, node: str, after: float, predicate=lambda s: True, wall_timeout: float = 10.0) -> DiagnosticStatus:
        assert graph.wait_until(lambda: (s := self.latest(node, after)) is not None and predicate(s), wall_timeout), \
            f"{node}: no such report; latest: {describe(self.latest(node))}"
        return self.latest(node, after)


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def describe(status: DiagnosticStatus | None) -> str:
    return "none" if status is None else f"{LEVEL[status.level]} {status.message}"


def test_every_node_reports_its_documented_keys_and_is_ok_while_healthy(hold_policy, tmp_path):
    with SimGraph(robot="go1", policy=hold_policy(), recorders=({"mode": "ring", "path": str(tmp_path / "bb")},)) as g:
        diags = Diagnostics(g)
        assert g.wait_for_state("RUNNING", wall_timeout=30)
        g.run_for(1.5)  # bring-up faults (a first tick before discovery settled) are in earlier reports
        t0 = time.monotonic()
        for node, keys in KEYS.items():
            s = diags.wait(g, node, t0)
            v = values(s)
            assert s.name.lstrip("/") == node
            assert [k for k in keys if k not in v] == [], f"{node} lacks keys; has {sorted(v)}"
            assert s.level == DiagnosticStatus.OK, f"{node}: {describe(s)}"
        sup = values(diags.latest("safety_supervisor"))
        assert sup["state"] == "RUNNING"
        assert float(sup["joint_states_rate_hz"]) == pytest.approx(ROBOT.rate_hz, rel=0.1)
        assert float(sup["joint_states_timeout_s"]) == ROBOT.safety.joint_states_timeout  # the robot YAML's timeout
        assert float(sup["joint_states_age_s"]) <= ROBOT.safety.joint_states_timeout
        runner = values(diags.latest("policy_runner"))
        assert 0 < float(runner["inference_p50_ms"]) <= float(runner["inference_p99_ms"]) <= float(runner["inference_max_ms"])
        assert float(runner["policy/joint_targets_rate_hz"]) == pytest.approx(ROBOT.rate_hz, rel=0.1)
        assert runner["nonfinite_outputs"] == "0"
        bridge = values(diags.latest("sim_bridge"))
        assert float(bridge["real_time_factor"]) > 0 and float(bridge["step_p50_ms"]) > 0


def test_silent_joint_states_turn_proprioception_and_supervisor_error_with_the_age(hold_policy):
    with SimGraph(robot="go1", policy=hold_policy()) as g:
        diags = Diagnostics(g)
        assert g.wait_for_state("RUNNING", wall_timeout=30)
        g.run_for(1.2)
        before = diags.latest("proprioception")
        assert before is not None and before.level == DiagnosticStatus.OK, describe(before)
        t_mute = time.monotonic()
        g.sim.muted.add("joint_states")
        timeout = ROBOT.safety.joint_states_timeout
        is_error = lambda s: s.level == DiagnosticStatus.ERROR  # noqa: E731
        for node in ("proprioception", "safety_supervisor"):
            s = diags.wait(g, node, t_mute, is_error)
            assert "joint_states stale: last" in s.message and f"(timeout {timeout:g} s)" in s.message, s.message
            assert "is the robot driver (lucid-ros robot) or the sim bridge (lucid-ros sim) running?" in s.message
            assert float(values(s)["joint_states_age_s"]) >= timeout  # judged stale (> timeout); the value is shown rounded
        sup = diags.latest("safety_supervisor")
        assert sup.message.startswith("DAMPING: joint_states stale") and "safety/reset" in sup.message
        runner = diags.wait(g, "policy_runner", t_mute, is_error)  # downstream: names its own stale input
        assert runner.message.startswith("proprioception/joint_states stale"), runner.message
        bridge = diags.wait(g, "sim_bridge", t_mute, lambda s: s.level == DiagnosticStatus.WARN)
        assert "fault injection: muted joint_states" in bridge.message


def test_nan_policy_turns_the_runner_error_naming_non_finite_outputs(hold_policy):
    with SimGraph(robot="go1", policy=hold_policy(kind="nan")) as g:
        diags = Diagnostics(g)
        assert g.wait_for_event("DAMPING", wall_timeout=30) is not None
        t0 = time.monotonic()
        s = diags.wait(g, "policy_runner", t0)
        assert s.level == DiagnosticStatus.ERROR
        assert s.message.startswith("nonfinite_outputs: "), s.message
        assert "NaN/inf" in s.message and "the supervisor damps" in s.message
        assert int(values(s)["nonfinite_outputs"]) > 0
        sup = diags.wait(g, "safety_supervisor", t0)
        assert sup.level == DiagnosticStatus.ERROR and sup.message.startswith("DAMPING: policy")


def test_vision_policy_measures_and_publishes_capture_to_action_latency(tmp_path):
    from lucid_ros.policy.fixtures import make_mlp_policy, write_spec

    pre = {"input_size": [60, 106], "vfov_deg": 56.19, "resize": [30, 53], "depth": {"clip": [0.0, 2.0], "normalize": "far"},
           "rate_hz": 10, "stack": 1, "interpolation": "bilinear", "crop": [0, 0, 0, 0]}
    onnx = make_mlp_policy(tmp_path / "vision.onnx", 9 + 3 * ROBOT.n_joints, ROBOT.n_joints, extra_inputs={"depth": [1, 1, 30, 53]})
    spec = write_spec(tmp_path / "vision.yaml", onnx, ROBOT, images=[{"input": "depth", "camera": "ego", "stream": "depth", "preprocess": pre}])
    with SimGraph(robot="go1", policy=spec) as g:
        diags = Diagnostics(g)
        latencies: list[float] = []
        g.monitor.create_subscription(Float64, "policy/camera_latency", lambda m: latencies.append(m.data), qos.SENSOR)
        assert g.wait_for_state("RUNNING", wall_timeout=30), g.monitor.events
        g.run_for(1.2)
        s = diags.wait(g, "policy_runner", time.monotonic())
        v = values(s)
        assert s.level == DiagnosticStatus.OK, describe(s)
        # a 10 Hz camera seen at 50 Hz: the newest frame is 0..100 ms old when the action leaves (graph clock)
        assert 0.0 <= float(v["capture_to_action_p50_ms"]) <= float(v["capture_to_action_p99_ms"]) <= 100.0 + 1e-6
        assert float(v["images/depth_rate_hz"]) == pytest.approx(10.0, rel=0.15)
        assert float(v["images/depth_timeout_s"]) == ROBOT.safety.camera_timeout
        assert len(latencies) >= 40 and min(latencies) >= -1e-9 and max(latencies) <= 0.1 + 1e-6
        assert len(set(round(x, 3) for x in latencies)) > 1  # it moves with the frame's age: measured, not a constant
