"""One MuJoCo model = the robot's MJCF + a course, assembled with MjSpec.

Code never indexes MuJoCo arrays by position: `WorldIndex` holds every address the sim needs,
looked up by the names in the robot description, so a model whose bodies or sensors come in
another order still works, and a model missing one is refused with the robot YAML's field.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.mathutil import rpy_to_quat
from lucid_ros.robots.description import RobotDescription
from lucid_ros.sim.courses import Course, Texture, randomize, terrain_heights

PREFIX = "course_"  # every element the course adds is named course_*, never clashing with the robot's
_IMU_SENSORS = (
    ("imu_quat", mujoco.mjtSensor.mjSENS_FRAMEQUAT, 4),
    ("imu_gyro", mujoco.mjtSensor.mjSENS_GYRO, 3),
    ("imu_acc", mujoco.mjtSensor.mjSENS_ACCELEROMETER, 3),
)
_MIN_OFFSCREEN = (640, 480)


@dataclass(frozen=True)
class WorldIndex:
    """Addresses into MjModel/MjData; joint and actuator arrays are in canonical joint order."""

    joint_qpos: np.ndarray  # (n_joints,) qpos address of each canonical joint
    joint_qvel: np.ndarray  # (n_joints,) qvel (dof) address
    actuators: np.ndarray  # (n_joints,) actuator id driving each canonical joint
    root_qpos: int  # free joint 'root': qpos[root_qpos:+3] position, [+3:+7] quat (w, x, y, z)
    root_qvel: int  # qvel[root_qvel:+3] linear velocity (world), [+3:+6] angular velocity (body)
    base_body: int
    imu_site: int
    imu_quat: int  # sensordata address of 4 values
    imu_gyro: int  # 3 values, site frame
    imu_acc: int  # 3 values, site frame
    feet: np.ndarray  # geom ids in robot.feet order
    ground: np.ndarray  # the floor / terrain geom ids
    boxes: np.ndarray  # course box geom ids in course order
    cameras: dict[str, int]  # camera id by mount name (e.g. 'ego') and by MJCF name (e.g. 'ego_camera')
    robot_body: np.ndarray  # (nbody,) bool: the body belongs to the robot
    robot_geoms: np.ndarray  # robot geom ids that can collide with the course
    robot_radius: float  # reach of the robot's geoms from the base (m), for near-obstacle checks

    @property
    def course_geoms(self) -> np.ndarray:
        return np.concatenate([self.ground, self.boxes])


def build_model(robot: RobotDescription, course: Course, seed: int = 0) -> tuple[mujoco.MjModel, WorldIndex]:
    """Robot + course (the variant `randomize(course, seed)`) as one compiled model and its index."""
    course = randomize(course, seed)
    if not robot.mjcf_path.is_file():
        raise ConfigError(robot.source, "mjcf", f"MuJoCo model not found: {robot.mjcf_path}")
    try:
        spec = mujoco.MjSpec.from_file(str(robot.mjcf_path))
    except Exception as exc:  # noqa: BLE001 - MjSpec raises ValueError with the parser's message
        raise ConfigError(robot.mjcf_path, None, f"MuJoCo cannot load the model: {exc}") from exc
    spec.option.timestep = robot.physics_dt
    _add_visuals(spec, robot, course)
    _add_course(spec, course, _collision_bits(spec))
    try:
        model = spec.compile()
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(course.source, None, f"MuJoCo cannot compile {robot.name} on this course: {exc}") from exc
    return model, index_world(model, robot, course)


def _add_visuals(spec: mujoco.MjSpec, robot: RobotDescription, course: Course) -> None:
    """A light (no shadows), a gradient sky and a checker floor texture: cheap, and images need some contrast.

    A course variant may change the light and the textures (course.lighting, *.texture); those
    only touch materials, lights and the headlight, never a collision property.
    """
    streams = [s for c in robot.cameras.values() for s in (c.depth, c.color) if s is not None]
    g = spec.visual.global_
    g.offwidth = max([g.offwidth, _MIN_OFFSCREEN[0]] + [s.width for s in streams])
    g.offheight = max([g.offheight, _MIN_OFFSCREEN[1]] + [s.height for s in streams])
    light = course.lighting
    # No shadows and no multisampling: on the CPU (EGL, llvmpipe) a 4096 shadow map makes an 80x45
    # colour frame cost ~125 ms, without it ~6 ms; training renders millions of these frames and
    # the runtime renders the same model, so both see the same shadowless images.
    spec.worldbody.add_light(
        name=PREFIX + "sun", type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, pos=[0, 0, 5], dir=list(light.sun_dir),
        diffuse=[light.sun_diffuse] * 3, ambient=[light.ambient] * 3, castshadow=False,
    )  # fmt: skip
    spec.visual.quality.offsamples = 0
    spec.visual.headlight.diffuse = [light.headlight] * 3
    spec.add_texture(
        name=PREFIX + "sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX, builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
        rgb1=[0.55, 0.7, 0.9], rgb2=[0.1, 0.15, 0.25], width=64, height=64,
    )  # fmt: skip
    tex = course.ground.texture
    if tex is None:
        spec.add_texture(
            name=PREFIX + "grid", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
            rgb1=[0.3, 0.32, 0.36], rgb2=[0.42, 0.44, 0.48], width=128, height=128,
        )  # fmt: skip
    else:
        _texture(spec, PREFIX + "grid", tex, 128)
    mat = spec.add_material(name=PREFIX + "ground", texrepeat=[1, 1], texuniform=True)
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = PREFIX + "grid"
    for box in course.boxes:
        if box.texture is not None:
            _texture(spec, PREFIX + box.name + "_tex", box.texture, 64)
            m = spec.add_material(name=PREFIX + box.name, texrepeat=[box.texture.repeat] * 2, texuniform=True)
            m.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = PREFIX + box.name + "_tex"


_BUILTINS = {"checker": mujoco.mjtBuiltin.mjBUILTIN_CHECKER, "gradient": mujoco.mjtBuiltin.mjBUILTIN_GRADIENT}


def _texture(spec: mujoco.MjSpec, name: str, tex: Texture, size: int) -> None:
    t = spec.add_texture(
        name=name, type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=_BUILTINS.get(tex.kind, mujoco.mjtBuiltin.mjBUILTIN_FLAT),
        rgb1=list(tex.rgb1), rgb2=list(tex.rgb2), width=size, height=size,
    )  # fmt: skip
    if tex.kind == "noise":
        t.mark = mujoco.mjtMark.mjMARK_RANDOM
        t.markrgb = list(tex.rgb2)
        t.random = tex.dots


def _collision_bits(spec: mujoco.MjSpec) -> tuple[int, int]:
    """contype/conaffinity for course geoms so that every colliding robot geom meets the course."""
    contype, conaffinity = 1, 1
    for geom in spec.geoms:
        if geom.contype or geom.conaffinity:
            contype |= geom.conaffinity
            conaffinity |= geom.contype
    return contype, conaffinity


def _add_course(spec: mujoco.MjSpec, course: Course, bits: tuple[int, int]) -> None:
    # priority 1: the course's friction decides the contact, whatever the robot's feet declare
    common = dict(friction=[course.friction, 0.005, 0.0001], priority=1, condim=3, contype=bits[0], conaffinity=bits[1])
    gr = course.ground
    cx, cy = gr.center
    if gr.kind == "plane":
        spec.worldbody.add_geom(
            name=PREFIX + "ground", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[gr.extent[0] / 2, gr.extent[1] / 2, 0.05],
            pos=[cx, cy, gr.z], material=PREFIX + "ground", rgba=list(gr.rgba), **common,
        )  # fmt: skip
        nominal = [gr.extent[0] / 2, gr.extent[1] / 2]
        spec.material(PREFIX + "ground").texrepeat = nominal if gr.texture is None else [gr.texture.repeat] * 2
    else:
        h = terrain_heights(gr)
        lo, hi = float(h.min()), float(h.max())
        span = max(hi - lo, 1e-6)
        field = spec.add_hfield(name=PREFIX + "terrain", nrow=h.shape[0], ncol=h.shape[1])
        field.size = [gr.extent[0] / 2, gr.extent[1] / 2, span, 0.1]
        field.userdata = ((h - lo) / span).ravel().tolist()  # MuJoCo maps [0, 1] to [pos.z, pos.z + span]
        spec.worldbody.add_geom(
            name=PREFIX + "ground", type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname=PREFIX + "terrain",
            pos=[cx, cy, gr.z + lo], rgba=list(gr.rgba), **common,
        )  # fmt: skip
    for box in course.boxes:
        look = dict(material=PREFIX + box.name, rgba=[1.0, 1.0, 1.0, 1.0]) if box.texture is not None else dict(rgba=list(box.rgba))
        spec.worldbody.add_geom(
            name=PREFIX + box.name, type=mujoco.mjtGeom.mjGEOM_BOX, size=[s / 2 for s in box.size],
            pos=list(box.pos), quat=list(box.quat), **look, **common,
        )  # fmt: skip


def index_world(model: mujoco.MjModel, robot: RobotDescription, course: Course | None = None) -> WorldIndex:
    """Find every address by name; ConfigError (naming the robot YAML field) for anything missing."""
    src, fname = robot.source, robot.mjcf_path.name
    qpos, qvel, acts = [], [], []
    for i, j in enumerate(robot.joints):
        jid = _id(model, mujoco.mjtObj.mjOBJ_JOINT, j.name, src, f"joints[{i}].name", f"joint '{j.name}' not in {fname}")
        aid = _id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, j.name, src, f"joints[{i}].name", f"no actuator named '{j.name}' in {fname}")
        _check_motor(model, aid, jid, j.effort_limit, src, f"joints[{i}].name", fname)
        qpos.append(model.jnt_qposadr[jid])
        qvel.append(model.jnt_dofadr[jid])
        acts.append(aid)
    rid = _id(model, mujoco.mjtObj.mjOBJ_JOINT, "root", src, "mjcf", f"{fname} has no free joint named 'root'")
    if model.jnt_type[rid] != mujoco.mjtJoint.mjJNT_FREE:
        raise ConfigError(src, "mjcf", f"joint 'root' in {fname} is not a free joint")
    base = _id(model, mujoco.mjtObj.mjOBJ_BODY, robot.base_body, src, "base_body", f"body '{robot.base_body}' not in {fname}")
    if model.jnt_bodyid[rid] != base:
        raise ConfigError(src, "base_body", f"free joint 'root' in {fname} does not move body '{robot.base_body}'")
    site = _id(model, mujoco.mjtObj.mjOBJ_SITE, robot.imu_site, src, "imu.site", f"site '{robot.imu_site}' not in {fname}")
    sensors = {}
    for name, kind, dim in _IMU_SENSORS:
        sid = _id(model, mujoco.mjtObj.mjOBJ_SENSOR, name, src, "imu.site", f"sensor '{name}' not in {fname}")
        ok = model.sensor_type[sid] == kind and model.sensor_dim[sid] == dim
        ok = ok and model.sensor_objtype[sid] == mujoco.mjtObj.mjOBJ_SITE and model.sensor_objid[sid] == site
        if not ok:
            raise ConfigError(src, "imu.site", f"sensor '{name}' in {fname} must be a {kind.name} on site '{robot.imu_site}'")
        sensors[name] = int(model.sensor_adr[sid])
    feet = [_id(model, mujoco.mjtObj.mjOBJ_GEOM, n, src, f"feet[{i}]", f"geom '{n}' not in {fname}") for i, n in enumerate(robot.feet)]
    cams = {}
    for c in robot.cameras.values():
        cid = _id(model, mujoco.mjtObj.mjOBJ_CAMERA, c.mjcf_camera, src, f"cameras.{c.name}.mjcf_camera", f"camera '{c.mjcf_camera}' not in {fname}")
        cams[c.name] = cams[c.mjcf_camera] = cid
    robot_body = model.body_rootid == model.body_rootid[base]
    colliding = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    robot_geoms = np.flatnonzero(robot_body[model.geom_bodyid] & colliding)
    ground = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, PREFIX + "ground")
    boxes = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, PREFIX + b.name) for b in (course.boxes if course else ())]
    return WorldIndex(
        joint_qpos=np.array(qpos, dtype=np.int64),
        joint_qvel=np.array(qvel, dtype=np.int64),
        actuators=np.array(acts, dtype=np.int64),
        root_qpos=int(model.jnt_qposadr[rid]),
        root_qvel=int(model.jnt_dofadr[rid]),
        base_body=base,
        imu_site=site,
        imu_quat=sensors["imu_quat"],
        imu_gyro=sensors["imu_gyro"],
        imu_acc=sensors["imu_acc"],
        feet=np.array(feet, dtype=np.int64),
        ground=np.array([ground] if ground >= 0 else [], dtype=np.int64),
        boxes=np.array(boxes, dtype=np.int64),
        cameras=cams,
        robot_body=robot_body,
        robot_geoms=robot_geoms,
        robot_radius=_robot_radius(model, base, robot_geoms),
    )


def _id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str, src: object, field: str, message: str) -> int:
    i = mujoco.mj_name2id(model, kind, name)
    if i < 0:
        raise ConfigError(src, field, message)
    return int(i)


def _check_motor(model: mujoco.MjModel, aid: int, jid: int, effort: float, src: object, field: str, fname: str) -> None:
    """ctrl must be the joint torque: pd_torque computes it, so a position servo or gear would double-count."""
    name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, aid)
    if model.actuator_trntype[aid] != mujoco.mjtTrn.mjTRN_JOINT or model.actuator_trnid[aid, 0] != jid:
        raise ConfigError(src, field, f"actuator '{name}' in {fname} does not drive joint '{name}'")
    pure = model.actuator_gaintype[aid] == mujoco.mjtGain.mjGAIN_FIXED and model.actuator_biastype[aid] == mujoco.mjtBias.mjBIAS_NONE
    pure = pure and model.actuator_dyntype[aid] == mujoco.mjtDyn.mjDYN_NONE and model.actuator_gainprm[aid, 0] == 1.0
    if not pure or model.actuator_gear[aid, 0] != 1.0:
        raise ConfigError(src, field, f"actuator '{name}' in {fname} must be a <motor> with gear 1")
    for limited, rng, what in (
        (model.actuator_ctrllimited, model.actuator_ctrlrange, "ctrlrange"),
        (model.actuator_forcelimited, model.actuator_forcerange, "forcerange"),
    ):
        if limited[aid] and (rng[aid, 0] > -effort + 1e-6 or rng[aid, 1] < effort - 1e-6):
            raise ConfigError(src, field, f"{what} {rng[aid].tolist()} of '{name}' in {fname} is narrower than the effort limit {effort}")


def foot_bottom(model: mujoco.MjModel, geoms: np.ndarray) -> np.ndarray:
    """(n_feet,) how far below its centre each foot geom touches a flat floor when level: a sphere's
    or capsule's radius (quadruped feet), a box's half height (humanoid soles)."""
    size = model.geom_size[geoms]
    box = model.geom_type[geoms] == mujoco.mjtGeom.mjGEOM_BOX
    return np.where(box, size[:, 2], size[:, 0])


def _robot_radius(model: mujoco.MjModel, base: int, geoms: np.ndarray) -> float:
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    if len(geoms) == 0:
        return 1.0
    d = np.linalg.norm(data.geom_xpos[geoms] - data.xpos[base], axis=1) + model.geom_rbound[geoms]
    return float(d.max())


# Folded quadruped pose (belly on the ground), by joint-name part, as magnitudes bent the way the
# default pose bends: Go1 folds to thigh +1.5, calf -2.6; the Mini Cheetah, whose hip and knee turn
# about -y, to -1.5, +2.6 (MCS's own fold is 0, -1.4, 2.7). Joints matching none keep default.
_FOLDED = (("calf", 2.6), ("thigh", 1.5), ("hip", 0.0))
POSES = ("default", "crouch", "lying")


def named_pose(robot: RobotDescription, pose: str | np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Joint angles (canonical order) and base (roll, pitch) for a named pose or an explicit array.

    Quadrupeds: 'crouch' and 'lying' are the folded pose a powered-off robot rests in (hip 0,
    thigh 1.5, calf 2.6 with the signs of the default pose, e.g. Go1 +1.5, -2.6; clipped to the limits). Humanoids: 'crouch' is the default stance and
    'lying' is the default stance on its back, so a get-up routine has a start state to test.
    """
    if not isinstance(pose, str):
        q = np.asarray(pose, dtype=np.float64)
        if q.shape != (robot.n_joints,) or not np.all(np.isfinite(q)):
            raise ValueError(f"pose array must be {robot.n_joints} finite joint angles, got shape {q.shape}")
        return q.copy(), (0.0, 0.0)
    if pose not in POSES:
        raise ValueError(f"unknown pose {pose!r}; expected one of {list(POSES)} or an array")
    q = np.array(robot.default_pose, dtype=np.float64)
    if pose == "default" or (robot.kind == "humanoid" and pose == "crouch"):
        return q, (0.0, 0.0)
    if robot.kind == "humanoid":
        return q, (0.0, -np.pi / 2)
    for i, name in enumerate(robot.joint_names):
        q[i] = next((v * (-1.0 if q[i] < 0 else 1.0) for part, v in _FOLDED if part in name), q[i])
    return np.clip(q, robot.lower, robot.upper), (0.0, 0.0)


