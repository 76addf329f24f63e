"""What a run did, from ground truth: distance, velocity tracking, falls, safety events.

Pure bookkeeping fed by the run monitor; `summary()` is what `lucid-ros sim --summary` writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lucid_ros.mathutil import quat_to_rpy


@dataclass
class FallDetector:
    """A fall: base below `min_height_ratio` of nominal height, or tilted beyond `max_tilt` rad."""

    nominal_height: float
    min_height_ratio: float = 0.5
    max_tilt: float = 1.2

    def fallen(self, pos: np.ndarray, quat: np.ndarray) -> bool:
        roll, pitch, _ = quat_to_rpy(quat)
        return bool(pos[2] < self.min_height_ratio * self.nominal_height or abs(roll) > self.max_tilt or abs(pitch) > self.max_tilt)


@dataclass
class RunMetrics:
    nominal_height: float
    settle_time: float = 1.0  # s after RUNNING begins before tracking error counts
    t: list[float] = field(default_factory=list)
    pos: list[np.ndarray] = field(default_factory=list)
    quat: list[np.ndarray] = field(default_factory=list)
    vel_body: list[np.ndarray] = field(default_factory=list)  # vx, vy (body), wz
    cmd: list[np.ndarray] = field(default_factory=list)
    running: list[bool] = field(default_factory=list)
    falls: list[float] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    stood_ratio: float = 0.8  # the base must have reached this share of nominal height to fall again
    _upright: bool = False  # has stood since the last fall (or the start)

    def __post_init__(self) -> None:
        self._detector = FallDetector(self.nominal_height)

    def add_ground_truth(self, t: float, pos, quat, lin_vel_body, ang_vel_body, cmd, running: bool, powered: bool = True) -> None:
        """A fall is a powered robot (the supervisor STANDING or RUNNING) going down after it had
        stood: sinking while PASSIVE or DAMPING is doing what it was told, and a lying start that
        settles on uneven ground before it stands up is not a fall."""
        pos, quat = np.asarray(pos, float), np.asarray(quat, float)
        self.t.append(t)
        self.pos.append(pos)
        self.quat.append(quat)
        self.vel_body.append(np.array([lin_vel_body[0], lin_vel_body[1], ang_vel_body[2]], dtype=float))
        self.cmd.append(np.asarray(cmd, float))
        self.running.append(running)
        fallen = self._detector.fallen(pos, quat)
        if not fallen and pos[2] >= self.stood_ratio * self.nominal_height:
            self._upright = True
        if fallen and self._upright:
            if powered:
                self.falls.append(t)
            self._upright = False

    def add_event(self, t: float, state: str, cause: str = "") -> None:
        self.events.append({"time": round(t, 4), "state": state, "cause": cause})

    def _running_window(self) -> np.ndarray:
        run = np.array(self.running, dtype=bool)
        if not run.any():
            return run
        t = np.array(self.t)
        t_start = t[np.argmax(run)]
        return run & (t >= t_start + self.settle_time)

    def summary(self) -> dict:
        if not self.t:
            return {"samples": 0}
        t = np.array(self.t)
        pos = np.array(self.pos)
        vel = np.array(self.vel_body)
        cmd = np.array(self.cmd)
        win = self._running_window()
        out: dict = {
            "sim_time_s": round(float(t[-1] - t[0]), 3),
            "samples": len(t),
            "distance_m": round(float(np.linalg.norm(pos[-1, :2] - pos[0, :2])), 4),
            "path_length_m": round(float(np.sum(np.linalg.norm(np.diff(pos[:, :2], axis=0), axis=1))), 4),
            "final_position": [round(float(x), 4) for x in pos[-1]],
            "base_height_m": {"min": round(float(pos[:, 2].min()), 4), "max": round(float(pos[:, 2].max()), 4)},
            "falls": len(self.falls),
            "fall_times": [round(x, 3) for x in self.falls],
            "safety_events": self.events,
        }
        if win.any():
            err = np.abs(vel[win] - cmd[win])
            out["running_time_s"] = round(float(win.sum() * np.median(np.diff(t))) if len(t) > 1 else 0.0, 3)
            out["velocity_tracking"] = {
                "mean_abs_error_vx": round(float(err[:, 0].mean()), 4),
                "mean_abs_error_vy": round(float(err[:, 1].mean()), 4),
                "mean_abs_error_wz": round(float(err[:, 2].mean()), 4),
                "mean_vx": round(float(vel[win, 0].mean()), 4),
                "mean_wz": round(float(vel[win, 2].mean()), 4),
            }
        return out

