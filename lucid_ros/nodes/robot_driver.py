"""robot_driver: one node for every hardware backend (parameter `backend`), the sim bridge's twin.

Publishes `joint_states` and `imu/data` at the robot's tick rate from the driver's newest reading
(one stamp for both: the reception time); obeys only the safety supervisor in its own process
(the command hand-off, lucid_ros.safety.handoff); reports the driver's health on `diagnostics`. The driver (lucid_ros.hardware) owns the 500 Hz send loop, dry-run,
the dead-man watchdog and the start-up checks, by default in a motor process of its own
(parameter motor_process; its health, priority and memory lock are in diagnostics); this node only adapts it to topics:
- robot silent > 50 ms: joint_states stop, diagnostics ERROR, and safety/damp is called at once;
- the vendor remote (Go1 / SDK2 robots): sticks -> cmd_vel, L2+B -> safety/estop, other L2 combos
  -> safety services (lucid_ros/hardware/go1/remote.py), only while armed and active;
- activation refused (implausible pose, vendor controller running): ERROR naming the problem,
  nothing is sent; `robot_driver/activate` (Trigger) retries;
- `joint_commands` on DDS is only the supervisor's mirror: any other message on it is foreign,
  never sent to the robot, counted (`foreign_joint_commands`), ERROR naming the publishing node(s)
  and one `safety/event` per new set of them (lucid_ros.nodes.commander).
"""

from __future__ import annotations

import threading

from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from lucid_ros.errors import ConfigError
from lucid_ros.hardware import BACKENDS, ActivationRefused, open_backend
from lucid_ros.hardware.go1.remote import RemoteMapper, decode_remote
from lucid_ros.hardware.loop import PeriodicLoop
from lucid_ros.nodes import convert, qos
from lucid_ros.nodes.commander import BackendCommands
from lucid_ros.nodes.common import Diagnostics, GraphNode, now_s, param
from lucid_ros.robots import load_robot
from lucid_ros.types import JointCommand

# Backend options read from parameters (absent ones keep the driver's defaults).
OPTIONS = {
    "go1_udp": {"host": str, "port": int, "local_ip": str, "local_port": int, "power_factor": int},
    "unitree_sdk2": {"domain_id": int, "interface": str, "flavor": str},
    "mini_cheetah_lcm": {"lcm_url": str},
}
COMMON = {
    "send_rate_hz": float,
    "command_timeout": float,
    "silence_timeout": float,
    "state_timeout": float,
    "check_plausibility": bool,
    "orphan_passive_after": float,
    "fifo_priority": int,
}  # the last two: the motor process's


