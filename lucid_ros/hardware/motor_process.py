"""The motor loop in a process of its own: `python -m lucid_ros.hardware.motor_process ...`.

In the graph's process the 500 Hz send thread shared the GIL with every node: p99 3.3-4.0 ms,
and a stalled graph (a GC pause, SIGSTOP) stalled the motors. Here one small interpreter (no
rclpy, no MuJoCo, no ONNX) owns the backend driver (make_driver: the socket or DDS writer, the
send loop on absolute deadlines, every check the driver makes) and talks to the graph through
shared memory (lucid_ros/hardware/shm.py) and a control channel on stdin/stdout (JSON lines).
The graph's side is lucid_ros/hardware/motor_client.py.

What this process enforces whatever the graph does:
- its own dead-man watchdog: no fresh command (stamped by the graph at write) for
  `command_timeout` (0.05 s) -> damping, and LATCHED: after a trip, position commands are ignored
  until the graph has sent a zero-stiffness command (damping / passive: the supervisor went to
  DAMPING on hearing of the trip, the "watchdog" fault event). A graph that resumes after a
  SIGSTOP still RUNNING never moves the robot until it is re-activated;
- a dead graph (stdin at EOF, or the parent pid gone) -> damping, then passive after
  `orphan_passive_after` (2 s), then the driver is closed and this process exits;
- SIGINT is ignored (Ctrl-C in a terminal reaches the whole process group: the graph decides how
  to stop), SIGTERM is treated as a dead graph.
It raises its scheduling priority (SCHED_FIFO, else a lower nice value) and locks its memory
where permitted, freezes the GC heap, and says in its ready line and health what it got.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import signal
import sys
import threading
import time

import numpy as np

from lucid_ros.hardware import ActivationRefused, make_driver
from lucid_ros.hardware.shm import LIFECYCLES, MODE_NAMES, REMOTE_MAX, MotorShm
from lucid_ros.types import JointCommand

log = logging.getLogger("lucid_ros.motor_process")
MCL_CURRENT, MCL_FUTURE = 1, 2


def raise_priority(fifo_priority: int) -> str:
    """SCHED_FIFO at `fifo_priority` for this process's threads (inherited by threads started
    later), else nice -10, else nothing; returns what it got, in words."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(fifo_priority))
        return f"SCHED_FIFO {fifo_priority}"
    except (OSError, AttributeError) as exc:
        fifo_error = str(exc)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        return f"nice -10 (SCHED_FIFO refused: {fifo_error})"
    except OSError as exc:
        return f"normal priority (SCHED_FIFO refused: {fifo_error}; nice -10 refused: {exc})"


