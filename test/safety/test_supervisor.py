"""Supervisor transitions: every allowed and refused request with its message, the stand
interpolation, RUNNING output, e-stop latching and the reset guard."""

import numpy as np
import pytest

from lucid_ros.robots import load_robot
from lucid_ros.safety import TRANSITIONS, SafetyState, Supervisor
from lucid_ros.types import ImuSample, JointSample

ROBOT = load_robot("go1", check_models=False)
N = ROBOT.n_joints
DT = 1.0 / ROBOT.rate_hz
P, S, R, D, E = SafetyState.PASSIVE, SafetyState.STANDING, SafetyState.RUNNING, SafetyState.DAMPING, SafetyState.ESTOP
LYING = np.tile([0.0, 1.2, -2.6], 4)  # a Go1 lying on its belly


def feed(sup, t, q=LYING, dq=None, quat=(1.0, 0, 0, 0)):
    sup.on_joints(JointSample(t, np.array(q, float), np.zeros(N) if dq is None else np.array(dq, float), np.zeros(N)))
    sup.on_imu(ImuSample(t, np.array(quat, float), np.zeros(3), np.array([0, 0, 9.81])))


def to_state(state, stand_duration=0.2):
    """A supervisor brought to `state` with fresh inputs; returns (sup, now)."""
    sup = Supervisor(ROBOT, stand_duration=stand_duration)
    t = 0.0
    feed(sup, t)
    sup.tick(t)
    if state is E:
        sup.estop(t, True)
        sup.estop(t, False)
    if state in (S, R, D):
        assert sup.request("stand", t)[0]
        while t < stand_duration - 1e-9:
            t = round(t + DT, 9)
            feed(sup, t)
            sup.tick(t)
    if state is R:
        assert sup.request("run", t)[0]
    if state is D:
        assert sup.request("damp", t)[0]
    assert sup.state is state
    return sup, t


# The expected outcome of every request from every state, written independently of TRANSITIONS.
EXPECT = {
    (P, "stand"): S, (P, "run"): None, (P, "damp"): D, (P, "reset"): "already",
    (S, "stand"): "already", (S, "run"): R, (S, "damp"): D, (S, "reset"): None,
    (R, "stand"): None, (R, "run"): "already", (R, "damp"): D, (R, "reset"): None,
    (D, "stand"): None, (D, "run"): None, (D, "damp"): "already", (D, "reset"): P,
    (E, "stand"): None, (E, "run"): None, (E, "damp"): None, (E, "reset"): P,
}  # fmt: skip


@pytest.mark.parametrize("state,name", sorted(EXPECT, key=str))
def test_every_request_from_every_state(state, name):
    sup, t = to_state(state)
    n_events = len(sup.events)
    ok, msg = sup.request(name, t)
    want = EXPECT[(state, name)]
    if want is None:
        assert not ok and msg.startswith(f"{name} refused: state is {state.value}"), msg
        assert sup.state is state and len(sup.events) == n_events
    elif want == "already":
        assert ok and msg.startswith("already"), msg
        assert sup.state is state and len(sup.events) == n_events
    else:
        assert ok, msg
        assert sup.state is want
        ev = sup.events[-1]
        assert (ev.time, ev.from_state, ev.to_state, ev.cause) == (t, state, want, f"request {name}")
        assert TRANSITIONS[(state, name)] is want


def test_unknown_request():
    ok, msg = Supervisor(ROBOT).request("jump", 0.0)
    assert not ok and "unknown request 'jump'" in msg


def test_boot_state_is_passive_with_zero_torque():
    sup = Supervisor(ROBOT)
    cmd = sup.tick(0.0)
    assert sup.state is P and cmd.mode == "passive" and cmd.stamp == 0.0
    assert not any(np.any(a) for a in (cmd.kp, cmd.kd, cmd.tau))


def test_stand_refused_without_joint_sample():
    sup = Supervisor(ROBOT)
    ok, msg = sup.request("stand", 0.0)
    assert not ok and "joint_states missing" in msg and sup.state is P


def test_stand_refused_when_stale_or_non_finite_or_tilted():
    sup = Supervisor(ROBOT)
    feed(sup, 0.0)
    ok, msg = sup.request("stand", 0.5)
    assert not ok and "joint_states stale" in msg and "imu stale" in msg
    q = LYING.copy()
    q[3] = np.nan
    feed(sup, 1.0, q=q)
    ok, msg = sup.request("stand", 1.0)
    assert not ok and "joint_states non-finite: q[3]" in msg
    feed(sup, 2.0, quat=(np.cos(0.6), np.sin(0.6), 0, 0))  # roll 1.2 rad: on its side
    ok, msg = sup.request("stand", 2.0)
    assert not ok and "roll" in msg
    assert sup.state is P and sup.events == []


