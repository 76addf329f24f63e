"""The ROS shell: the only package that imports rclpy.

Each node reads parameters, creates publishers/subscriptions/timers, converts messages to core
types (convert.py), calls the core and publishes. Logic lives in the core.
"""
