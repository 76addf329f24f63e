"""A gantry harness for fake humanoids: how a real H1/G1 meets its low-level driver.

A humanoid cannot lie passive and then stand up the way a quadruped does: operators hang it on
a gantry, start the low-level controller with the legs dangling (zero torque: the driver's
start-up checks see a still robot), let it pull the joints to the default pose, then lower it
onto its feet. This harness does that in MuJoCo: a stiff spring-damper holds the base at its
start pose `lift` metres up until the robot has been commanded for `hold_s` seconds, then the
anchor descends at `lower_speed` and the rope (pulls only) goes slack as the feet take the load;
once the anchor is `slack` below the start height it is gone for good.
"""

from __future__ import annotations

import mujoco
import numpy as np

from lucid_ros.mathutil import quat_to_rpy


class Harness:
    def __init__(self, sim, lift: float = 0.05, hold_s: float = 3.5, lower_speed: float = 0.1, slack: float = 0.1):
        self.sim = sim
        m, d, ix = sim.model, sim.data, sim.index
        self.body = ix.base_body
        self.root = ix.root_qpos
        d.qpos[self.root + 2] += lift
        mujoco.mj_forward(m, d)
        self.xy0 = d.qpos[self.root : self.root + 2].copy()
        self.z0 = float(d.qpos[self.root + 2])  # the hanging height
        self.floor_z = self.z0 - lift
        self.mass = float(m.body_mass.sum())
        self.hold_s, self.lower_speed, self.slack = hold_s, lower_speed, slack
        self.k = 400.0 * self.mass  # ~2.5 cm sag under the whole weight
        self.c = 2.0 * np.sqrt(self.k * self.mass)
        self.commanded_since: float | None = None
        self.attached = True

    def anchor(self, t: float) -> float:
        if self.commanded_since is None or t - self.commanded_since < self.hold_s:
            return self.z0
        return self.z0 - self.lower_speed * (t - self.commanded_since - self.hold_s)

    def apply(self, commanded: bool, duration: float) -> None:
        """Set the harness force and torque on the base for the next `duration` s of physics."""
        d, t = self.sim.data, self.sim.time
        if commanded and self.commanded_since is None:
            self.commanded_since = t
        if not self.attached:
            return
        z_a = self.anchor(t)
        if z_a < self.floor_z - self.slack:
            self.attached = False
            d.xfrc_applied[self.body, :] = 0.0
            return
        grip = float(np.clip((z_a - (self.floor_z - self.slack)) / (self.z0 - self.floor_z + self.slack), 0.0, 1.0))
        pos, vel = d.qpos[self.root : self.root + 3], d.qvel[self.root : self.root + 6]  # free joint: lin vel world, ang vel body
        f = np.zeros(6)
        f[2] = max(0.0, self.k * (z_a - pos[2]) - self.c * vel[2])  # a rope pulls, never pushes
        f[:2] = grip * (-self.k * (pos[:2] - self.xy0) - self.c * vel[:2])
        roll, pitch, _ = quat_to_rpy(d.qpos[self.root + 3 : self.root + 7])
        kr, cr = 0.5 * self.k, 0.2 * self.c
        R = d.xmat[self.body].reshape(3, 3)
        f[3:] = grip * (R @ np.array([-kr * roll - cr * vel[3], -kr * pitch - cr * vel[4], -cr * vel[5]]))
        # apply_push owns the force part of xfrc_applied (it zeroes it each step): hand it ours
        self.sim.apply_push(f[:3], duration)
        d.xfrc_applied[self.body, 3:] = f[3:]
