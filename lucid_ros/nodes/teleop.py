"""teleop: a keyboard (this terminal) or a gamepad (/dev/input/eventN) to `cmd_vel` and the safety
services. The mapping and its semantics live in lucid_ros.teleop; this node polls the input on a
timer, publishes, and calls `safety/{stand,run,damp,reset}` (std_srvs/Trigger) or publishes
`safety/estop` (std_msgs/Bool true, latched by the supervisor until reset).

Parameters: `device` ('' = keyboard on stdin), `config` (mapping YAML; default
config/teleop/{keyboard,gamepad}.yaml), `rate` (Hz, default 20), `take_over` (false).

One operator at a time (lucid_ros.safety.lease): teleop asks the supervisor for the operator
lease and renews it while it runs. Its `cmd_vel` publisher and service clients exist only while
it holds the lease, so a refused teleop is not a second publisher on the robot's channels: it
says who holds the lease and quits (`take_over` replaces the holder, explicitly). The e-stop is
always available, lease or not.
"""

from __future__ import annotations

import sys
import time

from geometry_msgs.msg import Twist
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from lucid_ros.nodes import qos
from lucid_ros.nodes.authority import OperatorLease
from lucid_ros.nodes.common import GraphNode, param
from lucid_ros.teleop.config import load_gamepad, load_keyboard
from lucid_ros.teleop.sources import CmdGate, GamepadSource, KeyboardSource

SERVICES = ("stand", "run", "damp", "reset")


class TeleopNode(GraphNode):
    def __init__(self, stdin_fd: int | None = None, **kwargs):
        super().__init__("teleop", **kwargs)
        device = str(param(self, "device", ""))
        config = str(param(self, "config", "")) or None
        rate = float(param(self, "rate", 20.0))
        if device:
            self.source = GamepadSource(device, load_gamepad(config))
            cfg = self.source.pad.config
            self.get_logger().info(f"gamepad {device} ({cfg.path}): hold the dead-man button for any motion; device-reported axis ranges: "
                                   f"{self.source.reported or 'none (YAML defaults)'}")  # fmt: skip
        else:
            self.source = KeyboardSource(sys.stdin.fileno() if stdin_fd is None else stdin_fd, load_keyboard(config))
            keys = self.source.keys.config.keys
            self.get_logger().info("keyboard: " + ", ".join(f"{k}={a}" for k, a in keys.items()) + "; Ctrl-C quits")
        self.gate = CmdGate()
        self.quit = False
        self.refused_by: str | None = None  # the holder that refused us (the process exits 1 naming it)
        self.state = "UNKNOWN"
        self.cmd_pub = None  # created when the lease is granted: before that we are nobody's operator
        self.safety_clients: dict = {}
        self.estop_pub = self.create_publisher(Bool, "safety/estop", qos.ESTOP)
        self.create_subscription(String, "safety/state", self._on_state, qos.LATCHED)
        self.lease = OperatorLease(self, take_over=bool(param(self, "take_over", False)), on_refused=self._refused)
        self.create_timer(1.0 / rate, self._tick)

    def _refused(self, holder: str) -> None:
        self.get_logger().error(f"operator lease held by {holder}: this teleop does not drive (run it with --take-over to replace {holder})")
        self.refused_by, self.quit = holder, True
        self._drop_channels()

    def _drop_channels(self) -> None:
        if self.cmd_pub is not None:
            self.destroy_publisher(self.cmd_pub)
            self.cmd_pub = None
        for client in self.safety_clients.values():
            self.destroy_client(client)
        self.safety_clients = {}

    def _open_channels(self) -> None:
        if self.cmd_pub is None and self.lease.granted:
            self.cmd_pub = self.create_publisher(Twist, "cmd_vel", qos.STATE)
            self.safety_clients = {name: self.create_client(Trigger, f"safety/{name}") for name in SERVICES}
            self.get_logger().info(f"operator lease granted to {self.lease.me}")

    def _on_state(self, msg: String) -> None:
        if msg.data != self.state:
            self.get_logger().info(f"safety state: {msg.data}")
        self.state = msg.data

    def _tick(self) -> None:
        self._open_channels()
        tick = self.source.poll(time.monotonic())
        if tick.lost:
            self.get_logger().error(f"INPUT DEVICE LOST ({tick.lost}): velocity zeroed, asking safety/damp")
        cmd = self.gate(tick)
        if cmd is not None:
            self.publish_cmd(cmd)
        for action in tick.actions:
            if action == "quit":
                self.quit = True
            elif action == "estop":
                self.estop()
            else:
                self.request(action)

    def publish_cmd(self, cmd: tuple[float, float, float]) -> None:
        if self.cmd_pub is None:
            return  # no lease (yet): nothing to say on cmd_vel
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in cmd)
        self.cmd_pub.publish(msg)

    def estop(self) -> None:
        self.estop_pub.publish(Bool(data=True))
        self.publish_cmd((0.0, 0.0, 0.0))
        if self.estop_pub.get_subscription_count() == 0:
            self.get_logger().error("E-STOP sent, but NOTHING subscribes to safety/estop: is the robot's graph on this ROS_DOMAIN_ID?")
        else:
            self.get_logger().warning("E-STOP sent (latched until safety/reset)")

    def request(self, name: str) -> None:
        client = self.safety_clients.get(name)
        if client is None:
            self.get_logger().error(f"safety/{name}: this teleop does not hold the operator lease (holder: {self.lease.holder or 'none yet'})")
            return
        if not client.service_is_ready():
            self.get_logger().error(f"safety/{name}: no safety supervisor answers (is the robot's graph on this ROS_DOMAIN_ID?)")
            return
        future = client.call_async(Trigger.Request())

        def done(f) -> None:
            r = f.result()
            log = self.get_logger().info if r is not None and r.success else self.get_logger().error
            log(f"safety/{name}: {'ok' if r is not None and r.success else 'REFUSED'}: {r.message if r is not None else f.exception()}")

        future.add_done_callback(done)

    def destroy_node(self) -> None:
        if self.context.ok():
            self.publish_cmd((0.0, 0.0, 0.0))  # leaving: the last word is stop
            self.lease.release()
        self.source.close()
        super().destroy_node()


def run(args=None, overrides: dict | None = None) -> int:
    """Spin until Ctrl-C (or stdin closes); the terminal is restored whatever happens.
    `overrides`: parameter values (the `lucid-ros teleop` options)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    from lucid_ros.errors import ConfigError, exit_status
    from lucid_ros.teleop.terminal import raw_terminal

    # Ctrl-C as KeyboardInterrupt with the context still valid, so the zero twist goes out
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        with raw_terminal():
            from lucid_ros.nodes.common import parameters

            node = TeleopNode(parameter_overrides=parameters(overrides or {}))
            while rclpy.ok() and not node.quit:
                rclpy.spin_once(node, timeout_sec=0.1)
    except ConfigError as exc:
        return exit_status(exc, "teleop")
    except OSError as exc:
        print(f"teleop: cannot open the input device: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    if node is not None and node.refused_by is not None:
        print(f"teleop: the operator lease is held by {node.refused_by}; --take-over replaces it", file=sys.stderr)
        return 1
    return 0


def main(args=None) -> None:
    sys.exit(run(args))


if __name__ == "__main__":
    main()
