"""unitree_go / unitree_hg low-level DDS types as cyclonedds IdlStructs, written from the facts.

Field names, types and order follow hardware-and-models.md §2. The parts the facts elide
(`…` in unitree_go LowState_, BmsState_, the whole unitree_hg LowState_) follow the public
unitree_ros2 message definitions (unitree_go/msg/LowState.msg, BmsState.msg,
unitree_hg/msg/LowState.msg, MotorState.msg, IMUState.msg): verify them against a robot with
`ddsls`/`cyclonedds typeof rt/lowstate` before relying on a field beyond q, dq, tau_est, IMU,
tick, wireless_remote and mode_machine. Temperatures are uint8 here, as the Python SDK has them
(the ROS messages say int8; same size on the wire).

Topic names: rt/lowcmd (we publish), rt/lowstate (we subscribe). Importing this module needs
the cyclonedds Python package (0.10.2; docker/build_cyclonedds.sh builds it).
"""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct, types
from cyclonedds.idl import annotations as annotate

u8, i8, u16, i16, u32, i32, f32 = types.uint8, types.int8, types.uint16, types.int16, types.uint32, types.int32, types.float32
arr = types.array


def _z(n, v=0):
    return field(default_factory=lambda: [v] * n)


# ---- unitree_go ------------------------------------------------------------------------------
@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoMotorCmd(IdlStruct, typename="unitree_go.msg.dds_.MotorCmd_"):
    mode: u8 = 0
    q: f32 = 0.0
    dq: f32 = 0.0
    tau: f32 = 0.0
    kp: f32 = 0.0
    kd: f32 = 0.0
    reserve: arr[u32, 3] = _z(3)


@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoBmsCmd(IdlStruct, typename="unitree_go.msg.dds_.BmsCmd_"):
    off: u8 = 0
    reserve: arr[u8, 3] = _z(3)


@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoLowCmd(IdlStruct, typename="unitree_go.msg.dds_.LowCmd_"):
    head: arr[u8, 2] = field(default_factory=lambda: [0xFE, 0xEF])
    level_flag: u8 = 0xFF
    frame_reserve: u8 = 0
    sn: arr[u32, 2] = _z(2)
    version: arr[u32, 2] = _z(2)
    bandwidth: u16 = 0
    motor_cmd: arr[GoMotorCmd, 20] = field(default_factory=lambda: [GoMotorCmd() for _ in range(20)])
    bms_cmd: GoBmsCmd = field(default_factory=GoBmsCmd)
    wireless_remote: arr[u8, 40] = _z(40)
    led: arr[u8, 12] = _z(12)
    fan: arr[u8, 2] = _z(2)
    gpio: u8 = 0
    reserve: u32 = 0
    crc: u32 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoImuState(IdlStruct, typename="unitree_go.msg.dds_.IMUState_"):
    quaternion: arr[f32, 4] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    gyroscope: arr[f32, 3] = _z(3, 0.0)
    accelerometer: arr[f32, 3] = _z(3, 0.0)
    rpy: arr[f32, 3] = _z(3, 0.0)
    temperature: u8 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoMotorState(IdlStruct, typename="unitree_go.msg.dds_.MotorState_"):
    mode: u8 = 0
    q: f32 = 0.0
    dq: f32 = 0.0
    ddq: f32 = 0.0
    tau_est: f32 = 0.0
    q_raw: f32 = 0.0
    dq_raw: f32 = 0.0
    ddq_raw: f32 = 0.0
    temperature: u8 = 0
    lost: u32 = 0
    reserve: arr[u32, 2] = _z(2)


@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoBmsState(IdlStruct, typename="unitree_go.msg.dds_.BmsState_"):
    version_high: u8 = 0
    version_low: u8 = 0
    status: u8 = 0
    soc: u8 = 0
    current: i32 = 0
    cycle: u16 = 0
    bq_ntc: arr[u8, 2] = _z(2)
    mcu_ntc: arr[u8, 2] = _z(2)
    cell_vol: arr[u16, 15] = _z(15)


