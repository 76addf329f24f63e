"""Message <-> core-type conversions. Pure functions; no node state.

Joint commands travel as trajectory_msgs/JointTrajectory (a standard message that carries names,
a stamp and enough arrays for the full motor law), laid out as:

    header.stamp     the tick the command answers (the joint_states stamp it was computed from)
    header.frame_id  the mode: "position", "damping" or "passive"
    joint_names      URDF joint names
    points[0]        setpoint: positions = q*, velocities = dq*, effort = tau_ff
    points[1]        gains:    positions = kp, velocities = kd

`policy/joint_targets` uses the same layout (mode "position", the policy's gains).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, Vector3
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState, PointCloud2, PointField
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lucid_ros.safety.handoff import stamp_ns
from lucid_ros.types import MODES, ImuSample, JointCommand, JointSample


class MessageError(ValueError):
    """A message whose layout does not match what the receiver expects (names, sizes, mode)."""


def to_time(t: float) -> Time:
    """Round to the nanosecond first: splitting before rounding turns 2.9999999999 into 2.0."""
    ns = stamp_ns(t)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def from_time(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _floats(a: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def _reorder(names: list[str], expected: list[str], what: str) -> np.ndarray | None:
    """Index array taking the message's order to `expected`; None when already identical."""
    if list(names) == list(expected):
        return None
    lookup = {n: i for i, n in enumerate(names)}
    missing = [n for n in expected if n not in lookup]
    if missing:
        raise MessageError(f"{what}: joints {missing} missing (got {list(names)})")
    return np.array([lookup[n] for n in expected])


def joint_state_msg(sample: JointSample, names: list[str]) -> JointState:
    msg = JointState()
    msg.header.stamp = to_time(sample.stamp)
    msg.name = list(names)
    msg.position = _floats(sample.q)
    msg.velocity = _floats(sample.dq)
    msg.effort = _floats(sample.tau)
    return msg


def joint_sample(msg: JointState, names: list[str]) -> JointSample:
    """JointState -> canonical-order sample. Any order of names is accepted; missing joints are not."""
    n = len(msg.name)
    for field in ("position", "velocity"):
        if len(getattr(msg, field)) != n:
            raise MessageError(f"joint_states: {n} names but {len(getattr(msg, field))} {field} values")
    idx = _reorder(list(msg.name), names, "joint_states")
    q = np.asarray(msg.position, dtype=np.float64)
    dq = np.asarray(msg.velocity, dtype=np.float64)
    tau = np.asarray(msg.effort, dtype=np.float64) if len(msg.effort) == n else np.zeros(n)
    if idx is not None:
        q, dq, tau = q[idx], dq[idx], tau[idx]
    return JointSample(from_time(msg.header.stamp), q, dq, tau)


def imu_msg(sample: ImuSample, frame: str) -> Imu:
    msg = Imu()
    msg.header.stamp = to_time(sample.stamp)
    msg.header.frame_id = frame
    w, x, y, z = _floats(sample.quat)
    msg.orientation = Quaternion(w=w, x=x, y=y, z=z)
    msg.angular_velocity = Vector3(x=float(sample.gyro[0]), y=float(sample.gyro[1]), z=float(sample.gyro[2]))
    msg.linear_acceleration = Vector3(x=float(sample.acc[0]), y=float(sample.acc[1]), z=float(sample.acc[2]))
    return msg


def imu_sample(msg: Imu) -> ImuSample:
    o, g, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    return ImuSample(
        from_time(msg.header.stamp),
        np.array([o.w, o.x, o.y, o.z]),
        np.array([g.x, g.y, g.z]),
        np.array([a.x, a.y, a.z]),
    )


def command_msg(cmd: JointCommand, names: list[str]) -> JointTrajectory:
    msg = JointTrajectory()
    msg.header.stamp = to_time(cmd.stamp)
    msg.header.frame_id = cmd.mode
    msg.joint_names = list(names)
    setpoint = JointTrajectoryPoint(positions=_floats(cmd.q), velocities=_floats(cmd.dq), effort=_floats(cmd.tau))
    gains = JointTrajectoryPoint(positions=_floats(cmd.kp), velocities=_floats(cmd.kd))
    msg.points = [setpoint, gains]
    return msg


def joint_command(msg: JointTrajectory, names: list[str]) -> JointCommand:
    """Decode the two-point layout above; raises MessageError naming what is wrong."""
    mode = msg.header.frame_id
    if mode not in MODES:
        raise MessageError(f"joint command: mode (header.frame_id) {mode!r} is not one of {list(MODES)}")
    if len(msg.points) != 2:
        raise MessageError(f"joint command: expected 2 points (setpoint, gains), got {len(msg.points)}")
    n = len(msg.joint_names)
    sp, gains = msg.points
    arrays = {
        "q": sp.positions,
        "dq": sp.velocities,
        "tau": sp.effort,
        "kp": gains.positions,
        "kd": gains.velocities,
    }
    for key, values in arrays.items():
        if len(values) != n:
            raise MessageError(f"joint command: {n} joints but {len(values)} values for {key}")
    idx = _reorder(list(msg.joint_names), names, "joint command")
    out = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    if idx is not None:
        out = {k: v[idx] for k, v in out.items()}
    return JointCommand(stamp=from_time(msg.header.stamp), mode=mode, **out)


def odometry_msg(
    stamp: float, frame: str, child: str, pos: np.ndarray, quat: np.ndarray, lin_vel_body: np.ndarray, ang_vel_body: np.ndarray
) -> Odometry:
    """nav_msgs/Odometry: pose in `frame`, twist in the child (body) frame, as REP 105 says."""
    msg = Odometry()
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame
    msg.child_frame_id = child
    p = msg.pose.pose.position
    p.x, p.y, p.z = _floats(pos)
    w, x, y, z = _floats(quat)
    msg.pose.pose.orientation = Quaternion(w=w, x=x, y=y, z=z)
    lv, av = msg.twist.twist.linear, msg.twist.twist.angular
    lv.x, lv.y, lv.z = _floats(lin_vel_body)
    av.x, av.y, av.z = _floats(ang_vel_body)
    return msg


def odometry_arrays(msg: Odometry) -> dict[str, np.ndarray]:
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    lv, av = msg.twist.twist.linear, msg.twist.twist.angular
    return {
        "stamp": np.array(from_time(msg.header.stamp)),
        "pos": np.array([p.x, p.y, p.z]),
        "quat": np.array([o.w, o.x, o.y, o.z]),
        "lin_vel": np.array([lv.x, lv.y, lv.z]),
        "ang_vel": np.array([av.x, av.y, av.z]),
    }


def cloud_msg(points: np.ndarray, frame_id: str, t: float) -> PointCloud2:
    """(N, 3) points as an unorganised float32 x, y, z PointCloud2 (what rviz and the monitor read)."""
    pts = np.ascontiguousarray(np.asarray(points, dtype="<f4").reshape(-1, 3))
    msg = PointCloud2(height=1, width=len(pts), is_bigendian=False, point_step=12, row_step=12 * len(pts), is_dense=True)
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    msg.header.stamp = to_time(t)
    msg.header.frame_id = frame_id
    msg.data = pts.tobytes()
    return msg
