"""Who can see the robot's graph: DDS discovery kept on the robot's own host unless the operator opts in.

ROS 2's default (Jazzy: ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET) lets every machine on the robot's
network discover the graph and publish to any of its topics: a second operator laptop, a
forgotten test script on a desktop with the same ROS_DOMAIN_ID. `lucid-ros robot` therefore
starts its nodes with discovery limited to LOCALHOST. An operator who wants rviz or teleop from a
laptop opts in with `--expose` (the whole subnet), or names that laptop in ROS_STATIC_PEERS,
which still works with LOCALHOST (Jazzy's way to add chosen peers without opening the subnet).

The robot's own wire (Go1 UDP, the SDK2 DDS domain on the robot's interface, LCM) is not ROS
discovery and is not affected: those run in the motor process on their own sockets.
"""

from __future__ import annotations

from collections.abc import Mapping

RANGE_VAR = "ROS_AUTOMATIC_DISCOVERY_RANGE"
PEERS_VAR = "ROS_STATIC_PEERS"


def robot_discovery(expose: bool, environ: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The environment changes for a robot bring-up, and one line saying what they mean.

    Not exposed: LOCALHOST, whatever the environment said (an inherited SUBNET from a shell
    profile is exactly the accident this prevents; the line names the override). Exposed: the
    environment's own range (SUBNET by default) and a warning that the subnet can command the
    graph's inputs."""
    current = environ.get(RANGE_VAR, "")
    peers = environ.get(PEERS_VAR, "")
    if expose:
        shown = current or "SUBNET (the ROS default)"
        return {}, (
            f"DDS discovery: {shown} (--expose): every machine on this network with ROS_DOMAIN_ID="
            f"{environ.get('ROS_DOMAIN_ID', '0')} sees this graph and can publish cmd_vel and call its services"
        )
    note = f" (overriding {RANGE_VAR}={current}: pass --expose to keep it)" if current and current.upper() != "LOCALHOST" else ""
    extra = f"; static peers {peers}" if peers else "; name an operator laptop in ROS_STATIC_PEERS, or pass --expose"
    return {RANGE_VAR: "LOCALHOST"}, f"DDS discovery: LOCALHOST, this host only{note}{extra}"
