"""Trips: NaN and staleness of each input, attitude, joint range; faults outside STANDING/RUNNING;
the output is finite whatever comes in; events carry time and cause."""

import numpy as np
import pytest

from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.robots import load_robot
from lucid_ros.safety import SafetyState, Supervisor
from lucid_ros.types import ImuSample, JointSample

ROBOT = load_robot("go1", check_models=False)
N = ROBOT.n_joints
DT = 1.0 / ROBOT.rate_hz
LIM = ROBOT.safety
P, S, R, D, E = SafetyState.PASSIVE, SafetyState.STANDING, SafetyState.RUNNING, SafetyState.DAMPING, SafetyState.ESTOP
LEVEL = np.array([1.0, 0, 0, 0])


class Rig:
    """Feeds a supervisor healthy inputs each tick, except those a test withholds or spoils."""

    def __init__(self, require_camera=False):
        self.sup = Supervisor(ROBOT, require_camera=require_camera, stand_duration=0.2)
        self.t = 0.0

    def step(self, t=None, joints=True, imu=True, target=True, camera=True, **spoil):
        self.t = round(self.t + DT, 9) if t is None else t
        j = dict(q=ROBOT.default_pose.copy(), dq=np.zeros(N), tau=np.zeros(N))
        i = dict(quat=LEVEL.copy(), gyro=np.zeros(3), acc=np.array([0, 0, 9.81]))
        g = dict(q=ROBOT.default_pose.copy(), kp=ROBOT.kp.copy(), kd=ROBOT.kd.copy())
        for key, value in spoil.items():  # e.g. joints_q=..., imu_gyro=..., target_kp=...
            src, field = key.split("_", 1)
            {"joints": j, "imu": i, "target": g}[src][field] = value
        if joints:
            self.sup.on_joints(JointSample(self.t, j["q"], j["dq"], j["tau"]))
        if imu:
            self.sup.on_imu(ImuSample(self.t, i["quat"], i["gyro"], i["acc"]))
        if target:
            self.sup.on_policy_target(self.t, g["q"], g["kp"], g["kd"])
        if camera:
            self.sup.on_camera(self.t)
        return self.sup.tick(self.t)

    def to(self, state):
        self.step(t=0.0)
        if state in (S, R):
            assert self.sup.request("stand", self.t)[0]
        if state is R:
            while self.sup.stand_progress(self.t) < 1.0:
                self.step()
            assert self.sup.request("run", self.t)[0]
        if state is D:
            self.sup.request("damp", self.t)
        if state is E:
            self.sup.estop(self.t, True)
        self.step()
        assert self.sup.state is state and not self.sup.faults
        return self


def spoiled(value, size, index):
    a = np.zeros(size) if size != 4 else LEVEL.copy()
    a[index] = value
    return a


SPOILS = [
    ("joints_q", N, "joint_states non-finite: q[4]"),
    ("joints_dq", N, "joint_states non-finite: dq[4]"),
    ("joints_tau", N, "joint_states non-finite: tau[4]"),
    ("imu_quat", 4, "imu non-finite: quat[2]"),
    ("imu_gyro", 3, "imu non-finite: gyro[2]"),
    ("imu_acc", 3, "imu non-finite: acc[2]"),
]


