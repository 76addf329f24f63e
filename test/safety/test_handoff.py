"""The one-commander hand-off (lucid_ros.safety.handoff): a backend tells its supervisor's mirror
from anybody else's joint_commands, and names who else publishes."""

import numpy as np
import pytest

from lucid_ros.nodes import convert
from lucid_ros.safety.handoff import ForeignCommands, command_fingerprint, handoff_for
from lucid_ros.types import JointCommand

NAMES = ["a", "b", "c"]


class Graph:  # a stand-in for an rclpy Context: any weak-referenceable object
    pass


def mirrored(cmd: JointCommand) -> int:
    """What a backend computes from the mirror message it receives."""
    msg = convert.command_msg(cmd, NAMES)
    ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    return command_fingerprint(convert.joint_command(msg, NAMES), ns)


@pytest.mark.parametrize("stamp", [12.34, 1_764_842_272.123456789])  # sim time; a wall-clock stamp
def test_the_mirror_of_a_delivered_command_is_own_and_a_rogue_passive_is_not(stamp):
    h = handoff_for(Graph())
    got = []
    h.attach_sink("/sim_bridge", got.append)
    passive = JointCommand.passive(3, stamp)
    cmd = JointCommand(stamp + 0.02, np.array([0.1, 0.2, 0.3]), np.zeros(3), np.zeros(3), np.full(3, 20.0), np.full(3, 0.5), "position")
    assert h.deliver(passive) and h.deliver(cmd) and got == [passive, cmd]
    assert h.is_own(mirrored(passive)) and h.is_own(mirrored(cmd))
    # the same zeros the supervisor sent while PASSIVE, stamped otherwise, are foreign
    assert not h.is_own(mirrored(JointCommand.passive(3, 0.0)))
    assert not h.is_own(mirrored(JointCommand.passive(3, stamp + 0.004)))


def test_one_source_and_one_sink_per_graph_and_namespace_and_undelivered_counted():
    g = Graph()
    h = handoff_for(g)
    assert handoff_for(g) is h and handoff_for(Graph()) is not h and handoff_for(g, "/robot2") is not h
    h.attach_source("/safety_supervisor")
    with pytest.raises(RuntimeError, match="second command source"):
        h.attach_source("/other_supervisor")
    assert not h.deliver(JointCommand.passive(3)) and h.undelivered == 1
    h.attach_sink("/robot_driver", lambda c: None)
    with pytest.raises(RuntimeError, match="second backend"):
        h.attach_sink("/sim_bridge", lambda c: None)
    h.detach("/robot_driver")
    assert h.sink is None and h.source == "/safety_supervisor"


def test_foreign_commands_counted_and_reported_once_per_set_of_publishers():
    f = ForeignCommands()
    assert f.problem(0.0) is None
    assert f.observe(["/rogue_commander"], 1.0) and not f.observe(["/rogue_commander"], 1.6)
    assert not f.lookup_due(1.7) and not f.observe(None, 1.7)  # a flood: counted, the graph not asked
    assert f.lookup_due(2.1) and f.observe(["/rogue_commander", "/laptop"], 2.1) and f.count == 4
    assert f.named() == "/laptop, /rogue_commander" and "/rogue_commander" in f.problem(2.0)
    assert f.problem(100.0) is None  # long quiet: no longer an ERROR (the count stays)
    assert f.observe([], 101.0) and "unknown" in f.named()  # gone from the graph before we looked


def test_a_publisher_the_graph_cannot_name_yet_is_counted_and_reported_once_named():
    f = ForeignCommands()
    assert not f.observe([], 1.0, settled=False) and f.count == 1 and f.publishers == ()
    assert f.observe(["/rogue_commander"], 1.1) and f.named() == "/rogue_commander"