class RobotDriverNode(GraphNode):
    def __init__(self, **kwargs):
        super().__init__("robot_driver", **kwargs)
        self.robot = load_robot(param(self, "robot", str, required=True))
        backend = param(self, "backend", str, required=True)
        if backend not in BACKENDS:
            raise ConfigError(None, "robot_driver.backend", f"{backend!r} is not one of {list(BACKENDS)}")
        self.backend = backend
        self.armed = bool(param(self, "arm", False))
        # the driver in a motor process of its own (lucid_ros/hardware/motor_process.py); false: in this one
        self.motor_process = bool(param(self, "motor_process", True))
        options = {}
        for name, kind in {**COMMON, **OPTIONS[backend]}.items():
            if not self.has_parameter(name):  # optional, any type: unset keeps the driver's default
                self.declare_parameter(name, None, ParameterDescriptor(dynamic_typing=True))
            value = self.get_parameter(name).value
            if value not in ("", None):
                options[name] = kind(value)
        self.names = self.robot.joint_names
        self.remote_cmd_vel = bool(param(self, "remote_cmd_vel", True))
        self.remote_buttons = bool(param(self, "remote_buttons", True))
        self.mapper = RemoteMapper(
            float(param(self, "remote_max_vx", 1.0)), float(param(self, "remote_max_vy", 0.5)), float(param(self, "remote_max_wz", 1.0))
        )
        try:
            self.driver = open_backend(backend, self.robot, own_process=self.motor_process, arm=self.armed, on_fault=self._on_fault, **options)
        except (TypeError, ValueError) as exc:  # an option this backend does not take, a robot it cannot drive
            raise ConfigError(None, f"robot_driver ({backend})", str(exc)) from exc

        self.js_pub = self.create_publisher(JointState, "joint_states", qos.STATE)
        self.imu_pub = self.create_publisher(Imu, "imu/data", qos.STATE)
        self.cmd_vel_pub = self.create_publisher(Twist, "cmd_vel", qos.STATE)
        self.estop_pub = self.create_publisher(Bool, "safety/estop", qos.ESTOP)
        self.commands = BackendCommands(self, self.names, self._on_command, lambda: now_s(self))
        self.safety_clients = {n: self.create_client(Trigger, f"safety/{n}") for n in ("stand", "run", "damp", "reset")}
        self.create_service(Trigger, "robot_driver/activate", self._srv_activate)
        self.diag = Diagnostics(self)
        self.create_timer(0.2, self._report)
        self.rejected_commands = 0
        self._last_tick = None
        self._silent_reported = False
        self.loop = PeriodicLoop(1.0 / self.robot.rate_hz, name="robot_driver_publish")
        self.get_logger().warning(
            f"{backend}: ARMED — commands WILL be sent to the robot" if self.armed
            else f"{backend}: dry-run — nothing will be sent to the robot (arm:=true to send)"
        )  # fmt: skip
        self.driver.configure()

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._activate, name="robot_driver_activate", daemon=True).start()
        self.loop.start(self._publish)

    def stop(self) -> None:
        self.loop.stop()
        self.driver.close()

    def destroy_node(self) -> None:
        self.commands.close()
        super().destroy_node()

    def _activate(self) -> tuple[bool, str]:
        try:
            self.driver.activate()
        except ActivationRefused as exc:
            self.get_logger().error(f"{self.backend}: {exc}")
            self._report()
            return False, str(exc)
        self.get_logger().info(f"{self.backend}: active ({'ARMED' if self.armed else 'dry-run'})")
        return True, "active"

    def _srv_activate(self, _req, resp):
        resp.success, resp.message = self._activate()
        return resp

    # ---- data path ------------------------------------------------------------------------------
    def _on_command(self, cmd: JointCommand) -> None:
        """The hand-off's sink: the in-process supervisor's command, in its thread."""
        if not cmd.is_finite():
            self.rejected_commands += 1  # the driver would drop it too: the watchdog damps
        self.driver.write(cmd)  # non-finite commands are dropped there

    def _publish(self) -> None:
        r = self.driver.read()
        if r is None:
            return  # silent robot: no joint_states, so nothing downstream acts on old data
        self._silent_reported = False
        if r.stamp == self._last_tick:
            return
        self._last_tick = r.stamp
        self.js_pub.publish(convert.joint_state_msg(r.joints, self.names))
        self.imu_pub.publish(convert.imu_msg(r.imu, self.robot.imu_frame))
        if r.remote and self.armed and self.driver.state == "active":
            self._remote(r.remote)

    def _remote(self, raw: bytes) -> None:
        try:
            rs = decode_remote(raw)
        except ValueError:
            return
        if self.remote_cmd_vel:
            vx, vy, wz = self.mapper.cmd_vel(rs)
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = vx, vy, wz
            self.cmd_vel_pub.publish(msg)
        if self.remote_buttons:
            for action in self.mapper.actions(rs):
                self.get_logger().warning(f"remote: {action}")
                if action == "estop":
                    self.estop_pub.publish(Bool(data=True))
                else:
                    self._call(action)

    def _call(self, name: str) -> None:
        client = self.safety_clients[name]
        if client.service_is_ready():
            client.call_async(Trigger.Request())
        else:
            self.get_logger().error(f"safety/{name} is not available", throttle_duration_sec=1.0)

    def _on_fault(self, kind: str, message: str) -> None:
        """Driver thread: the robot went silent or a protocol protection tripped."""
        self.get_logger().error(f"{self.backend}: {message}: requesting safety/damp")
        if kind == "silence" and self._silent_reported:
            return
        self._silent_reported = kind == "silence"
        self._call("damp")
        self._report()

    def _report(self) -> None:
        h = self.driver.health()
        values = dict(h.values)
        values["rejected_joint_commands"] = self.rejected_commands
        values.setdefault("motor_process", "own process" if self.motor_process else "in the graph's process")
        values.update(self.commands.values())
        values.update({f"publish_{k}": v for k, v in self.loop.stats().items()})
        level, message = h.level, f"{self.backend}: {h.message}"
        problem = self.commands.problem()
        if problem is not None:
            rank = ("OK", "WARN", "ERROR")
            level = max(level, problem[0], key=lambda x: rank.index(x) if x in rank else len(rank))
            message = f"{problem[1]}; {message}"
        self.diag.publish(level, message, values)


def main(args=None) -> None:
    from lucid_ros.nodes.run import spin_with_thread

    spin_with_thread(RobotDriverNode, args)
