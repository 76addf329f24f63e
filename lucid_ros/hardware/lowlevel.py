"""What every low-level driver shares: dry-run, the 500 Hz send thread, the dead-man watchdog,
robot-silence detection and the start-up plausibility checks. Protocols subclass `LowLevelDriver`
and implement only the transport: `_open`, `_close`, `_receive` (decode one message into a
Reading, or None) and `_transmit` (encode + send one JointCommand, canonical order).

Safety rules enforced here, whatever the graph does:
- nothing is transmitted unless `arm=True`; a dry-run encodes every packet and counts it;
- the send loop always sends the newest *safe* command: the last write() if it is younger than
  `command_timeout` (0.1 s) and finite, else damping (kp = 0, kd = the robot's damping gain);
- the robot silent for more than `silence_timeout` (0.05 s): read() returns None, health() is
  ERROR and `on_fault` is called once, so the node can ask the supervisor to damp;
- activate() refuses an implausible robot (pose out of range, asymmetric legs, joints moving
  while we command zero torque) and names the problem.

Hooks for a driver run in its own process (lucid_ros/hardware/motor_process.py): `command_source`
replaces write() as where the send loop takes the newest command (a shared-memory record),
`reading_sink` receives every valid reading, `tick_hook` runs after every send.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable

import numpy as np

from lucid_ros.hardware import plausibility
from lucid_ros.hardware.interface import ActivationRefused, HardwareInterface, Health, Reading
from lucid_ros.hardware.loop import PeriodicLoop
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import JointCommand

log = logging.getLogger("lucid_ros.hardware")


class LowLevelDriver(HardwareInterface):
    backend = "lowlevel"

    def __init__(
        self,
        robot: RobotDescription,
        arm: bool = False,
        send_rate_hz: float = 500.0,
        command_timeout: float = 0.1,
        silence_timeout: float = 0.05,
        state_timeout: float = 2.0,
        probe_duration: float = 0.3,
        still_tolerance: float = 0.05,
        pose_margin: float = 0.15,
        symmetry_tolerance: float = 0.8,
        check_plausibility: bool = True,
        on_fault: Callable[[str, str], None] | None = None,
    ):
        self.robot = robot
        self.n = robot.n_joints
        self.armed = bool(arm)
        self.send_period = 1.0 / send_rate_hz
        self.command_timeout = command_timeout
        self.silence_timeout = silence_timeout
        self.state_timeout = state_timeout
        self.probe_duration = probe_duration
        self.still_tolerance = still_tolerance
        self.pose_margin = pose_margin
        self.symmetry_tolerance = symmetry_tolerance
        self.check_plausibility = check_plausibility
        self.on_fault = on_fault
        self.damping_kd = robot.safety.damping_kd
        self.state = "unconfigured"
        self.refusal = ""
        self.loop = PeriodicLoop(self.send_period, name=f"{self.backend}_send")
        self._lock = threading.Lock()
        self._latest: Reading | None = None
        self._last_rx = None  # monotonic time of the newest valid state
        self._last_poll = 0.0  # monotonic time the receive thread last returned (packet or timeout)
        self._cmd: JointCommand | None = None
        self._cmd_rx = None  # monotonic time of the newest write()
        self._sending = False  # send loop applies commands (after activation) vs passive probe
        self._history: list[np.ndarray] | None = None
        self._rx_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._silent = False
        self._watchdog_active = False
        self.watchdog_fired: tuple[float, float] | None = None
        self.fault: str | None = None  # latched by the protocol (e.g. PowerProtect) -> damping
        self._last_cmd_rx: float | None = None  # newest command time the send loop has seen
        self._commands_on = False  # between activate() and deactivate(): commands may pass
        self.command_source: Callable[[float], tuple[JointCommand | None, float | None]] | None = None
        self.reading_sink: Callable[[Reading], None] | None = None
        self.tick_hook: Callable[[float, str], None] | None = None
        self.counters = {"sent": 0, "dry_run_encoded": 0, "received": 0, "watchdog_trips": 0, "silences": 0, "nonfinite_commands": 0,
                         "tick_hook_errors": 0}  # fmt: skip

    # ---- transport, per protocol --------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _receive(self) -> Reading | None:
        """Block up to ~10 ms for one message; return a Reading in canonical order or None."""

    @abstractmethod
    def _transmit(self, cmd: JointCommand, send: bool) -> None:
        """Encode `cmd` (canonical order); put it on the wire only if `send`."""

    def _protocol_values(self) -> dict:
        return {}

    # ---- lifecycle --------------------------------------------------------------------------
    def configure(self) -> None:
        if self.state != "unconfigured":
            return
        self._open()
        self._stop.clear()
        self._rx_thread = threading.Thread(target=self._rx_loop, name=f"{self.backend}_recv", daemon=True)
        self._rx_thread.start()
        self.state = "inactive"
        log.info("%s configured (%s)", self.backend, "ARMED: commands will be sent" if self.armed else "dry-run: nothing will be sent")

    def activate(self) -> None:
        if self.state == "unconfigured":
            self.configure()
        if self.state == "active":
            return
        self.refusal = ""
        self._history = []
        # Armed: the send loop starts now with zero-torque packets (the vendor's stop values), which a
        # robot in low-level mode needs before it answers; dry-run: it encodes them and sends nothing.
        self._sending = False
        if not self.loop.running:
            self.loop.start(self._send_tick)
        got = self._wait_for_state(self.state_timeout)
        if not got:
            if self.armed:
                self._refuse(
                    f"no valid state from the robot within {self.state_timeout:.1f} s ({self._where()}); "
                    "is it powered, in low-level mode, and is this machine on its network?"
                )
            log.warning("%s dry-run: no state from the robot yet (%s); activating anyway, nothing is sent", self.backend, self._where())
        else:
            t_end = time.monotonic() + self.probe_duration
            while time.monotonic() < t_end:
                time.sleep(0.005)
            problems = self._plausibility_problems() if self.check_plausibility else []
            if problems:
                self._refuse("refusing to activate: " + "; ".join(problems))
        self._history = None
        self._cmd, self._cmd_rx, self._last_cmd_rx = None, None, None
        self._commands_on = True
        self._sending = True
        self.state = "active"
        log.info("%s active: %s", self.backend, "ARMED, sending at %.0f Hz" % (1 / self.send_period) if self.armed else "dry-run (arm:=true to send)")

    def _refuse(self, message: str) -> None:
        self.loop.stop()
        self._history = None
        self.refusal = message
        self.state = "inactive"
        raise ActivationRefused(message)

    def deactivate(self) -> None:
        if self.state == "active" and self.loop.running:
            # a few damping packets so the robot does not keep the last position target
            self._commands_on = False
            self._cmd, self._last_cmd_rx = None, None
            time.sleep(max(0.02, 5 * self.send_period))
        self.loop.stop()
        self._sending = False
        if self.state == "active":
            self.state = "inactive"

    def close(self) -> None:
        self.deactivate()
        self._stop.set()
        if self._rx_thread is not None:
            self._rx_thread.join(timeout=1.0)
        self._close()
        self.state = "unconfigured"

    # ---- data path --------------------------------------------------------------------------
    def write(self, cmd: JointCommand) -> None:
        if not cmd.is_finite():
            self.counters["nonfinite_commands"] += 1
            return  # the watchdog will damp if nothing sane follows
        with self._lock:
            self._cmd = cmd
            self._cmd_rx = time.monotonic()

    def read(self) -> Reading | None:
        with self._lock:
            if self._latest is None or self._is_silent(time.monotonic()):
                return None
            return self._latest

    def _is_silent(self, now: float) -> bool:
        """No valid state for > silence_timeout while the receiver was listening.

        The second condition keeps a stall of this process (the receive thread not scheduled, the
        datagrams waiting in the socket buffer) from passing for robot silence.
        """
        if self._last_rx is None:
            return True
        return now - self._last_rx > self.silence_timeout and self._last_poll - self._last_rx > self.silence_timeout

    def latest(self) -> Reading | None:
        """The newest reading however old (for diagnostics and tests)."""
        return self._latest

    def _rx_loop(self) -> None:
        while not self._stop.is_set():
            try:
                r = self._receive()
            except Exception as exc:  # noqa: BLE001 - a transport error is a health state, not a crash
                log.error("%s receive failed: %s", self.backend, exc)
                time.sleep(0.01)
                continue
            finally:
                self._last_poll = time.monotonic()
            if r is None:
                continue
            with self._lock:
                self._latest = r
                self._last_rx = time.monotonic()
                self.counters["received"] += 1
            if self._history is not None:
                self._history.append(r.joints.q.copy())
            if self.reading_sink is not None:
                self.reading_sink(r)

    def _wait_for_state(self, timeout: float) -> bool:
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self._last_rx is not None and time.monotonic() - self._last_rx < self.silence_timeout:
                return True
            time.sleep(0.005)
        return False

    def _plausibility_problems(self) -> list[str]:
        r = self._latest
        q = r.joints.q
        problems = plausibility.check_pose(self.robot, q, self.pose_margin)
        if not problems:
            problems = plausibility.check_symmetry(self.robot, q, self.symmetry_tolerance)
        hist = np.array(self._history or [q])
        problems += plausibility.check_still(self.robot, hist, self.still_tolerance)
        return problems

    def _select(self, now: float) -> tuple[JointCommand, str]:
        """The command to send this period and why: 'command', 'watchdog', 'fault', 'passive'."""
        if not self._sending:
            return JointCommand.passive(self.n), "passive"
        latest = self._latest
        q_meas = latest.joints.q if latest is not None else np.zeros(self.n)
        if self.fault is not None:
            return JointCommand.damping(q_meas, self.damping_kd), "fault"
        if not self._commands_on:
            cmd, rx = None, None
        elif self.command_source is not None:
            cmd, rx = self.command_source(now)
        else:
            with self._lock:
                cmd, rx = self._cmd, self._cmd_rx
        if rx is not None:
            self._last_cmd_rx = rx
        if cmd is None or rx is None or now - rx > self.command_timeout:
            return JointCommand.damping(q_meas, self.damping_kd), "watchdog"
        return cmd, "command"

    def _send_tick(self) -> None:
        now = time.monotonic()
        cmd, why = self._select(now)
        last_rx = self._last_cmd_rx  # once: deactivate() clears it from another thread
        if why == "watchdog" and not self._watchdog_active and last_rx is not None:
            self.counters["watchdog_trips"] += 1
            self.watchdog_fired = (last_rx, now)  # (last write, first damping tick), monotonic
            log.error("%s: no joint_commands for more than %.0f ms: damping on our own", self.backend, self.command_timeout * 1e3)
        self._watchdog_active = why == "watchdog"
        try:
            self._transmit(cmd, self.armed)
        except OSError as exc:
            log.error("%s send failed: %s", self.backend, exc)
        self.counters["sent" if self.armed else "dry_run_encoded"] += 1
        if self._last_rx is not None:
            silent = self._is_silent(now)
            if silent and not self._silent:
                self.counters["silences"] += 1
                log.error("%s: robot silent for more than %.0f ms", self.backend, self.silence_timeout * 1e3)
                if self.on_fault is not None and self.state == "active":
                    self.on_fault("silence", f"robot silent for more than {self.silence_timeout * 1e3:.0f} ms")
            self._silent = silent
        if self.tick_hook is not None:
            try:
                self.tick_hook(now, why)
            except Exception:  # bookkeeping must never stop the packets that keep the robot damped
                self.counters["tick_hook_errors"] += 1
                if self.counters["tick_hook_errors"] == 1:
                    log.exception("%s: the send loop's tick hook failed (the loop goes on sending)", self.backend)

    def latch_fault(self, message: str) -> None:
        if self.fault is None:
            self.fault = message
            log.error("%s: %s: damping until re-activation", self.backend, message)
            if self.on_fault is not None:
                self.on_fault("fault", message)

    # ---- health -----------------------------------------------------------------------------
    def _where(self) -> str:
        return self.backend

    def health(self) -> Health:
        now = time.monotonic()
        age = None if self._last_rx is None else now - self._last_rx
        values = {
            "lifecycle": self.state,
            "armed": self.armed,
            "state_age_ms": float("nan") if age is None else age * 1e3,
            "watchdog_damping": self._watchdog_active,
            **self.counters,
            **self.loop.stats(),
            **self._protocol_values(),
        }
        if self.refusal:
            return Health("ERROR", self.refusal, values)
        if self.fault is not None:
            return Health("ERROR", self.fault, values)
        if self.state == "active" and (age is None or self._is_silent(now)):
            if not self.armed and age is None:
                return Health("WARN", "dry-run: no state received (nothing is sent; a Go1 answers only commands)", values)
            return Health("ERROR", f"robot silent ({'never heard' if age is None else f'{age * 1e3:.0f} ms'})", values)
        if self.state == "active" and self._watchdog_active and self._last_cmd_rx is not None:
            return Health("ERROR", "dead-man watchdog: no fresh joint_commands, damping", values)
        if not self.armed:
            return Health("WARN", "dry-run: nothing is sent (set arm:=true)", values)
        return Health("OK", f"{self.state}, armed", values)
