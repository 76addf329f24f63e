"""Issue 18, the one commander, through the whole sim graph: a separate process publishing passive
(zero-torque) joint_commands, QoS matched, at ~500 Hz for 3 s, collapsed the walking Go1 from
0.29 m to 0.05 m while the supervisor said RUNNING. Now the sim bridge obeys only the supervisor
in its process (lucid_ros.safety.handoff): the intruder is ignored, counted and named."""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

from lucid_ros.nodes import qos
from lucid_ros.nodes.graph import SimGraph


def test_a_foreign_commander_cannot_collapse_the_walking_robot(rogue_commander):
    rogue = rogue_commander("go1", 3.0)
    assert rogue.ready(), rogue.out
    with SimGraph(robot="go1", policy="go1_walk", cmd_vel=(0.3, 0.0, 0.0)) as g:
        diags: list[DiagnosticStatus] = []
        g.monitor.create_subscription(DiagnosticArray, "diagnostics", lambda m: diags.extend(m.status), qos.DIAGNOSTICS)
        assert g.wait_for_state("RUNNING", wall_timeout=60)
        assert rogue.matched(), rogue.out  # joint_commands subscribers (the sim bridge) found
        g.run_for(0.5)
        t0 = g.sim_time
        rogue.go()
        assert rogue.sent() > 300, rogue.out  # ~500 Hz asked for 3 s (a loaded 2-core machine gives less)
        g.run_for(0.3)
        assert g.wait_until(lambda: any(s.hardware_id == "sim_bridge" and "rogue_commander" in s.message for s in diags), 5.0)
        t1, state, events = g.sim_time, g.state, list(g.monitor.events)
        foreign = g.sim.commands.foreign.count
    m = g.monitor.metrics
    t, z = np.array(m.t), np.array(m.pos)[:, 2]
    z_min = z[(t >= t0) & (t <= t1)].min()
    print(f"base height min {z_min:.3f} m over {t1 - t0:.2f} s of sim time; {foreign} foreign commands ignored")
    assert z_min > 0.2, f"the robot sank to {z_min:.3f} m"
    assert state == "RUNNING" and not any("DAMPING" in e or "ESTOP" in e for e in events), events
    assert foreign > 0
    said = [e for e in events if "foreign joint_commands" in e]
    assert len(said) == 1 and "/rogue_commander" in said[0] and " RUNNING -> RUNNING: foreign joint_commands (" in said[0], events
    bad = next(s for s in diags if s.hardware_id == "sim_bridge" and "rogue_commander" in s.message)
    assert bad.level == DiagnosticStatus.ERROR
    assert int({kv.key: kv.value for kv in bad.values}["foreign_joint_commands"]) > 0
