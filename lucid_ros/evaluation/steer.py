"""The success table's operator: forward at the commanded speed, steered back to the course's line.

On a course a person with a joystick keeps the robot pointed at the next obstacle. A fixed
cmd_vel cannot: a policy whose heading drifts a little walks past a 1.2 m-wide hurdle after
ten metres and the run is judged `bypassed`, which measures the drift, not whether the policy
can cross. `TrackSteer` is that operator, and nothing more: it sets only the yaw rate, from the
robot's lateral offset to the line through the course's spawn and waypoints (the obstacles'
centres), so what is left to the policy is getting over what is in front of it.

    heading wanted = -clip(k_y * offset, ±max_heading)        (offset: metres left of the line)
    wz             =  clip(k_yaw * (heading wanted - yaw), ±max_wz)

Pure: `lucid_ros.nodes.episodes` feeds it ground-truth pose and publishes the result as cmd_vel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackSteer:
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    k_y: float = 1.0  # rad of heading wanted per metre off the line
    max_heading: float = 0.4  # rad: steer back gently, never across the course
    k_yaw: float = 2.0  # 1/s
    max_wz: float = 0.5  # rad/s, inside the range the walking policies were trained on

    @classmethod
    def for_course(cls, course) -> TrackSteer:
        """The line through the spawn and the course's waypoints, in course order (x increasing)."""
        pts = [tuple(course.spawn_xy), *(tuple(w) for w in course.waypoints)]
        pts.sort(key=lambda p: p[0])
        return cls(tuple(float(p[0]) for p in pts), tuple(float(p[1]) for p in pts))

    def line_y(self, x):
        """The line's y at x (held flat before the first and after the last point); x may be an array."""
        return np.interp(x, self.xs, self.ys)

    def wz_array(self, x, y, yaw) -> np.ndarray:
        """The yaw rate for arrays of poses (training steers thousands of envs with the same law)."""
        offset = np.asarray(y, dtype=np.float64) - self.line_y(x)
        wanted = -np.clip(self.k_y * offset, -self.max_heading, self.max_heading)
        err = (wanted - np.asarray(yaw, dtype=np.float64) + np.pi) % (2 * np.pi) - np.pi
        return np.clip(self.k_yaw * err, -self.max_wz, self.max_wz)

    def wz(self, x: float, y: float, yaw: float) -> float:
        return float(self.wz_array(x, y, yaw))
