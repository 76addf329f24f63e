"""The robot's camera inside a batched training env: what `SimCameraSource` renders, per env.

Each world of a WalkEnv/ParkourEnv is one MjModel with a mujoco.batch of states. To render env i
its state is copied into a scratch MjData, the kinematics and camera poses are computed, and
`vision.sources.render_stream` draws it: the same function the sim camera source calls at
runtime, so with no jitter a frame here is bit for bit the frame the camera node receives for the
same state (test/training/test_student_path.py checks that through to the policy input).

Scene randomisation for the RGB student (`SceneJitter`) is applied to the world's model right
before one env's render and undone right after: the camera's position, pitch and field of view,
the sun's direction and brightness, the ambient and head light, and a colour tint on every
material (the textures stay the course variant's). Physics never reads any of these fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.robots.description import CameraStream, RobotDescription
from lucid_ros.sim.world import PREFIX
from lucid_ros.vision.sources import render_stream


@dataclass(frozen=True)
class JitterRanges:
    cam_pos: float = 0.01  # m, each axis
    cam_pitch_deg: float = 3.0
    vfov_deg: float = 2.0
    sun_dir: float = 0.6  # added to each axis of the (0.3, 0.2, -1) direction
    sun_diffuse: tuple[float, float] = (0.2, 0.9)
    ambient: tuple[float, float] = (0.0, 0.35)
    headlight: tuple[float, float] = (0.05, 0.6)
    tint: tuple[float, float] = (0.5, 1.3)  # per material and channel


class SceneJitter:
    """Per-env draws of JitterRanges; `apply(model, i)` returns an undo function."""

    def __init__(self, n: int, n_mat: int, ranges: JitterRanges, rng: np.random.Generator):
        self.n, self.n_mat, self.r, self.rng = n, n_mat, ranges, rng
        self.cam_pos = np.zeros((n, 3))
        self.cam_pitch = np.zeros(n)
        self.dfov = np.zeros(n)
        self.sun_dir = np.tile([0.3, 0.2, -1.0], (n, 1))
        self.sun_diffuse = np.full(n, 0.7)
        self.ambient = np.zeros(n)
        self.headlight = np.full(n, 0.4)
        self.tint = np.ones((n, n_mat, 3))

    LIGHT = ("sun_dir", "sun_diffuse", "ambient", "headlight", "tint")  # what changes a colour frame and not a depth frame

    def draw(self, ids: np.ndarray) -> None:
        r, k = self.r, len(ids)
        u = lambda a, *shape: self.rng.uniform(-a, a, (k, *shape))  # noqa: E731
        self.cam_pos[ids] = u(r.cam_pos, 3)
        self.cam_pitch[ids] = np.deg2rad(u(r.cam_pitch_deg))
        self.dfov[ids] = u(r.vfov_deg)
        self._draw_light(ids, self.rng)

    def _draw_light(self, ids: np.ndarray, rng: np.random.Generator) -> None:
        r, k = self.r, len(ids)
        self.sun_dir[ids] = np.array([0.3, 0.2, -1.0]) + rng.uniform(-r.sun_dir, r.sun_dir, (k, 3))
        self.sun_diffuse[ids] = rng.uniform(*r.sun_diffuse, k)
        self.ambient[ids] = rng.uniform(*r.ambient, k)
        self.headlight[ids] = rng.uniform(*r.headlight, k)
        self.tint[ids] = rng.uniform(*r.tint, (k, self.n_mat, 3))

    def relight(self, i: int, rng: np.random.Generator) -> Callable[[], None]:
        """Draw env i's light and material tint anew (`rng`: not the episode's generator), keeping the
        camera's pose and field of view, and return the function that puts the episode's back: the
        same capture as another colour picture, whose depth frame is unchanged
        (`training.code_fit`)."""
        saved = [getattr(self, f)[i].copy() for f in self.LIGHT]
        self._draw_light(np.array([i]), rng)

        def undo() -> None:
            for f, v in zip(self.LIGHT, saved, strict=True):
                getattr(self, f)[i] = v

        return undo


class EnvCamera:
    """Renders one camera mount's streams for the envs of a training env's worlds."""

    def __init__(self, robot: RobotDescription, worlds: list, camera: str = "ego", streams: tuple[str, ...] = ("depth",)):
        self.mount = robot.cameras[camera]
        self.streams = streams
        self.worlds = worlds
        self._scratch = [mujoco.MjData(w.model) for w in worlds]
        self._renderers: list[dict[str, mujoco.Renderer]] = []
        for w in worlds:
            rs = {}
            for s in streams:
                st = self.stream(s)
                r = mujoco.Renderer(w.model, st.height, st.width)
                if s == "depth":
                    r.enable_depth_rendering()
                rs[s] = r
            self._renderers.append(rs)
        self._cid = [w.index.cameras[camera] for w in worlds]
        sun = [mujoco.mj_name2id(w.model, mujoco.mjtObj.mjOBJ_LIGHT, PREFIX + "sun") for w in worlds]
        self._sun = [i if i >= 0 else None for i in sun]
        self._base = [
            (m.cam_pos[c].copy(), m.cam_quat[c].copy(), m.mat_rgba.copy())
            for m, c in ((w.model, cid) for w, cid in zip(worlds, self._cid, strict=True))
        ]
        self.n_mat = max(w.model.nmat for w in worlds)

    def stream(self, name: str) -> CameraStream:
        st = getattr(self.mount, name)
        if st is None:
            raise ValueError(f"camera '{self.mount.name}' has no {name} stream")
        return st

    def render(self, world: int, local: int, stream: str, jitter: SceneJitter | None = None, env: int | None = None) -> np.ndarray:
        """Env `local` of world `world` as `stream` reports it (depth metres (h, w) / RGB (h, w, 3) uint8)."""
        w = self.worlds[world]
        m, d, cid = w.model, self._scratch[world], self._cid[world]
        d.qpos[:] = w.qpos[local]
        mujoco.mj_forward(m, d)  # what SimRobot does before it renders (velocities are irrelevant to a frame)
        st = self.stream(stream)
        vfov = None
        undo = None
        if jitter is not None and env is not None:
            undo = self._apply(world, jitter, env)
            mujoco.mj_camlight(m, d)
            vfov = st.vfov_deg + float(jitter.dfov[env])
        r = self._renderers[world][stream]
        try:

            def draw() -> np.ndarray:
                r.update_scene(d, camera=int(cid))
                return r.render().copy()

            return render_stream(m, cid, st, stream, draw, vfov_deg=vfov)
        finally:
            if undo is not None:
                undo()

    def _apply(self, world: int, j: SceneJitter, i: int):
        m, cid = self.worlds[world].model, self._cid[world]
        pos0, quat0, rgba0 = self._base[world]
        light = self._sun[world]
        saved = (m.light_dir[light].copy(), m.light_diffuse[light].copy(), m.light_ambient[light].copy()) if light is not None else None
        head = m.vis.headlight.diffuse.copy()
        m.cam_pos[cid] = pos0 + j.cam_pos[i]
        q = np.empty(4)
        # about the camera's x (right) axis: tilts the view up or down
        mujoco.mju_mulQuat(q, quat0, rpy_to_quat(np.array([j.cam_pitch[i], 0.0, 0.0])))
        m.cam_quat[cid] = q
        m.mat_rgba[:, :3] = np.clip(rgba0[:, :3] * j.tint[i, : m.nmat], 0.0, 1.0)
        if light is not None:
            d = j.sun_dir[i]
            m.light_dir[light] = d / np.linalg.norm(d)
            m.light_diffuse[light] = j.sun_diffuse[i]
            m.light_ambient[light] = j.ambient[i]
        m.vis.headlight.diffuse[:] = j.headlight[i]

        def undo() -> None:
            m.cam_pos[cid], m.cam_quat[cid], m.mat_rgba[:] = pos0, quat0, rgba0
            if saved is not None:
                m.light_dir[light], m.light_diffuse[light], m.light_ambient[light] = saved
            m.vis.headlight.diffuse[:] = head

        return undo

    def close(self) -> None:
        for rs in self._renderers:
            for r in rs.values():
                r.close()
