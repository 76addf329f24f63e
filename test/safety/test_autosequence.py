"""AutoSequence: `lucid-ros sim` walks itself PASSIVE -> STANDING -> RUNNING, once."""

import numpy as np

from lucid_ros.robots import load_robot
from lucid_ros.safety import AutoSequence, SafetyState, Supervisor
from lucid_ros.types import ImuSample, JointSample

ROBOT = load_robot("go1", check_models=False)
N = ROBOT.n_joints
DT = 1.0 / ROBOT.rate_hz
P, S, R, D = SafetyState.PASSIVE, SafetyState.STANDING, SafetyState.RUNNING, SafetyState.DAMPING


def run(auto, sup, t_end, start=0.0, sensors_from=0.0, target=True):
    """Ticks at the control rate; returns [(time, state)] after each tick."""
    trace = []
    for k in range(int(round((t_end - start) / DT)) + 1):
        t = round(start + k * DT, 9)
        if t >= sensors_from:
            sup.on_joints(JointSample(t, ROBOT.default_pose.copy(), np.zeros(N), np.zeros(N)))
            sup.on_imu(ImuSample(t, np.array([1.0, 0, 0, 0]), np.zeros(3), np.array([0, 0, 9.81])))
            if target:
                sup.on_policy_target(t, ROBOT.default_pose.copy(), ROBOT.kp, ROBOT.kd)
        auto.step(t)
        sup.tick(t)
        trace.append((t, sup.state))
    return trace


def first(trace, state):
    return next(t for t, s in trace if s is state)


def test_walks_to_running_as_soon_as_inputs_are_fresh():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    auto = AutoSequence(sup)
    trace = run(auto, sup, 3.0, sensors_from=0.5)
    assert first(trace, S) == 0.5  # the first tick with inputs
    assert first(trace, R) == 1.5  # stand finished
    assert trace[-1][1] is R and auto.done
    assert [(name, ok) for _, name, ok, _ in auto.log] == [("stand", True), ("run", True)]
    assert [e.cause for e in sup.events] == ["request stand", "request run"]


def test_hold_delays_run():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    trace = run(AutoSequence(sup, hold=0.5), sup, 3.0)
    assert first(trace, S) == 0.0 and first(trace, R) == 1.5


def test_disabled_does_nothing():
    sup = Supervisor(ROBOT)
    auto = AutoSequence(sup, enabled=False)
    assert run(auto, sup, 1.0)[-1][1] is P and auto.done


def test_never_retries_after_a_trip():
    sup = Supervisor(ROBOT, stand_duration=0.2)
    auto = AutoSequence(sup)
    run(auto, sup, 0.5)
    assert sup.state is R
    run(auto, sup, 1.0, start=0.52, target=False)  # the policy dies
    assert sup.state is D and sup.last_cause.startswith("policy_target")
    sup.request("reset", 1.0)
    run(auto, sup, 2.0, start=1.02)
    assert sup.state is P and auto.done  # an operator decides what happens next


def test_operator_request_ends_it():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    auto = AutoSequence(sup)
    run(auto, sup, 0.5)
    assert sup.request("damp", 0.5)[0]
    auto.cancel()
    run(auto, sup, 2.0, start=0.52)
    assert sup.state is D and auto.done


class _Hoist:
    """Stands in for the sim bridge: a lower request at t starts lowering `lead` later for `duration`."""

    def __init__(self, auto, lead=0.1, duration=2.0):
        self.auto, self.lead, self.duration, self.requests = auto, lead, duration, []

    def step(self, t):
        out = self.auto.step(t)
        if out is not None and out[0] == "lower_hoist":
            self.requests.append(t)
            self.auto.hoist_released_at(t + self.lead + self.duration)
        return out


def test_a_hung_robot_is_lowered_after_the_stand_and_runs_after_the_release():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    auto = AutoSequence(sup, hold=0.5, hoist=True)
    hoist = _Hoist(auto)
    trace = run(hoist, sup, 6.0)
    assert first(trace, S) == 0.0
    assert hoist.requests == [1.5]  # stand finished (1.0) + hold
    assert first(trace, R) == 4.1  # released at 1.5 + 0.1 + 2.0, + hold
    assert [name for _, name, _, _ in auto.log] == ["stand", "lower_hoist", "run"]


def test_a_hoist_that_never_answers_keeps_the_robot_standing():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    auto = AutoSequence(sup, hold=0.5, hoist=True)
    trace = run(auto, sup, 10.0)
    assert trace[-1][1] is S and not auto.done  # an operator would lower it and call run


def test_a_robot_never_hung_runs_as_without_a_hoist():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    auto = AutoSequence(sup, hold=0.5, hoist=True)
    auto.hoist_released_at(float("-inf"))
    trace = run(auto, sup, 3.0)
    assert first(trace, R) == 1.5
    assert [name for _, name, _, _ in auto.log] == ["stand", "run"]
