"""The graph's side of a motor process (lucid_ros/hardware/motor_process.py): a HardwareInterface.

configure() creates the shared-memory file (0600), spawns `python -m lucid_ros.hardware.motor_process`
and waits for its ready line; activate() asks it to activate (ActivationRefused carries its text);
write() stamps the command (CLOCK_MONOTONIC) into the command record; read() takes the newest
Reading from the state record (None while the robot is silent or the motor process has not beaten
for `stale_after`); health() is the motor process's health record, or ERROR when it is dead.
Its fault events (silence, PowerProtect, the watchdog trip) arrive on its stdout and go to
`on_fault(kind, message)` from a reader thread.

The attributes the graph and tests read on an in-process driver are kept: state, refusal, armed,
counters, watchdog_fired, latest(), loop.stats().
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from lucid_ros.hardware.interface import ActivationRefused, HardwareInterface, Health, Reading
from lucid_ros.hardware.shm import LIFECYCLES, MODE_CODES, MotorShm
from lucid_ros.robots.description import RobotDescription
from lucid_ros.types import ImuSample, JointCommand, JointSample

log = logging.getLogger("lucid_ros.hardware")
COUNTERS = ("sent", "dry_run_encoded", "received", "watchdog_trips", "silences", "nonfinite_commands")
LOOP_STATS = ("period_p50_ms", "period_p99_ms", "period_max_ms", "rate_hz", "misses")


class _LoopStats:
    """`driver.loop.stats()` as the motor process last reported it."""

    def __init__(self, client: MotorProcessDriver):
        self._client = client

    def stats(self) -> dict[str, float]:
        v = self._client._health_values()
        return {k: v.get(k, float("nan")) for k in LOOP_STATS}

    @property
    def running(self) -> bool:
        return self._client.state == "active" and self._client.alive


class MotorProcessDriver(HardwareInterface):
    def __init__(self, backend: str, robot: RobotDescription, *, arm: bool = False, on_fault: Callable[[str, str], None] | None = None,
                 command_timeout: float = 0.05, orphan_passive_after: float = 2.0, fifo_priority: int = 60,
                 ready_timeout: float = 30.0, stale_after: float = 0.1, **options: Any):  # fmt: skip
        from lucid_ros.hardware.drivers import make_driver

        # built here and dropped: the same TypeError/ValueError/ConfigError for a bad option or robot
        # as the in-process driver, before any process is spawned
        probe = make_driver(backend, robot, arm=arm, command_timeout=command_timeout, **options)
        self.backend = backend
        self.robot = robot
        self.n = robot.n_joints
        self.armed = bool(arm)
        self.on_fault = on_fault
        self.command_timeout = command_timeout
        self.silence_timeout = probe.silence_timeout
        self.stale_after = max(stale_after, probe.silence_timeout)
        self.ready_timeout = ready_timeout
        self._config = {**options, "arm": self.armed, "command_timeout": command_timeout,
                        "orphan_passive_after": orphan_passive_after, "fifo_priority": fifo_priority}  # fmt: skip
        self.state = "unconfigured"
        self.refusal = ""
        self.watchdog_fired: tuple[float, float] | None = None
        self.loop = _LoopStats(self)
        self.proc: subprocess.Popen | None = None
        self.shm: MotorShm | None = None
        self.ready: dict = {}
        self._nonfinite = 0
        self._count = 0
        self._replies: dict[int, dict] = {}
        self._cv = threading.Condition()
        self._next_id = 0
        self._reader: threading.Thread | None = None
        self._health_cache: dict | None = None
        self._write_lock = threading.Lock()
        self._closing = False

    # ---- lifecycle --------------------------------------------------------------------------------
    def configure(self) -> None:
        if self.state != "unconfigured":
            return
        self.shm = MotorShm.create(self.n)
        cmd = [sys.executable, "-m", "lucid_ros.hardware.motor_process", "--backend", self.backend, "--robot", str(self.robot.source),
               "--shm", self.shm.name, "--parent-pid", str(os.getpid()), "--config", json.dumps(self._config)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, close_fds=True)
        line = _readline(self.proc, self.ready_timeout)
        msg = _parse(line)
        self.shm.unlink()  # mapped on both sides (or the child failed): the name is not needed any more
        if msg.get("event") != "ready":
            self._reap()
            raise RuntimeError(f"{self.backend} motor process did not start: {msg.get('message') or line.strip() or 'no output'}")
        self.ready = msg
        self._reader = threading.Thread(target=self._read_events, name=f"{self.backend}_motor_events", daemon=True)
        self._reader.start()
        self.state = "inactive"
        log.info("%s motor process %s: %s, memory %s", self.backend, msg.get("pid"), msg.get("priority"), msg.get("mlock"))

    def activate(self) -> None:
        if self.state == "unconfigured":
            self.configure()
        if self.state == "active":
            return
        self.refusal = ""
        rep = self._request("activate", timeout=60.0)
        if not rep.get("ok"):
            self.refusal = rep.get("error", "activation failed")
            self.state = "inactive"
            raise ActivationRefused(self.refusal)
        self.state = "active"

    def deactivate(self) -> None:
        if self.state == "active" and self.alive:
            self._request("deactivate", timeout=5.0)
        if self.state == "active":
            self.state = "inactive"

    def close(self) -> None:
        self._closing = True
        if self.proc is not None:
            if self.alive:
                self._request("close", timeout=5.0)
            self._reap()
        self.state = "unconfigured"

    def _reap(self) -> None:
        """Wait for the motor process to exit; terminate (its own damping -> passive), then kill."""
        p = self.proc
        if p is None:
            return
        try:
            if p.stdin:
                p.stdin.close()  # EOF: it winds down by itself if it did not get "close"
        except OSError:
            pass
        for action, wait in ((None, 3.0), (p.terminate, 4.0), (p.kill, 2.0)):
            if action is not None:
                action()
            try:
                p.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(1.0)
        if self.shm is not None:
            self.shm.close()
            self.shm = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- control channel ----------------------------------------------------------------------------
    def _request(self, op: str, timeout: float) -> dict:
        with self._cv:
            self._next_id += 1
            rid = self._next_id
        try:
            self.proc.stdin.write(json.dumps({"id": rid, "op": op}) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            return {"ok": False, "error": f"motor process not reachable: {exc}"}
        with self._cv:
            if not self._cv.wait_for(lambda: rid in self._replies or not self.alive, timeout):
                return {"ok": False, "error": f"motor process did not answer {op!r} within {timeout:.0f} s"}
            return self._replies.pop(rid, {"ok": False, "error": f"motor process exited (rc {self.proc.poll()})"})

    def _read_events(self) -> None:
        for line in self.proc.stdout:
            msg = _parse(line)
            if "reply" in msg:
                with self._cv:
                    self._replies[msg["reply"]] = msg
                    self._cv.notify_all()
            elif msg.get("event") == "fault":
                if msg.get("kind") == "watchdog":
                    self.watchdog_fired = (msg.get("last_write"), msg.get("first_damping"))
                self._fault(msg.get("kind", "fault"), msg.get("message", ""))
        with self._cv:
            self._cv.notify_all()
        if self.state == "active" and not self._closing:  # it died under us
            self._fault("motor_process", f"motor process exited (rc {self.proc.wait()})")

    def _fault(self, kind: str, message: str) -> None:
        log.error("%s: %s", self.backend, message)
        if self.on_fault is not None:
            self.on_fault(kind, message)

    # ---- data path --------------------------------------------------------------------------------
    def write(self, cmd: JointCommand) -> None:
        if not cmd.is_finite():
            self._nonfinite += 1
            return  # the motor process's watchdog damps if nothing sane follows
        shm = self.shm
        if shm is None:
            return
        with self._write_lock:
            self._count += 1
            shm.records.command.write({"count": self._count, "stamp": time.monotonic(), "mode": MODE_CODES.get(cmd.mode, 2),
                                       "q": cmd.q, "dq": cmd.dq, "tau": cmd.tau, "kp": cmd.kp, "kd": cmd.kd})  # fmt: skip

    def _state(self) -> dict | None:
        shm = self.shm
        if shm is None:
            return None
        out = shm.records.state.read()
        return None if out is None else {k: v.copy() for k, v in out.items()}

    def latest(self) -> Reading | None:
        """The newest reading however old (diagnostics and tests)."""
        s = self._state()
        if s is None or s["count"][0] == 0:
            return None
        stamp = float(s["stamp"][0])
        remote = s["remote"][: int(s["remote_len"][0])].tobytes() or None
        return Reading(
            stamp, JointSample(stamp, s["q"], s["dq"], s["tau"]), ImuSample(stamp, s["quat"], s["gyro"], s["acc"]), remote, int(s["tick"][0])
        )

    def read(self) -> Reading | None:
        s = self._state()
        if s is None or s["count"][0] == 0 or s["silent"][0]:
            return None
        if time.monotonic() - float(s["heartbeat"][0]) > self.stale_after:
            return None  # the motor process has stopped beating: its reading may be anything old
        return self.latest()

    # ---- health -----------------------------------------------------------------------------------
    def _health_values(self) -> dict:
        h = self.shm.read_health() if self.shm is not None else None
        if h is not None:
            self._health_cache = h
        return dict((self._health_cache or {}).get("values", {}))

    @property
    def counters(self) -> dict[str, int]:
        v = self._health_values()
        out = {k: int(v.get(k, 0)) for k in COUNTERS}
        out["nonfinite_commands"] += self._nonfinite
        return out

    def health(self) -> Health:
        values = self._health_values()
        h = self._health_cache or {}
        values.update({"motor_process": "own process", "motor_process_alive": self.alive, "lifecycle": self.state})
        values["nonfinite_commands"] = values.get("nonfinite_commands", 0) + self._nonfinite
        if self.proc is not None and not self.alive:
            return Health("ERROR", f"motor process dead (rc {self.proc.poll()})", values)
        if self.refusal:
            return Health("ERROR", self.refusal, values)
        if self.state == "unconfigured":
            return Health("WARN", "motor process not started", values)
        age = time.monotonic() - float(h.get("stamp", 0.0))
        if age > 1.0:
            return Health("ERROR", f"motor process not reporting ({age:.1f} s)", values)
        s = self._state()
        if s is not None and LIFECYCLES[int(s["lifecycle"][0]) % len(LIFECYCLES)] == "active":
            beat = time.monotonic() - float(s["heartbeat"][0])
            if beat > self.stale_after:
                return Health("ERROR", f"motor process send loop stalled ({beat * 1e3:.0f} ms)", values)
            # the record is fresher than the 10 Hz health report: what the graph must act on now
            if s["silent"][0] and h.get("level") != "ERROR":
                return Health("ERROR", "robot silent", values)
            if s["watchdog_latched"][0]:
                return Health("ERROR", "motor process watchdog latched: damping until the supervisor damps", values)
        return Health(h.get("level", "WARN"), h.get("message", "no health yet"), values)


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    """One line of the child's stdout within `timeout` (a thread: readline has no timeout)."""
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        proc.kill()
        t.join(2.0)
        return box[0] if box else f"no ready line within {timeout:.0f} s"
    return box[0]


def _parse(line: str) -> dict:
    try:
        msg = json.loads(line)
    except ValueError:
        return {}
    return msg if isinstance(msg, dict) else {}


__all__ = ["MotorProcessDriver"]