@dataclass
@annotate.final
@annotate.autoid("sequential")
class GoLowState(IdlStruct, typename="unitree_go.msg.dds_.LowState_"):
    head: arr[u8, 2] = field(default_factory=lambda: [0xFE, 0xEF])
    level_flag: u8 = 0xFF
    frame_reserve: u8 = 0
    sn: arr[u32, 2] = _z(2)
    version: arr[u32, 2] = _z(2)
    bandwidth: u16 = 0
    imu_state: GoImuState = field(default_factory=GoImuState)
    motor_state: arr[GoMotorState, 20] = field(default_factory=lambda: [GoMotorState() for _ in range(20)])
    bms_state: GoBmsState = field(default_factory=GoBmsState)
    foot_force: arr[i16, 4] = _z(4)
    foot_force_est: arr[i16, 4] = _z(4)
    tick: u32 = 0
    wireless_remote: arr[u8, 40] = _z(40)
    bit_flag: u8 = 0
    adc_reel: f32 = 0.0
    temperature_ntc1: u8 = 0
    temperature_ntc2: u8 = 0
    power_v: f32 = 0.0
    power_a: f32 = 0.0
    fan_frequency: arr[u16, 4] = _z(4)
    reserve: u32 = 0
    crc: u32 = 0


# ---- unitree_hg ------------------------------------------------------------------------------
@dataclass
@annotate.final
@annotate.autoid("sequential")
class HgMotorCmd(IdlStruct, typename="unitree_hg.msg.dds_.MotorCmd_"):
    mode: u8 = 0
    q: f32 = 0.0
    dq: f32 = 0.0
    tau: f32 = 0.0
    kp: f32 = 0.0
    kd: f32 = 0.0
    reserve: u32 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class HgLowCmd(IdlStruct, typename="unitree_hg.msg.dds_.LowCmd_"):
    mode_pr: u8 = 0
    mode_machine: u8 = 0
    motor_cmd: arr[HgMotorCmd, 35] = field(default_factory=lambda: [HgMotorCmd() for _ in range(35)])
    reserve: arr[u32, 4] = _z(4)
    crc: u32 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class HgImuState(IdlStruct, typename="unitree_hg.msg.dds_.IMUState_"):
    quaternion: arr[f32, 4] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    gyroscope: arr[f32, 3] = _z(3, 0.0)
    accelerometer: arr[f32, 3] = _z(3, 0.0)
    rpy: arr[f32, 3] = _z(3, 0.0)
    temperature: i16 = 0


@dataclass
@annotate.final
@annotate.autoid("sequential")
class HgMotorState(IdlStruct, typename="unitree_hg.msg.dds_.MotorState_"):
    mode: u8 = 0
    q: f32 = 0.0
    dq: f32 = 0.0
    ddq: f32 = 0.0
    tau_est: f32 = 0.0
    temperature: arr[i16, 2] = _z(2)
    vol: f32 = 0.0
    sensor: arr[u32, 2] = _z(2)
    motorstate: u32 = 0
    reserve: arr[u32, 4] = _z(4)


@dataclass
@annotate.final
@annotate.autoid("sequential")
class HgLowState(IdlStruct, typename="unitree_hg.msg.dds_.LowState_"):
    version: arr[u32, 2] = _z(2)
    mode_pr: u8 = 0
    mode_machine: u8 = 0
    tick: u32 = 0
    imu_state: HgImuState = field(default_factory=HgImuState)
    motor_state: arr[HgMotorState, 35] = field(default_factory=lambda: [HgMotorState() for _ in range(35)])
    wireless_remote: arr[u8, 40] = _z(40)
    reserve: arr[u32, 4] = _z(4)
    crc: u32 = 0


TYPES = {"go": (GoLowCmd, GoLowState), "hg": (HgLowCmd, HgLowState)}
