#!/usr/bin/env bash
# Source ROS and the package, then run the command (docker/compose.yaml sets it).
set -e
. /opt/ros/jazzy/setup.bash
. /ws/install/setup.bash
exec "$@"
