"""Teleoperation: keyboard (terminal) and gamepad (Linux evdev) to cmd_vel and the safety services.

Plain Python (no rclpy): `keyboard.Keyboard` and `gamepad.Gamepad` turn key bytes and input events
into a velocity command and safety actions; `evdev` decodes the kernel's input events;
lucid_ros.nodes.teleop publishes the result.
"""

ACTIONS = ("stand", "run", "damp", "reset", "estop")  # safety requests an operator can make
