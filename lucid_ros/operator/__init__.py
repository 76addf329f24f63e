"""What an operator sees (rviz markers, policy images): plain data, no rclpy."""