def test_stand_interpolates_from_measured_pose_to_default_monotonically():
    sup = Supervisor(ROBOT)  # the robot's stand.duration: 2 s
    t0 = 1.0
    feed(sup, t0)
    assert sup.request("stand", t0) == (True, "PASSIVE -> STANDING: to the default pose over 2.00 s")
    cmds = []
    for k in range(0, int(round(2.0 / DT)) + 10):
        t = t0 + k * DT
        feed(sup, t, q=ROBOT.default_pose)  # the measured pose during the stand does not matter
        cmds.append(sup.tick(t))
    q = np.array([c.q for c in cmds])
    np.testing.assert_allclose(q[0], LYING)
    np.testing.assert_allclose(q[100], ROBOT.default_pose)  # t0 + 2 s
    np.testing.assert_allclose(q[-1], ROBOT.default_pose)
    dist = np.abs(q - ROBOT.default_pose)
    assert np.all(np.diff(dist, axis=0) <= 1e-12), "every joint approaches the default pose monotonically"
    assert np.all(np.diff(dist[:101, 1]) < 0), "and strictly while the stand lasts"
    for c in cmds:
        assert c.mode == "position"
        np.testing.assert_array_equal(c.kp, ROBOT.kp)
        np.testing.assert_array_equal(c.kd, ROBOT.kd)
    assert sup.state is S and sup.stand_progress(t0 + 2.0) == 1.0 and sup.stand_progress(t0 + 1.0) == 0.5


def test_stand_starts_from_measured_pose_clipped_to_limits():
    sup = Supervisor(ROBOT)
    q = ROBOT.default_pose.copy()
    q[2] = ROBOT.lower[2] - 0.05  # just outside the limit, within the 1.1x range check
    feed(sup, 0.0, q=q)
    assert sup.request("stand", 0.0)[0]
    assert sup.tick(0.0).q[2] == ROBOT.lower[2]


def test_run_refused_until_stand_finished():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    feed(sup, 0.0)
    sup.request("stand", 0.0)
    feed(sup, 0.5)
    ok, msg = sup.request("run", 0.5)
    assert not ok and msg == "run refused: stand not finished (0.50 of 1.00 s)"
    feed(sup, 1.0)
    assert sup.request("run", 1.0) == (True, "STANDING -> RUNNING: the policy is in control")


def test_a_target_from_before_running_is_never_obeyed_and_a_non_finite_first_target_trips_its_tick():
    """Targets stamped up to the tick RUNNING starts in were computed before the policy was in
    control (and which had arrived depended on message order): that tick holds the stand. The
    policy's first own target is checked like any other."""
    sup, t = to_state(S)
    sup.on_policy_target(t, np.full(N, np.nan), 20.0, 0.5)
    assert sup.request("run", t)[0]
    stand = sup.tick(t)
    assert sup.state is R and stand.is_finite() and np.allclose(stand.q, ROBOT.default_pose)
    sup.on_policy_target(t, np.zeros(N), 20.0, 0.5)  # late, for the same tick: ignored
    assert np.allclose(sup.tick(t).q, ROBOT.default_pose)
    dt = 1.0 / ROBOT.rate_hz
    sup.on_policy_target(t + dt, np.full(N, np.nan), 20.0, 0.5)
    cmd = sup.tick(t + dt)
    assert sup.state is D and cmd.mode == "damping" and cmd.is_finite()
    assert sup.last_cause.startswith("policy_target non-finite") and sup.events[-1].time == t + dt


def test_running_holds_stand_until_first_target_then_rate_limits():
    sup, t = to_state(R)
    feed(sup, t)
    hold = sup.tick(t)
    np.testing.assert_allclose(hold.q, ROBOT.default_pose)
    np.testing.assert_array_equal(hold.kp, ROBOT.kp)
    goal = ROBOT.default_pose.copy()
    goal[1] += 1.6  # 1.6 rad away: 4 ticks at 0.5 rad/tick
    kp, kd = np.full(N, 30.0), np.full(N, 0.8)
    prev = hold.q
    for k in range(1, 6):
        t = round(t + DT, 9)
        feed(sup, t)
        sup.on_policy_target(t, goal, kp, kd)
        cmd = sup.tick(t)
        assert sup.state is R
        assert np.all(np.abs(cmd.q - prev) <= ROBOT.safety.max_target_step + 1e-12)
        np.testing.assert_array_equal(cmd.kp, kp)
        np.testing.assert_array_equal(cmd.kd, kd)
        assert sup.clipped[1] == (k < 4)
        prev = cmd.q
    np.testing.assert_allclose(cmd.q, goal)


