"""rviz markers for the operator view, as plain data (lucid_ros.nodes.monitor turns them into
visualization_msgs/Marker).

Everything is drawn in the `odom` frame from the newest `odom` pose, not in the base frame: the
markers then line up with the Odometry display even where no odom -> base transform reaches rviz
(a machine without tf2, a Foxglove user), and one pose is used for all of them. Velocities are
body-frame (cmd_vel and the odom twist, REP 105) and are rotated by the base yaw only, so a pitched
robot's arrows stay level and readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lucid_ros.mathutil import quat_rotate, yaw_of
from lucid_ros.safety.states import SafetyState

STATE_COLORS: dict[str, tuple[float, float, float, float]] = {
    SafetyState.PASSIVE: (0.6, 0.6, 0.6, 1.0),
    SafetyState.STANDING: (0.2, 0.9, 0.2, 1.0),
    SafetyState.RUNNING: (0.2, 0.9, 0.2, 1.0),
    SafetyState.DAMPING: (1.0, 0.55, 0.0, 1.0),
    SafetyState.ESTOP: (1.0, 0.1, 0.1, 1.0),
}
UNKNOWN_COLOR = (1.0, 1.0, 1.0, 1.0)
COMMANDED_COLOR = (0.2, 0.5, 1.0, 0.9)  # blue: what the operator asked for
MEASURED_COLOR = (1.0, 0.85, 0.1, 0.9)  # yellow: what the estimator measures
MIN_ARROW_M = 1e-3  # shorter arrows are not drawn (rviz warns about degenerate arrows)


@dataclass
class MarkerData:
    """One marker. `kind`: 'arrow' (points = [start, end]), 'text' (at `position`), 'spheres'
    (points with per-point `colors`), or 'delete' (remove ns/id from the display)."""

    ns: str
    id: int
    kind: str
    color: tuple[float, float, float, float] = UNKNOWN_COLOR
    scale: tuple[float, float, float] = (0.0, 0.0, 0.0)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    colors: np.ndarray | None = None
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    text: str = ""


@dataclass(frozen=True)
class Pose:
    pos: np.ndarray  # (3,) odom frame
    quat: np.ndarray  # (4,) w, x, y, z, odom-from-base


def velocity_arrow(ns: str, vel_body: tuple[float, float], pose: Pose, color, m_per_mps: float = 1.0, height: float = 0.15) -> MarkerData:
    """A level arrow from above the base along the body-frame velocity (vx, vy); length ∝ speed."""
    vx, vy = float(vel_body[0]), float(vel_body[1])
    length = math.hypot(vx, vy) * m_per_mps
    if not math.isfinite(length) or length < MIN_ARROW_M:
        return MarkerData(ns, 0, "delete")
    yaw = float(yaw_of(pose.quat))
    c, s = math.cos(yaw), math.sin(yaw)
    start = np.asarray(pose.pos, dtype=np.float64) + np.array([0.0, 0.0, height])
    end = start + m_per_mps * np.array([c * vx - s * vy, s * vx + c * vy, 0.0])
    shaft = 0.03
    return MarkerData(ns, 0, "arrow", color=tuple(color), scale=(shaft, 2 * shaft, min(0.1, 0.4 * length)), points=np.stack([start, end]))


def safety_text(state: str | None, pose: Pose | None, detail: str = "", height: float = 0.45) -> MarkerData:
    """The supervisor's state above the robot, coloured by state (unknown: white)."""
    label = state or "NO SAFETY STATE"
    pos = tuple(float(x) for x in (pose.pos if pose is not None else np.zeros(3)))
    text = f"{label}\n{detail}" if detail else label
    return MarkerData("safety_state", 0, "text", color=STATE_COLORS.get(state or "", UNKNOWN_COLOR), scale=(0.0, 0.0, 0.12),
                      position=(pos[0], pos[1], pos[2] + height), text=text)  # fmt: skip


def height_colors(z: np.ndarray, span_min: float = 0.1) -> np.ndarray:
    """(N, 4) RGBA from blue (lowest) through green to red (highest); a flat scan is one colour."""
    z = np.asarray(z, dtype=np.float64)
    if z.size == 0:
        return np.zeros((0, 4))
    lo, hi = float(z.min()), float(z.max())
    mid = 0.5 * (lo + hi)
    half = max(0.5 * (hi - lo), 0.5 * span_min)
    t = np.clip((z - (mid - half)) / (2 * half), 0.0, 1.0)
    return np.stack([t, 1.0 - np.abs(2 * t - 1.0), 1.0 - t, np.ones_like(t)], axis=1)