@pytest.mark.parametrize("state", [S, R])
@pytest.mark.parametrize("key,size,cause", SPOILS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_sensor_trips_on_the_next_tick(state, key, size, cause, bad):
    rig = Rig().to(state)
    idx = 4 if size == N else 2
    value = spoiled(bad, size, idx)
    if key == "joints_q":
        value = ROBOT.default_pose.copy()
        value[idx] = bad
    cmd = rig.step(**{key: value})
    assert rig.sup.state is D and cmd.mode == "damping" and cmd.is_finite()
    assert rig.sup.last_cause.startswith(cause)
    ev = rig.sup.events[-1]
    assert (ev.time, ev.from_state, ev.to_state) == (rig.t, state, D)


@pytest.mark.parametrize("field,cause", [("q", "policy_target non-finite: q[0]"), ("kp", "policy_target non-finite: kp[0]"), ("kd", "policy_target non-finite: kd[0]")])
def test_non_finite_policy_target_trips_running(field, cause):
    rig = Rig().to(R)
    value = np.zeros(N)
    value[0] = np.nan
    cmd = rig.step(**{f"target_{field}": value})
    assert rig.sup.state is D and rig.sup.last_cause.startswith(cause) and cmd.is_finite()


def test_policy_target_is_ignored_outside_running():
    rig = Rig().to(S)
    rig.step(target_q=np.full(N, np.nan))
    assert rig.sup.state is S and not rig.sup.faults


@pytest.mark.parametrize(
    "withhold,timeout,cause",
    [
        ("joints", LIM.joint_states_timeout, "joint_states stale"),
        ("imu", LIM.imu_timeout, "imu stale"),
        ("target", LIM.policy_timeout, "policy_target stale"),
        ("camera", LIM.camera_timeout, "camera stale"),
    ],
)
def test_each_input_trips_after_exactly_its_timeout(withhold, timeout, cause):
    rig = Rig(require_camera=True).to(R)
    last = rig.t
    for frac in (0.25, 0.5, 0.99, 1.0):  # not before: at exactly the timeout it is still fresh
        rig.step(t=last + frac * timeout, **{withhold: False})
        assert rig.sup.state is R, (frac, rig.sup.faults)
    cmd = rig.step(t=last + timeout + 1e-6, **{withhold: False})
    assert rig.sup.state is D and cmd.mode == "damping"
    assert rig.sup.last_cause.startswith(cause)
    assert rig.sup.events[-1].time == last + timeout + 1e-6


def test_staleness_trips_standing_too():
    rig = Rig().to(S)
    last = rig.t
    rig.step(t=last + LIM.imu_timeout, imu=False)
    assert rig.sup.state is S
    rig.step(t=last + LIM.imu_timeout + DT, imu=False)
    assert rig.sup.state is D and rig.sup.last_cause.startswith("imu stale")


def test_camera_only_matters_when_required():
    rig = Rig(require_camera=False).to(R)
    for _ in range(100):
        rig.step(camera=False)
    assert rig.sup.state is R
    rig = Rig(require_camera=True)
    rig.step(t=0.0, camera=False)
    ok, msg = rig.sup.request("stand", 0.0)
    assert not ok and "camera missing" in msg


@pytest.mark.parametrize("rpy,cause", [((1.05, 0, 0), "imu attitude: roll"), ((0, -1.05, 0), "imu attitude: pitch")])
def test_roll_pitch_trip(rpy, cause):
    rig = Rig().to(R)
    rig.step(imu_quat=rpy_to_quat([0.95 * x for x in rpy]))
    assert rig.sup.state is R
    rig.step(imu_quat=rpy_to_quat(rpy))
    assert rig.sup.state is D and rig.sup.last_cause.startswith(cause)


def test_joint_beyond_1_1_range_trips():
    rig = Rig().to(R)
    q = ROBOT.default_pose.copy()
    q[8] = ROBOT.lower[8] - 0.06 * (ROBOT.upper[8] - ROBOT.lower[8])
    rig.step(joints_q=q)
    assert rig.sup.state is D and rig.sup.last_cause.startswith("joint_states out of range: RR_calf_joint")


def test_faults_while_passive_are_reported_but_stay_passive():
    rig = Rig()
    cmd = rig.step(t=0.0, joints_q=np.full(N, np.nan))
    assert rig.sup.state is P and cmd.mode == "passive"
    assert rig.sup.faults == ["joint_states non-finite: q[0]=nan"]
    cmd = rig.step(t=1.0, joints=False, imu=False)
    assert rig.sup.state is P and len(rig.sup.faults) == 2 and rig.sup.events == []


@pytest.mark.parametrize("state", [D, E])
def test_faults_in_damping_and_estop_do_not_change_state(state):
    rig = Rig().to(state)
    q = ROBOT.default_pose + 0.1
    cmd = rig.step(joints_q=q, imu_gyro=np.full(3, np.inf))
    assert rig.sup.state is state and rig.sup.faults[0].startswith("imu non-finite")
    np.testing.assert_allclose(cmd.q, q)  # damping labels the command with the measured pose
    cmd = rig.step(t=rig.t + 5.0, joints=False, imu=False)
    assert rig.sup.state is state and cmd.mode == "damping"


def test_damping_with_non_finite_measured_q_emits_zeros():
    rig = Rig().to(R)
    q = ROBOT.default_pose.copy()
    q[0] = np.inf
    cmd = rig.step(joints_q=q)
    assert cmd.mode == "damping" and cmd.is_finite()
    np.testing.assert_array_equal(cmd.q, 0.0)
    np.testing.assert_array_equal(cmd.kp, 0.0)


def test_trip_event_records_time_cause_and_every_fault():
    rig = Rig().to(R)
    rig.step(t=rig.t + 1.0, joints=False, imu=False)
    ev = rig.sup.events[-1]
    assert ev.time == rig.t and ev.from_state is R and ev.to_state is D
    assert ev.cause.startswith("joint_states stale") and "imu stale" in ev.detail and "policy_target" not in ev.cause
    assert ev.as_dict()["to"] == "DAMPING"
    assert [e.cause for e in rig.sup.events] == ["request stand", "request run", ev.cause]


GARBAGE = [np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, 1.0]


def garbage(rng, size, around=0.0, scale=1.0, bad=0.1):
    """Plausible numbers around `around`; with probability ~`bad`: NaN/inf/huge values, a wrong
    size, or something that is not numeric at all."""
    roll = rng.random()
    if roll < bad / 2:
        return "not a number"
    if roll < bad:
        return np.zeros(size + int(rng.integers(1, 3)))
    a = around + rng.normal(0, scale, size)
    spoil = rng.random(size) < bad
    a[spoil] = rng.choice(GARBAGE, spoil.sum())
    return a


def test_output_is_always_finite_over_random_garbage():
    rng = np.random.default_rng(1234)
    visited = set()
    for episode in range(24):
        bad = [0.0, 0.001, 0.01, 0.1][episode % 4]  # some episodes get far enough to run
        sup = Supervisor(ROBOT, require_camera=bool(episode % 3 == 0), stand_duration=float(rng.uniform(0, 0.5)))
        t = 0.0
        for _ in range(300):
            if rng.random() < bad:
                t += float(rng.choice([0.0, -DT, 0.3]))
            t += DT
            stamp = t if rng.random() >= bad else t + float(rng.choice([-1.0, 50.0, np.nan]))
            if rng.random() < 0.97:
                sup.on_joints(JointSample(stamp, garbage(rng, N, ROBOT.default_pose, 0.1, bad), garbage(rng, N, 0, 0.05, bad), garbage(rng, N, 0, 1, bad)))
            if rng.random() < 0.97:
                sup.on_imu(ImuSample(stamp, garbage(rng, 4, LEVEL, 0.02, bad), garbage(rng, 3, 0, 1, bad), garbage(rng, 3, 0, 1, bad)))
            if rng.random() < 0.97:
                kd = rng.choice(GARBAGE) if rng.random() < bad else 0.5
                sup.on_policy_target(stamp, garbage(rng, N, ROBOT.default_pose, 1.0, bad), garbage(rng, N, 20.0, 1.0, bad), kd)
            if rng.random() < 0.97:
                sup.on_camera(stamp)
            if rng.random() < 0.1:
                sup.request(str(rng.choice(["stand", "run", "run", "damp", "reset"])), t)
            if rng.random() < 0.005:
                sup.estop(t, bool(rng.random() < 0.5))
            cmd = sup.tick(t)
            visited.add(sup.state)
            assert cmd.is_finite(), (sup.state, sup.faults)
            assert all(np.shape(a) == (N,) for a in (cmd.q, cmd.dq, cmd.tau, cmd.kp, cmd.kd))
            if cmd.mode == "position":
                assert np.all(cmd.q >= ROBOT.lower) and np.all(cmd.q <= ROBOT.upper)
    assert visited == set(SafetyState), f"the random inputs only reached {visited}"
