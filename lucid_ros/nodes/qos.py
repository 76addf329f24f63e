"""Named QoS profiles, in one place. Nothing in lucid_ros uses the system default.

- STATE: joint_states, imu/data, odom, policy targets. Reliable because robot_state_publisher and
  rviz subscribe reliably, and because the sim's lockstep must not lose a tick. Depth 5.
- SENSOR: camera images for operators. Best-effort, depth 2: a late frame is worth nothing.
- COMMAND: joint_commands and safety/estop. Reliable, depth 1 (only the newest command matters),
  with a deadline so a silent supervisor is an event, not a mystery.
- LATCHED: safety/state and policy/status. Transient-local so a late joiner (rviz, a test, an
  operator's terminal) sees the current state at once.
"""

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

STATE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)
SENSOR = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2, reliability=ReliabilityPolicy.BEST_EFFORT)
COMMAND = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    deadline=Duration(seconds=0.5),
)
ESTOP = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
# safety/event: every transition must arrive, even two in one tick, and late joiners see the history.
EVENTS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
DIAGNOSTICS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


def incompatible(ours: QoSProfile, theirs: QoSProfile) -> str | None:
    """Why a publisher offering `theirs` can never reach our subscription with `ours` (None: it can)."""
    from rclpy.qos import QoSCompatibility, qos_check_compatible

    verdict, reason = qos_check_compatible(theirs, ours)
    if verdict != QoSCompatibility.ERROR:
        return None
    # rclpy says "ERROR: Best effort publisher and reliable subscription;"
    return reason.removeprefix("ERROR:").strip().rstrip(";").strip() or "incompatible QoS"
