"""What every fake robot shares: a MuJoCo SimRobot stepped in real time at 500 Hz.

A fake robot is the far end of a real driver's wire protocol: it decodes commands exactly as the
robot would, applies the motor law every physics step (SimRobot), and answers with state. Fault
injection for tests and rehearsals: `mute()` (the robot goes silent), `vendor_controller=True`
(someone else's controller moves the joints whatever we send), `press()` (remote buttons).
`ground_truth_path`: the MuJoCo world's true base motion, one CSV line per 20 ms, so a test can
judge what the robot really did instead of trusting the stack's own estimate.
`operator="track"`: the person holding the vendor remote on a course, as the success table's
operator (lucid_ros.evaluation.steer.TrackSteer) drives in sim: left stick forward for
`operator_vx`, right stick steering the robot back to the course's line, from the world's true
pose (the operator's eyes). The sticks travel in the protocol's own remote field (Go1/SDK2
wirelessRemote, LCM rc_command), so the driver's remote relay turns them into cmd_vel.
`harness=True` (the default for humanoids): the robot hangs from the sim's elastic hoist (its
YAML's `hoist:` block, lucid_ros.sim.hoist: the same rope law and lowering schedule as
`lucid-ros sim`) while the driver starts; the fake plays the operator and lowers it onto its feet
once the stack has commanded positions for HOIST_HOLD_S of sim time. (Its own gantry before, with
explicit roll/pitch/yaw damping on the pelvis, went numerically unstable: a pelvis-yaw mode grew
x2.5 per 20 ms until a hip yaw passed its range, on loaded machines.)
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from lucid_ros.hardware.convention import VendorConvention
from lucid_ros.hardware.go1.remote import RemoteMapper, encode_remote
from lucid_ros.hardware.loop import PeriodicLoop
from lucid_ros.robots.description import RobotDescription
from lucid_ros.sim.hoist import RELEASED
from lucid_ros.types import JointCommand, JointSample

OPERATORS = ("track",)


class RemoteOperator:
    """A person with the vendor remote on a course: forward at `vx`, steered to the course's line.

    Stick deflections are what the driver's relay (RemoteMapper with the robot_driver node's
    default remote_max_vx / remote_max_wz) turns back into `vx` and TrackSteer's yaw rate."""

    def __init__(self, steer, vx: float, mapper: RemoteMapper | None = None):
        self.steer, self.mapper = steer, mapper or RemoteMapper()
        if not 0.0 <= vx <= self.mapper.max_vx:
            raise ValueError(f"operator_vx {vx}: the remote reaches 0 ... {self.mapper.max_vx} m/s forward")
        self.ly = vx / self.mapper.max_vx

    @classmethod
    def make(cls, kind: str | None, course, vx: float) -> RemoteOperator | None:
        if kind is None:
            return None
        if kind not in OPERATORS:
            raise ValueError(f"operator {kind!r}: expected one of {list(OPERATORS)}")
        from lucid_ros.evaluation.steer import TrackSteer

        return cls(TrackSteer.for_course(course), vx)

    def sticks(self, x: float, y: float, yaw: float) -> dict[str, float]:
        wz = self.steer.wz(x, y, yaw)
        return {"lx": 0.0, "ly": self.ly, "rx": -wz / self.mapper.max_wz, "ry": 0.0}


