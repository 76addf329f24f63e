"""Joint axes as robot data: a YAML joint may declare `axis`, the direction it turns about.

The axis is given in the base body's frame with every joint at 0, the frame a vendor's kinematics
is written in (Mini Cheetah: ab/ad +x, hip and knee -y). It fixes the sign convention: the same
angle on a model whose joint turns about +y moves the foot the other way, and a default pose,
limits and a policy written for one convention would bend the other robot's knees backwards.
The loader checks the declared axis against both models and refuses a disagreement by file and
field (`joints[i].axis`), naming the model and the axis it found.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.fields import Fields

TOL = 1e-6


def parse_axis(jf: Fields) -> tuple[float, float, float] | None:
    """The joint's optional `axis`: three numbers forming a unit vector."""
    if not jf.has("axis"):
        return None
    axis = jf.float_list("axis", length=3)
    if not math.isclose(math.hypot(*axis), 1.0, abs_tol=TOL):
        raise jf.error("axis", f"expected a unit vector, got {axis}")
    return tuple(axis)


def mjcf_axes(m, base_body: str) -> dict[str, np.ndarray]:
    """Every hinge's axis in the base body's frame at qpos0 (mujoco.MjModel m)."""
    import mujoco

    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    R_base = d.xmat[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, base_body)].reshape(3, 3)
    return {m.joint(j).name: R_base.T @ d.xaxis[j] for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE}


def _rpy(r: float, p: float, y: float) -> np.ndarray:
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])  # fmt: skip


def urdf_axes(root: ET.Element) -> dict[str, np.ndarray]:
    """Every joint's axis in the root link's frame with all joints at 0."""
    by_child = {j.find("child").get("link"): j for j in root.iter("joint")}

    def frame(link: str) -> np.ndarray:
        j = by_child.get(link)
        if j is None:
            return np.eye(3)
        o = j.find("origin")
        rpy = [float(v) for v in (o.get("rpy", "0 0 0") if o is not None else "0 0 0").split()]
        return frame(j.find("parent").get("link")) @ _rpy(*rpy)

    out = {}
    for j in root.iter("joint"):
        ax = j.find("axis")
        a = np.array([float(v) for v in (ax.get("xyz") if ax is not None else "1 0 0").split()])
        out[j.get("name")] = frame(j.find("child").get("link")) @ (a / np.linalg.norm(a))
    return out


def check_axes(robot, found: dict[str, np.ndarray], model_name: str) -> None:
    """Refuse the first joint whose declared axis differs from `found` (the model's axes)."""
    for i, j in enumerate(robot.joints):
        if j.axis is None or j.name not in found:
            continue
        if not np.allclose(found[j.name], j.axis, atol=1e-4):
            raise ConfigError(
                robot.source,
                f"joints[{i}].axis",
                f"{list(j.axis)} differs from '{j.name}' in {model_name}: {np.round(found[j.name], 6).tolist()}",
            )