def lock_memory() -> str:
    """mlockall(MCL_CURRENT | MCL_FUTURE): no page fault on the hot path; returns what happened."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0:
            return "locked"
        err = ctypes.get_errno()
        return f"not locked ({os.strerror(err)})"
    except (OSError, AttributeError) as exc:
        return f"not locked ({exc})"


class MotorProcess:
    def __init__(self, args: argparse.Namespace):
        from lucid_ros.robots import load_robot

        cfg = json.loads(args.config)
        self.robot = load_robot(args.robot, check_models=False)
        self.n = self.robot.n_joints
        self.parent = args.parent_pid
        self.orphan_passive_after = float(cfg.pop("orphan_passive_after", 2.0))
        self.priority_wanted = int(cfg.pop("fifo_priority", 60))
        self.shm = MotorShm.attach(args.shm, self.n)
        self.shm.unlink()  # both sides have it mapped: nothing can be left behind in /dev/shm
        self.cmd_rec, self.state_rec = self.shm.records.command, self.shm.records.state
        self._out_lock = threading.Lock()
        self._state_lock = threading.Lock()  # two writers here (receive thread, send thread): one at a time
        self.driver = make_driver(args.backend, self.robot, on_fault=self._on_driver_fault, **cfg)
        self.driver.command_source = self._command
        self.driver.reading_sink = self._on_reading
        self.driver.tick_hook = self._on_tick
        # the send loop's period statistics (~0.25 ms of numpy holding the GIL over 5000 intervals)
        # once a second, not with every 10 Hz health record: that wait was the send thread's p99
        self._loop_stats, self._stats_at, self._stats_fn = {}, -1.0, self.driver.loop.stats
        self.driver.loop.stats = self._cached_loop_stats
        self.latched = False
        self.command_age_max = 0.0  # oldest command sent since activation, s
        self._trips = 0
        self._active_since = float("inf")  # commands stamped before activation are ignored
        self._last_count = -1
        self._cached: tuple[JointCommand | None, float | None] = (None, None)
        self._orphaned = threading.Event()
        self._stop = threading.Event()
        self._remote = np.zeros(REMOTE_MAX, np.uint8)
        self.priority = "not set"
        self.mlock = "not tried"

    # ---- the control channel --------------------------------------------------------------------
    def emit(self, msg: dict) -> None:
        line = json.dumps(msg, default=str) + "\n"
        with self._out_lock:
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the graph is gone; the orphan path handles it

    def _on_driver_fault(self, kind: str, message: str) -> None:
        self.emit({"event": "fault", "kind": kind, "message": message})

    # ---- hooks the driver calls -------------------------------------------------------------------
    def _command(self, now: float) -> tuple[JointCommand | None, float | None]:
        """The send loop's command source: the newest record, through the latch."""
        if self._orphaned.is_set():
            return None, None
        if self.cmd_rec.seq == self._last_count:
            cmd, rx = self._cached
        else:
            out = self.cmd_rec.read()
            if out is None:
                return self._cached
            self._last_count = self.cmd_rec.last_seq
            stamp = float(out["stamp"][0])
            if stamp < self._active_since:
                self._cached = (None, None)
                return self._cached
            mode = MODE_NAMES.get(int(out["mode"][0]), "passive")
            cmd = JointCommand(stamp, out["q"].copy(), out["dq"].copy(), out["tau"].copy(), out["kp"].copy(), out["kd"].copy(), mode)
            rx = stamp
            self._cached = (cmd, rx)
        if cmd is not None and self.latched:
            if cmd.mode == "position" or np.any(cmd.kp):
                return None, None  # latched: damping until the supervisor itself damps
            self.latched = False
            self.emit({"event": "info", "kind": "watchdog_cleared", "message": f"{cmd.mode} command after the trip: latch released"})
        return cmd, rx

    def _on_reading(self, r) -> None:
        raw = r.remote or b""
        k = min(len(raw), REMOTE_MAX)
        self._remote[:k] = np.frombuffer(raw[:k], np.uint8)
        values = {"count": self.driver.counters["received"], "stamp": r.stamp, "tick": int(r.tick), "q": r.joints.q, "dq": r.joints.dq,
                  "tau": r.joints.tau, "quat": r.imu.quat, "gyro": r.imu.gyro, "acc": r.imu.acc, "remote": self._remote, "remote_len": k}  # fmt: skip
        with self._state_lock:
            self.state_rec.write(values)

    def _on_tick(self, now: float, why: str) -> None:
        d = self.driver
        rx = d._last_cmd_rx  # once: deactivate() clears it from another thread (read twice, it crashed the send loop)
        if why == "command" and rx is not None:  # how close the graph's command stream runs to the watchdog
            self.command_age_max = max(self.command_age_max, now - rx)
        if d.counters["watchdog_trips"] > self._trips:
            self._trips = d.counters["watchdog_trips"]
            if not self._orphaned.is_set():
                self.latched = True
                last, first = d.watchdog_fired
                self.emit({"event": "fault", "kind": "watchdog", "last_write": last, "first_damping": first,
                           "message": f"motor process: no command for more than {d.command_timeout * 1e3:.0f} ms: damping, "
                                      "position commands ignored until the supervisor damps"})  # fmt: skip
        lifecycle = LIFECYCLES.index(d.state) if d.state in LIFECYCLES else 3
        with self._state_lock:
            self.state_rec.write(
                {
                    "heartbeat": now,
                    "lifecycle": lifecycle,
                    "silent": int(d._last_rx is not None and d._is_silent(now)),
                    "watchdog_latched": int(self.latched),
                }
            )

    def _cached_loop_stats(self) -> dict:
        now = time.monotonic()
        if now - self._stats_at > 1.0:
            self._loop_stats, self._stats_at = self._stats_fn(), now
        return self._loop_stats

    # ---- health, orphan --------------------------------------------------------------------------
    def _health_loop(self) -> None:
        while not self._stop.wait(0.1):
            if self.parent and os.getppid() != self.parent:
                self.orphan(f"parent process {self.parent} is gone")
            h = self.driver.health()
            values = {**h.values, "motor_process_pid": os.getpid(), "motor_process_priority": self.priority,
                      "motor_process_mlock": self.mlock, "watchdog_latched": self.latched, "command_timeout_ms": self.driver.command_timeout * 1e3,
                      "command_age_max_ms": self.command_age_max * 1e3}  # fmt: skip
            level, message = h.level, h.message
            if self.latched and level != "ERROR":
                level, message = "ERROR", "watchdog latched: damping until the supervisor damps"
            self.shm.write_health({"level": level, "message": message, "values": values, "stamp": time.monotonic()})

    def orphan(self, why: str) -> None:
        """The graph is gone: damping now, passive after orphan_passive_after, then close and exit."""
        if self._orphaned.is_set():
            return
        self._orphaned.set()
        log.error("motor process: %s: damping, passive in %.1f s, then exit", why, self.orphan_passive_after)
        threading.Thread(target=self._wind_down, name="motor_orphan", daemon=True).start()

    def _wind_down(self) -> None:
        time.sleep(self.orphan_passive_after)
        self.driver._sending = False  # the send loop's passive branch: zero torque
        time.sleep(0.1)
        self.driver.close()
        self._stop.set()

    # ---- main -------------------------------------------------------------------------------------
    def serve(self) -> int:
        self.priority = raise_priority(self.priority_wanted)  # per thread on Linux: before the driver's threads start
        self.driver.configure()
        gc.collect()
        gc.freeze()  # the heap so far is out of the collector's reach: no long pauses on the hot path
        gc.set_threshold(50000, 50, 100)
        sys.setswitchinterval(0.0005)  # a thread holding the GIL hands it to the send thread within 0.5 ms (default 5)
        self.mlock = lock_memory()
        threading.Thread(target=self._health_loop, name="motor_health", daemon=True).start()
        self.emit({"event": "ready", "pid": os.getpid(), "priority": self.priority, "mlock": self.mlock})
        log.warning("motor process %d: %s, memory %s, %s", os.getpid(), self.priority, self.mlock,
                    "ARMED" if self.driver.armed else "dry-run")  # fmt: skip
        threading.Thread(target=self._control_loop, name="motor_control", daemon=True).start()
        while not self._stop.wait(0.5):
            pass
        return 0

    def _control_loop(self) -> None:
        for line in sys.stdin:
            if self._orphaned.is_set():
                return
            try:
                req = json.loads(line)
            except ValueError:
                continue
            self.emit({"reply": req.get("id"), **self._handle(req.get("op", ""))})
            if req.get("op") == "close":
                self._stop.set()
                return
        self.orphan("control pipe closed (graph exited)")

    def _handle(self, op: str) -> dict:
        d = self.driver
        try:
            if op == "activate":
                self._active_since, self._last_count = time.monotonic(), -1
                self.latched, self.command_age_max = False, 0.0
                d.activate()
            elif op == "deactivate":
                d.deactivate()
            elif op == "close":
                d.close()
            elif op != "ping":
                return {"ok": False, "error": f"unknown request {op!r}"}
        except ActivationRefused as exc:
            return {"ok": False, "refused": True, "error": str(exc), "state": d.state}
        except Exception as exc:  # noqa: BLE001 - the graph gets the text, this process stays up
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "state": d.state}
        return {"ok": True, "state": d.state}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lucid_ros.hardware.motor_process")
    ap.add_argument("--backend", required=True)
    ap.add_argument("--robot", required=True, help="robot name or description file")
    ap.add_argument("--shm", required=True, help="name of the /dev/shm file the graph created")
    ap.add_argument("--parent-pid", type=int, default=0)
    ap.add_argument("--config", default="{}", help="JSON: driver options, orphan_passive_after, fifo_priority")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[motor_process %(process)d] %(levelname)s %(message)s", stream=sys.stderr)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = None
    try:
        proc = MotorProcess(args)
    except Exception as exc:  # noqa: BLE001 - said on the control channel, then exit
        print(json.dumps({"event": "error", "message": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: proc.orphan("SIGTERM"))
    try:
        return proc.serve()
    except Exception as exc:  # noqa: BLE001
        proc.emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        proc.driver.close()
        return 1
    finally:
        proc.shm.close()


if __name__ == "__main__":
    sys.exit(main())