def place_on_ground(
    model: mujoco.MjModel, data: mujoco.MjData, index: WorldIndex, joint_q: np.ndarray,
    xy: tuple[float, float] = (0.0, 0.0), yaw: float = 0.0, roll_pitch: tuple[float, float] = (0.0, 0.0),
) -> float:  # fmt: skip
    """Pose the robot at rest so its lowest colliding geom just touches the course; returns base z.

    Uses MuJoCo's own collision functions (exact for planes, boxes and heightfield prisms): with
    a probe margin on the course geoms, contacts report the signed gap, and the robot is lowered
    from above by it, so it never penetrates. (mj_geomDistance is not used: it is unreliable
    against heightfields.) The model's margins are restored before returning.
    """
    r = index.root_qpos
    data.qvel[:] = 0.0
    data.qpos[index.joint_qpos] = joint_q
    data.qpos[r : r + 3] = (xy[0], xy[1], 0.0)
    data.qpos[r + 3 : r + 7] = rpy_to_quat(np.array([roll_pitch[0], roll_pitch[1], yaw]))
    mujoco.mj_kinematics(model, data)
    data.qpos[r + 2] = _course_top(model, index, np.asarray(xy, dtype=np.float64)) - _lowest_point(model, data, index) + 0.01
    course = index.course_geoms
    saved = model.geom_margin[course].copy()
    model.geom_margin[course] = _PROBE
    try:
        for _ in range(500):
            mujoco.mj_kinematics(model, data)
            mujoco.mj_collision(model, data)
            gap = _min_gap(model, data, index)
            data.qpos[r + 2] -= 0.9 * _PROBE if gap is None else gap
            if gap is not None and abs(gap) < 1e-7:
                break
    finally:
        model.geom_margin[course] = saved
    mujoco.mj_forward(model, data)
    return float(data.qpos[r + 2])


