"""The MuJoCo world: courses (data), model assembly, the motor law, one robot, many robots.

Modules: courses (load_course, randomize), world (build_model, WorldIndex, placement),
motor (pd_torque, MotorModel), robot_sim (SimRobot, for the sim bridge), batch (BatchSim, for
training). Nothing is imported eagerly, so `lucid_ros.sim.courses` stays cheap to import.

MUJOCO_GL picks mujoco's OpenGL backend when mujoco is first imported; offscreen camera images
on a headless machine need EGL, so it defaults to 'egl' here unless the user chose otherwise.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