class FakeRobotBase:
    protocol = "fake"

    def __init__(self, robot: RobotDescription, course: str = "flat", start_pose: str = "lying", seed: int = 0,
                 vendor_controller: bool = False, rate_hz: float = 500.0, settle_s: float = 3.0,
                 ground_truth_path: str | None = None, ground_truth_rate_hz: float = 50.0, harness: bool | None = None,
                 operator: str | None = None, operator_vx: float = 0.5):  # fmt: skip
        from lucid_ros.sim.robot_sim import SimRobot

        self.robot = robot
        self.convention = VendorConvention.of(robot)  # the wire speaks the vendor's joint convention
        if harness is None:
            harness = robot.kind == "humanoid" and start_pose != "lying"
        if harness and robot.hoist is None:
            raise ValueError(f"{robot.name}: a fake robot in a harness needs the robot's hoist: block")
        self.sim = SimRobot(robot, course, seed=seed, hoist=robot.hoist if harness else None)
        self.sim.reset(start_pose)  # hung from the hoist unless lying (SimRobot.reset)
        self.operator = RemoteOperator.make(operator, self.sim.course, operator_vx)
        self._commanded_since: float | None = None  # sim time of the first position command
        self.substeps = max(1, round((1.0 / rate_hz) / robot.physics_dt))
        # A robot waiting for its driver rests (lying, or hanging in its harness), motors off:
        # settle before the first packet. Hung limbs would swing on for long on the models' joint
        # friction alone (a G1's for > 12 s, a hip yaw turning to its stop): a real one's gearboxes
        # damp them, and the operator starts the driver once they hang still. So a hung fake rests
        # with joint damping (HANG_KD) until its joints are still, is steadied, then goes passive.
        n = robot.n_joints
        hung = self.sim.hoist is not None
        self.sim.apply(JointCommand.damping(np.zeros(n), self.HANG_KD) if hung else JointCommand.passive(n))
        for _ in range(int(round(settle_s / (self.substeps * robot.physics_dt)))):
            self.sim.step(self.substeps)
        if hung:
            t0 = still_since = self.sim.time
            while self.sim.time - still_since < self.STILL_S and self.sim.time - t0 < self.MAX_HANG_S:
                self.sim.step(self.substeps)
                if np.abs(self.sim.joint_sample().dq).max() > self.STILL_DQ:
                    still_since = self.sim.time
            self.sim.steady()  # and the rope's sideways swing, which nothing damps, is stopped by hand
            self.sim.apply(JointCommand.passive(n))
        self.loop = PeriodicLoop(1.0 / rate_hz, name=f"fake_{self.protocol}")
        self.vendor_controller = vendor_controller
        self._home = self.sim.joint_sample().q.copy()
        self.muted = False
        self.commands_received = 0
        self.rejected = 0
        self.states_sent = 0
        self.log: deque[tuple[float, str]] = deque(maxlen=20000)  # (monotonic time, command kind)
        self.last_command: JointCommand = JointCommand.passive(robot.n_joints)
        self._lock = threading.Lock()
        self.ground_truth_path = ground_truth_path
        self._gt_written = 0  # rows already in the file
        self._gt_header_written = False
        self._gt_every = max(1, round(rate_hz / ground_truth_rate_hz))
        self._gt_rows: list[str] = []
        self._ticks = 0

    # ---- per protocol -----------------------------------------------------------------------
    def _open(self) -> None: ...

    def _close(self) -> None: ...

    def _poll_commands(self) -> None:
        """Drain pending commands; call self._accept(cmd) for each valid one."""

    def _send_state(self) -> None: ...

    # ---- shared -----------------------------------------------------------------------------
    @staticmethod
    def kind(cmd: JointCommand) -> str:
        if cmd.mode == "passive" or (not np.any(cmd.kp) and not np.any(cmd.kd) and not np.any(cmd.tau)):
            return "passive"
        if not np.any(cmd.kp) and np.any(cmd.kd):
            return "damping"
        return "position"

    def vendor_joint_sample(self) -> JointSample:
        """The sim's joints as the robot reports them (vendor sign and zero, canonical order)."""
        j = self.sim.joint_sample()
        return JointSample(j.stamp, *self.convention.state_to_vendor(j.q, j.dq, j.tau))

    def _accept(self, cmd: JointCommand) -> None:
        """A command decoded off the wire (vendor convention), applied to the model in the project's."""
        cmd = self.convention.from_vendor(cmd)
        self.commands_received += 1
        self.log.append((time.monotonic(), self.kind(cmd)))
        with self._lock:
            self.last_command = cmd

    def _tick(self) -> None:
        self._poll_commands()
        if self.vendor_controller:
            # someone else's controller: a slow sway around the start pose, whatever we are sent
            t = self.sim.time
            target = self._home + 0.3 * np.sin(2 * np.pi * 1.0 * t)
            n = self.robot.n_joints
            cmd = JointCommand(t, target, np.zeros(n), np.zeros(n), np.full(n, 40.0), np.full(n, 1.0))
        else:
            cmd = self.last_command
        self.sim.apply(cmd)
        if self.sim.hoist is not None:
            self._operate_hoist(self.kind(cmd) == "position")
        self.sim.step(self.substeps)
        if not self.muted:
            self._send_state()
            self.states_sent += 1
        self._ticks += 1
        if self.ground_truth_path and self._ticks % self._gt_every == 0:
            self._gt_rows.append(self._gt_row())
            if len(self._gt_rows) - self._gt_written >= 50:  # about once a second: a killed fake keeps its record
                self.write_ground_truth()

    HANG_KD, STILL_DQ, STILL_S, MAX_HANG_S = 2.0, 0.02, 0.5, 30.0  # N*m*s/rad, rad/s, s, s: hung limbs at rest before the driver starts
    HOIST_HOLD_S = 3.5  # s of sim time the operator waits, after the first position command, before lowering

    def _operate_hoist(self, commanded: bool) -> None:
        """The operator's part: lower the hoist once the stack has held the robot HOIST_HOLD_S."""
        t = self.sim.time
        if commanded and self._commanded_since is None:
            self._commanded_since = t
        if self._commanded_since is not None and t - self._commanded_since >= self.HOIST_HOLD_S:
            self.sim.lower_hoist(t)  # ignored once lowering or released

    @property
    def hoisted(self) -> bool:
        """Does the hoist still carry (part of) the robot?"""
        return self.sim.hoist is not None and self.sim.hoist.phase(self.sim.time) != RELEASED

    GT_HEADER = "wall_time,sim_time,x,y,z,qw,qx,qy,qz,vx_body,vy_body,vz_body,wx_body,wy_body,wz_body,harness,command"

    def _gt_row(self) -> str:
        g = self.sim.ground_truth()
        held = self.hoisted
        vals = [time.time(), g.stamp, *g.pos, *g.quat, *g.lin_vel_body, *g.ang_vel_body, float(held)]
        return ",".join(f"{v:.6f}" for v in vals) + f",{self.kind(self.last_command)}"

    def write_ground_truth(self) -> None:
        """Append the rows not yet on disk (the header first); stop() writes the rest."""
        if not self.ground_truth_path:
            return
        rows = list(self._gt_rows)
        new = rows[self._gt_written :]
        with open(self.ground_truth_path, "a" if self._gt_written or self._gt_header_written else "w") as f:
            if not self._gt_header_written:
                f.write(self.GT_HEADER + "\n")
                self._gt_header_written = True
            f.write("".join(r + "\n" for r in new))
        self._gt_written = len(rows)

    def start(self):
        self._open()
        self.loop.start(self._tick)
        return self

    def stop(self) -> None:
        self.loop.stop()
        self._close()
        self.write_ground_truth()

    def mute(self, muted: bool = True) -> None:
        self.muted = muted

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def press(self, buttons: tuple[str, ...], seconds: float = 0.3) -> None:
        """Hold remote buttons (e.g. ("L2", "B")) for `seconds`: the remote bytes in the state say so."""
        self._pressed = (frozenset(buttons), time.monotonic() + seconds)

    def held_buttons(self) -> frozenset[str]:
        held, until = getattr(self, "_pressed", (frozenset(), 0.0))
        return held if time.monotonic() < until else frozenset()

    def sticks(self) -> dict[str, float]:
        """The remote's sticks now (lx, ly, rx, ry in [-1, 1]): the operator's, else centred."""
        if self.operator is None:
            return {"lx": 0.0, "ly": 0.0, "rx": 0.0, "ry": 0.0}
        return self.operator.sticks(*self.sim.planar_pose())

    def remote_bytes(self) -> bytes:
        return encode_remote(self.held_buttons(), **self.sticks())

    def commands_since(self, t: float) -> list[tuple[float, str]]:
        return [(ts, k) for ts, k in list(self.log) if ts >= t]

    def run_forever(self) -> None:
        """For `lucid-ros fake-robot`: serve until interrupted, a status line every 5 s."""
        import sys

        self.start()
        try:
            while True:
                time.sleep(5.0)
                s = self.loop.stats()
                print(f"[fake-robot {self.protocol}] t={self.sim.time:.1f}s commands={self.commands_received} "
                      f"rejected={self.rejected} states={self.states_sent} period p50={s['period_p50_ms']:.2f} "
                      f"p99={s['period_p99_ms']:.2f} ms", file=sys.stderr, flush=True)  # fmt: skip
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