_PROBE = 0.1  # m: contacts are reported up to this far apart while placing the robot


def _min_gap(model: mujoco.MjModel, data: mujoco.MjData, index: WorldIndex) -> float | None:
    n = data.ncon
    if n == 0:
        return None
    geom = data.contact.geom[:n]
    robot = index.robot_body[model.geom_bodyid[geom]]
    course = np.isin(geom, index.course_geoms)
    mine = (robot[:, 0] & course[:, 1]) | (robot[:, 1] & course[:, 0])
    return float(data.contact.dist[:n][mine].min()) if mine.any() else None


def _lowest_point(model: mujoco.MjModel, data: mujoco.MjData, index: WorldIndex) -> float:
    """Lowest z of the colliding robot geoms' bounding boxes (a bound: the start is above ground)."""
    g = index.robot_geoms
    if len(g) == 0:
        return float(data.xpos[index.base_body, 2])
    centre = model.geom_aabb[g, :3]
    half = model.geom_aabb[g, 3:]
    zrow = data.geom_xmat[g].reshape(-1, 3, 3)[:, 2, :]  # world z of each local axis
    low = data.geom_xpos[g, 2] + np.einsum("ij,ij->i", zrow, centre) - np.einsum("ij,ij->i", np.abs(zrow), half)
    return float(low.min())