def height_points(points_base: np.ndarray, pose: Pose, diameter: float = 0.03) -> MarkerData:
    """The policy's terrain samples (base frame) as a sphere list in the odom frame, coloured by
    height. Non-finite samples (outside the map) are dropped."""
    p = np.asarray(points_base, dtype=np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    if p.shape[0] == 0:
        return MarkerData("height_scan", 0, "delete")
    world = quat_rotate(np.broadcast_to(np.asarray(pose.quat, dtype=np.float64), (p.shape[0], 4)), p) + np.asarray(pose.pos)
    return MarkerData("height_scan", 0, "spheres", color=(1.0, 1.0, 1.0, 1.0), scale=(diameter,) * 3, points=world, colors=height_colors(world[:, 2]))


class OperatorView:
    """The newest cmd_vel, odom, safety state and height scan, and the markers they make.

    Times are the monitor's wall clock (time.monotonic): staleness here is about what reaches the
    operator. A cmd_vel older than `cmd_timeout` is drawn as zero, as the policy runner treats it.
    """

    def __init__(self, cmd_timeout: float = 0.5, odom_timeout: float = 1.0, heights_timeout: float = 1.0, m_per_mps: float = 1.0):
        self.cmd_timeout, self.odom_timeout, self.heights_timeout = cmd_timeout, odom_timeout, heights_timeout
        self.m_per_mps = m_per_mps
        self.cmd: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.cmd_t = -math.inf
        self.pose: Pose | None = None
        self.twist = (0.0, 0.0, 0.0)
        self.odom_t = -math.inf
        self.state: str | None = None
        self.heights: np.ndarray | None = None
        self.heights_t = -math.inf

    def on_cmd(self, now: float, vx: float, vy: float, wz: float) -> None:
        self.cmd, self.cmd_t = (float(vx), float(vy), float(wz)), now

    def on_odom(self, now: float, pos, quat, lin_vel_body, ang_vel_body) -> None:
        self.pose = Pose(np.asarray(pos, dtype=np.float64), np.asarray(quat, dtype=np.float64))
        self.twist = (float(lin_vel_body[0]), float(lin_vel_body[1]), float(ang_vel_body[2]))
        self.odom_t = now

    def on_state(self, state: str) -> None:
        self.state = state

    def on_heights(self, now: float, points_base: np.ndarray) -> None:
        self.heights, self.heights_t = np.asarray(points_base, dtype=np.float64), now

    def command(self, now: float) -> tuple[float, float, float]:
        return self.cmd if now - self.cmd_t <= self.cmd_timeout else (0.0, 0.0, 0.0)

    def markers(self, now: float) -> list[MarkerData]:
        cmd = self.command(now)
        odom_fresh = self.pose is not None and now - self.odom_t <= self.odom_timeout
        if odom_fresh:
            detail = f"cmd  {cmd[0]:+.2f} {cmd[1]:+.2f} {cmd[2]:+.2f}\nmeas {self.twist[0]:+.2f} {self.twist[1]:+.2f} {self.twist[2]:+.2f}"
        else:
            detail = f"cmd  {cmd[0]:+.2f} {cmd[1]:+.2f} {cmd[2]:+.2f}\nodom: none" + (" (stale)" if self.pose is not None else "")
        out = [safety_text(self.state, self.pose, detail)]
        if odom_fresh:
            out.append(velocity_arrow("cmd_vel", cmd[:2], self.pose, COMMANDED_COLOR, self.m_per_mps))
            out.append(velocity_arrow("measured_vel", self.twist[:2], self.pose, MEASURED_COLOR, self.m_per_mps, height=0.2))
        else:
            out += [MarkerData("cmd_vel", 0, "delete"), MarkerData("measured_vel", 0, "delete")]
        if self.heights is not None and odom_fresh and now - self.heights_t <= self.heights_timeout:
            out.append(height_points(self.heights, self.pose))
        else:
            out.append(MarkerData("height_scan", 0, "delete"))
        return out