def test_running_clips_targets_to_joint_limits():
    sup, t = to_state(R)
    goal = ROBOT.default_pose.copy()
    goal[0] = ROBOT.upper[0] + 0.3
    for _ in range(5):
        t = round(t + DT, 9)
        feed(sup, t)
        sup.on_policy_target(t, goal, ROBOT.kp, ROBOT.kd)
        cmd = sup.tick(t)
    assert cmd.q[0] == ROBOT.upper[0] and sup.clipped[0]


def test_an_old_target_is_not_obeyed_after_run():
    sup = Supervisor(ROBOT, stand_duration=1.0)
    feed(sup, 0.0)
    sup.on_policy_target(0.0, ROBOT.upper, ROBOT.kp, ROBOT.kd)  # from a previous run
    sup.request("stand", 0.0)
    feed(sup, 1.0)
    sup.tick(1.0)
    assert sup.request("run", 1.0)[0]
    feed(sup, 1.02)
    np.testing.assert_allclose(sup.tick(1.02).q, ROBOT.default_pose)
    feed(sup, 1.1)
    assert sup.tick(1.1).mode == "position"  # 0.1 s without a target: not yet
    feed(sup, 1.12)
    cmd = sup.tick(1.12)
    assert sup.state is D and cmd.mode == "damping" and sup.last_cause.startswith("policy_target missing")


@pytest.mark.parametrize("state", [P, S, R, D])
def test_estop_latches_from_every_state_and_only_reset_clears_it(state):
    sup, t = to_state(state)
    ok, msg = sup.estop(t, True)
    assert ok and sup.state is E
    ev = sup.events[-1]
    assert (ev.time, ev.from_state, ev.cause) == (t, state, "estop")
    for _ in range(10):  # healthy inputs, time passing, repeated presses: still ESTOP
        t = round(t + DT, 9)
        feed(sup, t)
        cmd = sup.tick(t)
        assert sup.state is E and cmd.mode == "damping"
        np.testing.assert_array_equal(cmd.kp, 0.0)
        np.testing.assert_array_equal(cmd.kd, ROBOT.safety.damping_kd)
    assert sup.estop(t, True) == (True, "already ESTOP")
    for name in ("stand", "run", "damp"):
        assert not sup.request(name, t)[0] and sup.state is E
    sup.estop(t, False)  # releasing the button does not leave ESTOP
    t = round(t + DT, 9)
    feed(sup, t)
    assert sup.tick(t).mode == "damping" and sup.state is E
    assert sup.request("reset", t) == (True, "ESTOP -> PASSIVE on request: inputs fresh, joints still")
    assert sup.state is P and sup.tick(t).mode == "passive"


def test_estop_release_does_nothing_outside_estop():
    sup, t = to_state(R)
    sup.estop(t, False)
    assert sup.state is R and sup.events[-1].cause == "request run"


@pytest.mark.parametrize("state", [D, E])
def test_reset_refused_while_moving(state):
    sup, t = to_state(state)
    dq = np.zeros(N)
    dq[5] = -0.6
    feed(sup, t, dq=dq)
    ok, msg = sup.request("reset", t)
    assert not ok and msg == "reset refused: joints moving (FL_calf_joint at 0.60 rad/s, must be < 0.5)"
    dq[5] = 0.49
    feed(sup, t, dq=dq)
    assert sup.request("reset", t)[0] and sup.state is P


@pytest.mark.parametrize("state", [D, E])
def test_reset_refused_when_stale_or_non_finite(state):
    sup, t = to_state(state)
    ok, msg = sup.request("reset", t + 0.2)
    assert not ok and msg.startswith("reset refused: joint_states stale")
    feed(sup, t + 0.3)
    sup.on_imu(ImuSample(t + 0.3, np.array([1.0, 0, 0, 0]), np.array([0, np.inf, 0]), np.zeros(3)))
    ok, msg = sup.request("reset", t + 0.3)
    assert not ok and msg.startswith("reset refused: imu non-finite: gyro[1]")
    dq = np.zeros(N)
    dq[0] = np.nan
    feed(sup, t + 0.4, dq=dq)
    ok, msg = sup.request("reset", t + 0.4)
    assert not ok and "joint_states non-finite: dq[0]" in msg
    assert sup.state is state


def test_reset_allowed_when_fallen_over():
    """Attitude and joint range do not block reset: PASSIVE is how an operator picks a robot up."""
    sup, t = to_state(D)
    feed(sup, t, quat=(0.0, 1.0, 0, 0))  # upside down
    assert sup.tick(t).mode == "damping" and sup.faults
    assert sup.request("reset", t)[0]