def _course_top(model: mujoco.MjModel, index: WorldIndex, xy: np.ndarray) -> float:
    """Highest course point that the robot could stand on near xy (an upper bound)."""
    top = -np.inf
    for g in index.course_geoms:
        kind = model.geom_type[g]
        if kind == mujoco.mjtGeom.mjGEOM_PLANE:
            high = model.geom_pos[g, 2]
        elif kind == mujoco.mjtGeom.mjGEOM_HFIELD:
            high = model.geom_pos[g, 2] + model.hfield_size[model.geom_dataid[g], 2]
        elif np.linalg.norm(model.geom_pos[g, :2] - xy) > model.geom_rbound[g] + index.robot_radius:
            continue
        else:
            high = model.geom_pos[g, 2] + model.geom_rbound[g]
        top = max(top, float(high))
    return top if np.isfinite(top) else 0.0


def foot_contacts(model: mujoco.MjModel, data: mujoco.MjData, index: WorldIndex) -> np.ndarray:
    """(n_feet,) 1.0 where a foot geom touches anything that is not the robot, from data.contact.

    Contacts are those of data's last collision pass (mj_forward, or the start of the last mj_step).
    """
    out = np.zeros(len(index.feet))
    n = data.ncon
    if n == 0:
        return out
    geom = data.contact.geom[:n]
    active = data.contact.exclude[:n] == 0
    other_robot = index.robot_body[model.geom_bodyid[geom]]  # (n, 2): is each side part of the robot?
    for k, foot in enumerate(index.feet):
        hit = ((geom[:, 0] == foot) & ~other_robot[:, 1]) | ((geom[:, 1] == foot) & ~other_robot[:, 0])
        out[k] = float(np.any(hit & active))
    return out
