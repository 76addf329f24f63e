"""The safety supervisor: a deterministic state machine between the policy and the motors.

The node feeds it inputs (`on_joints`, `on_imu`, `on_policy_target`, `on_camera`), forwards
service calls to `request()` and the `safety/estop` topic to `estop()`, and publishes what
`tick(now)` returns on `joint_commands` — the only command a backend obeys. Nothing here reads
a clock: every decision is a function of the inputs and the `now` passed in, so every decision
is reproducible in a unit test and in a replayed bag.

The transition table and its guards are in `states.py`; the checks in `checks.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lucid_ros.robots.description import RobotDescription
from lucid_ros.safety import checks
from lucid_ros.safety.limits import clip_targets
from lucid_ros.safety.states import REQUESTS, Event, SafetyState, allowed
from lucid_ros.types import ImuSample, JointCommand, JointSample

P, S, R, D, E = SafetyState.PASSIVE, SafetyState.STANDING, SafetyState.RUNNING, SafetyState.DAMPING, SafetyState.ESTOP

RESET_MAX_SPEED = 0.5  # rad/s: every joint must be slower than this to leave DAMPING/ESTOP


@dataclass
class _Target:
    stamp: float
    q: object
    kp: object
    kd: object


def _copy(x: object) -> object:
    """A private float copy (drivers reuse buffers); garbage is kept as-is for the checks to name."""
    try:
        return np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        return x


class Supervisor:
    """PASSIVE / STANDING / RUNNING / DAMPING / ESTOP, driven by requests, inputs and `tick`.

    `require_camera`: the policy reads images, so a stale camera is a fault like a stale IMU
    (in every state: a robot should not stand up for a policy that cannot see).
    `stand_duration`: seconds of the stand interpolation (default: the robot's `stand.duration`).
    """

    def __init__(
        self,
        robot: RobotDescription,
        require_camera: bool = False,
        stand_duration: float | None = None,
        reset_max_speed: float = RESET_MAX_SPEED,
    ):
        if robot.safety is None:
            raise ValueError(f"robot '{robot.name}' has no safety limits")
        self.robot = robot
        self.limits = robot.safety
        self.n = robot.n_joints
        self.require_camera = require_camera
        self.stand_duration = float(robot.stand_duration if stand_duration is None else stand_duration)
        self.reset_max_speed = reset_max_speed
        self._state = P
        self._events: list[Event] = []
        self._faults: tuple[str, ...] = ()
        self._joints: JointSample | None = None
        self._imu: ImuSample | None = None
        self._target: _Target | None = None
        self._camera_stamp: float | None = None
        self._stand_q0 = np.zeros(self.n)
        self._stand_t0 = 0.0
        self._run_t0 = 0.0
        self._prev_q: np.ndarray | None = None  # last position target emitted (rate-limit reference)
        self.clipped = np.zeros(self.n, dtype=bool)  # which joints clip_targets touched last tick
        self.last_command: JointCommand = JointCommand.passive(self.n)

    # ---- read-only view -------------------------------------------------------------------
    @property
    def state(self) -> SafetyState:
        return self._state

    @property
    def events(self) -> list[Event]:
        return list(self._events)

    @property
    def faults(self) -> list[str]:
        """Active fault causes found by the latest tick/request/check (empty when healthy)."""
        return list(self._faults)

    @property
    def last_cause(self) -> str:
        """Cause of the latest transition ('' before the first)."""
        return self._events[-1].cause if self._events else ""

    def stand_progress(self, now: float) -> float:
        """0..1 along the stand interpolation (1 once finished; 0 outside STANDING)."""
        if self._state is not S:
            return 0.0
        if now >= self._stand_t0 + self.stand_duration:  # the same test AutoSequence uses
            return 1.0
        return float(np.clip((now - self._stand_t0) / self.stand_duration, 0.0, 1.0))

    def stand_finished_at(self) -> float | None:
        """Time at which the current stand completes (None outside STANDING)."""
        return self._stand_t0 + self.stand_duration if self._state is S else None

    # ---- inputs -----------------------------------------------------------------------------
    def on_joints(self, sample: JointSample) -> None:
        self._joints = JointSample(sample.stamp, _copy(sample.q), _copy(sample.dq), _copy(sample.tau))

    def on_imu(self, sample: ImuSample) -> None:
        self._imu = ImuSample(sample.stamp, _copy(sample.quat), _copy(sample.gyro), _copy(sample.acc))

    def on_policy_target(self, stamp: float, q: np.ndarray, kp: np.ndarray | float, kd: np.ndarray | float) -> None:
        """Targets in canonical order; scalar gains apply to every joint. While RUNNING, one stamped at
        or before the tick RUNNING began is ignored (see _transition)."""
        if self._state is R and self._run_t0 is not None and stamp <= self._run_t0 + 1e-9:
            return
        kp, kd = _copy(kp), _copy(kd)
        if isinstance(kp, np.ndarray) and kp.ndim == 0:
            kp = np.full(self.n, float(kp))
        if isinstance(kd, np.ndarray) and kd.ndim == 0:
            kd = np.full(self.n, float(kd))
        self._target = _Target(stamp, _copy(q), kp, kd)

    def on_camera(self, stamp: float) -> None:
        self._camera_stamp = stamp

    # ---- checks -----------------------------------------------------------------------------
    def check(self, now: float) -> list[str]:
        """Run every check that applies in the current state; updates and returns `faults`."""
        self._faults = tuple(self._evaluate(now))
        return list(self._faults)

    def _sensor_fault(self, name: str, now: float) -> str | None:
        if name == checks.JOINTS:
            s, timeout = self._joints, self.limits.joint_states_timeout
            err = checks.check_joint_sample(s, self.n)
        else:
            s, timeout = self._imu, self.limits.imu_timeout
            err = checks.check_imu_sample(s)
        return err or checks.check_stale(name, s.stamp, now, timeout)

    def _evaluate(self, now: float) -> list[str]:
        faults = []
        err = self._sensor_fault(checks.JOINTS, now)
        faults.append(err or checks.check_joint_range(self._joints.q, self.robot))
        err = self._sensor_fault(checks.IMU, now)
        faults.append(err or checks.check_attitude(self._imu.quat, self.limits))
        if self.require_camera:
            faults.append(checks.check_stale(checks.CAMERA, self._camera_stamp, now, self.limits.camera_timeout))
        if self._state is R:
            faults.append(self._policy_fault(now))
        return [f for f in faults if f]

    def _policy_fault(self, now: float) -> str | None:
        t, timeout = self._target, self.limits.policy_timeout
        if t is None:
            age = now - self._run_t0
            if not age <= timeout + checks.STALE_EPS:
                return f"{checks.POLICY} missing: none in {age:.3f} s since RUNNING began (timeout {timeout:.3f} s)"
            return None
        return checks.check_policy_target(t.q, t.kp, t.kd, self.n) or checks.check_stale(checks.POLICY, t.stamp, now, timeout)

    # ---- requests ---------------------------------------------------------------------------
    def request(self, name: str, now: float) -> tuple[bool, str]:
        """A service call: 'stand', 'run', 'damp' or 'reset'. Returns (accepted, message)."""
        if name not in REQUESTS:
            return False, f"unknown request '{name}' (known: {', '.join(REQUESTS)})"
        return getattr(self, f"_request_{name}")(now)

    def _refuse_state(self, name: str, rule: str) -> tuple[bool, str]:
        return False, f"{name} refused: state is {self._state.value}; {rule}"

    def _request_stand(self, now: float) -> tuple[bool, str]:
        if self._state is S:
            return True, f"already STANDING ({self.stand_progress(now):.0%} done)"
        if allowed(self._state, "stand") is None:
            return self._refuse_state("stand", "stand is only allowed from PASSIVE")
        faults = self.check(now)
        if faults:
            return False, "stand refused: " + "; ".join(faults)
        msg = f"PASSIVE -> STANDING: to the default pose over {self.stand_duration:.2f} s"
        self._transition(now, "stand", "request stand", msg)
        return True, msg

    def _request_run(self, now: float) -> tuple[bool, str]:
        if self._state is R:
            return True, "already RUNNING"
        if allowed(self._state, "run") is None:
            return self._refuse_state("run", "run is only allowed from STANDING once the stand has finished")
        if self.stand_progress(now) < 1.0:
            return False, f"run refused: stand not finished ({now - self._stand_t0:.2f} of {self.stand_duration:.2f} s)"
        faults = self.check(now)
        if faults:
            return False, "run refused: " + "; ".join(faults)
        # The policy target is not a guard: the policy may only start once RUNNING (this tick holds
        # the stand), and a bad or missing target of its own trips before any command is built from it.
        msg = "STANDING -> RUNNING: the policy is in control"
        self._transition(now, "run", "request run", msg)
        return True, msg

    def _request_damp(self, now: float) -> tuple[bool, str]:
        if self._state is D:
            return True, "already DAMPING"
        if allowed(self._state, "damp") is None:
            return self._refuse_state("damp", "ESTOP is latched and only reset leaves it")
        msg = f"{self._state.value} -> DAMPING on request"
        self._transition(now, "damp", "request damp", msg)
        return True, msg

    def _request_reset(self, now: float) -> tuple[bool, str]:
        if self._state is P:
            return True, "already PASSIVE"
        if allowed(self._state, "reset") is None:
            return self._refuse_state("reset", "reset only leaves DAMPING or ESTOP (call damp first)")
        for name in (checks.JOINTS, checks.IMU):
            err = self._sensor_fault(name, now)
            if err:
                return False, "reset refused: " + err
        i, speed = checks.max_speed(self._joints.dq)
        if not speed < self.reset_max_speed:
            name = self.robot.joint_names[i]
            return False, f"reset refused: joints moving ({name} at {speed:.2f} rad/s, must be < {self.reset_max_speed:g})"
        msg = f"{self._state.value} -> PASSIVE on request: inputs fresh, joints still"
        self._transition(now, "reset", "request reset", msg)
        return True, msg

    def estop(self, now: float, engaged: bool) -> tuple[bool, str]:
        """`safety/estop`: true engages ESTOP at once and latches; false changes nothing (only
        `reset` leaves ESTOP). A button still held re-engages ESTOP with its next true message."""
        if not engaged:
            return True, "estop false: state unchanged (only reset leaves ESTOP)"
        if self._state is E:
            return True, "already ESTOP"
        msg = f"{self._state.value} -> ESTOP: safety/estop engaged"
        self._transition(now, "estop", "estop", msg)
        return True, msg

    # ---- output -----------------------------------------------------------------------------
    def tick(self, now: float) -> JointCommand:
        """Check everything, trip if needed, and return the command to publish (stamp = now)."""
        faults = self.check(now)
        if faults and self._state in (S, R):
            self._transition(now, "trip", faults[0], "; ".join(faults))
        cmd = self._command(now)
        if not cmd.is_finite():  # unreachable unless a check is missing; never publish it
            if self._state in (S, R):
                self._transition(now, "trip", "internal: non-finite command", "supervisor bug: a check let a non-finite value through")
            cmd = JointCommand.damping(np.zeros(self.n), self.limits.damping_kd, now)
        self.last_command = cmd
        return cmd

    def _command(self, now: float) -> JointCommand:
        self.clipped = np.zeros(self.n, dtype=bool)
        if self._state is P:
            self._prev_q = None
            return JointCommand.passive(self.n, now)
        if self._state in (D, E):
            self._prev_q = None
            return JointCommand.damping(self._measured_q(), self.limits.damping_kd, now)
        kp, kd = self.robot.kp, self.robot.kd
        if self._state is S:
            a = self.stand_progress(now)
            s = a * a * (3.0 - 2.0 * a)  # smoothstep: zero commanded velocity at both ends
            q = self._stand_q0 + s * (self.robot.default_pose - self._stand_q0)
        elif self._target is None:  # RUNNING, the first target not here yet: hold the stand
            q = self._prev_q if self._prev_q is not None else self.robot.default_pose
        else:
            q, kp, kd = self._target.q, self._target.kp, self._target.kd
        q, self.clipped = clip_targets(q, self._prev_q, self.robot)
        self._prev_q = q
        z = np.zeros(self.n)
        return JointCommand(now, q.copy(), z, z.copy(), np.array(kp, dtype=np.float64), np.array(kd, dtype=np.float64), "position")

    def _measured_q(self) -> np.ndarray:
        """Measured q if it is whole and finite, else zeros (with kp = 0 it only labels the command)."""
        try:
            q = np.asarray(self._joints.q, dtype=np.float64).reshape(-1)
        except (AttributeError, TypeError, ValueError):
            return np.zeros(self.n)
        return q.copy() if q.size == self.n and np.all(np.isfinite(q)) else np.zeros(self.n)

    def _transition(self, now: float, trigger: str, cause: str, detail: str) -> None:
        nxt = allowed(self._state, trigger)
        if nxt is None:
            raise AssertionError(f"no transition {self._state.value} --{trigger}-->")  # a guard was skipped
        self._events.append(Event(float(now), self._state, nxt, cause, detail))
        self._state = nxt
        if nxt is S:
            self._stand_q0 = np.clip(self._measured_q(), self.robot.lower, self.robot.upper)
            self._stand_t0 = float(now)
            self._prev_q = None
        elif nxt is R:
            # Targets stamped up to now were computed before the policy was in control (its state not
            # yet reset), and which of them had arrived depended on message order: the tick that
            # starts RUNNING holds the stand, and the policy's first target is for the tick after.
            self._run_t0 = float(now)
            self._target = None


class AutoSequence:
    """Walks a supervisor PASSIVE -> STANDING -> RUNNING once, for `lucid-ros sim`.

    Stand is requested on the first step `settle` s after the first at which no fault is active
    (inputs fresh, pose sane);
    run once the stand has finished and `hold` more seconds have passed. It never retries: a trip
    or an operator's request (anything it did not cause) ends it, so a trip in sim stays visible
    instead of being papered over by an automatic re-stand.

    With `hoist` (a humanoid hung from the sim's hoist) it does the operator's step in between:
    `hold` seconds after the stand has finished, step() returns a "lower_hoist" request (the node
    forwards it to the hoist), and the run waits until `hold` seconds after the release time the
    hoist announces (`hoist_released_at`). Every decision compares tick stamps, i.e. sim time.
    """

    def __init__(self, supervisor: Supervisor, hold: float = 0.0, enabled: bool = True, hoist: bool = False, settle: float = 0.0):
        self.sup = supervisor
        self.hold = hold
        self.settle = settle  # sim s from the first step before stand is asked (see step)
        self._first: float | None = None
        self.hoist = hoist
        self._released_at: float | None = None
        self._phase = "stand" if enabled else "done"
        self.log: list[tuple[float, str, bool, str]] = []  # (time, request, ok, message)

    @property
    def done(self) -> bool:
        return self._phase == "done"

    def cancel(self) -> None:
        """An operator took over (the node calls this on any external request)."""
        self._phase = "done"

    def hoist_released_at(self, t: float) -> None:
        """The hoist will be (or was) released at sim time t (-inf: the robot was never hung)."""
        self._released_at = float(t)

    def step(self, now: float) -> tuple[str, bool, str] | None:
        """Call once per tick before `tick`; returns the request it made, if any."""
        st = self.sup.state
        if self._first is None:
            self._first = now
        if self._phase == "stand":
            if st is not P:
                self._phase = "done"
            elif now >= self._first + self.settle - 1e-9 and not self.sup.check(now):
                # not before `settle`: whether the first IMU sample or camera_info had arrived by
                # tick 1 or 2 depended on message order, and with it the tick of the stand
                return self._request("stand", now, next_phase="lower" if self.hoist else "run")
        elif self._phase in ("lower", "run"):
            finish = self.sup.stand_finished_at()
            if st is not S or finish is None:
                self._phase = "done"
            elif self._phase == "lower" and self._released_at is not None:
                self._phase = "lowered"  # never hung (or already down): nothing to lower
            elif now >= finish + self.hold:
                if self._phase == "lower":
                    self._phase = "lowered"
                    self.log.append((now, "lower_hoist", True, "stand finished: lowering the hoist"))
                    return "lower_hoist", True, "stand finished: lowering the hoist"
                return self._request("run", now, next_phase="done")
        elif self._phase == "lowered":
            finish = self.sup.stand_finished_at()
            if st is not S or finish is None:
                self._phase = "done"
            elif self._released_at is not None and now >= max(finish, self._released_at) + self.hold:
                return self._request("run", now, next_phase="done")
        return None

    def _request(self, name: str, now: float, next_phase: str) -> tuple[str, bool, str]:
        ok, msg = self.sup.request(name, now)
        if ok:
            self._phase = next_phase
        if not self.log or self.log[-1][1:] != (name, ok, msg):  # a refusal repeated each tick once
            self.log.append((now, name, ok, msg))
        return name, ok, msg
