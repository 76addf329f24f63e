"""Policy inference time on this machine (ONNX Runtime, the provider the runner would pick).

    python bench/bench_policy.py [POLICY ...]

Prints p50/p99/max of one `act()` call and of a whole runtime step (observation assembly +
network + action mapping), batch 1, as the policy runner does it.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from lucid_ros.policy.observations import ObsInputs
from lucid_ros.policy.runner import PolicyRuntime
from lucid_ros.robots import load_robot


def bench(policy: str, n: int = 3000) -> None:
    robot = load_robot("go1")
    rt = PolicyRuntime(policy, robot)
    inputs = ObsInputs(q=robot.default_pose[None].copy(), dq=np.zeros((1, 12)), quat=np.array([[1.0, 0, 0, 0]]), ang_vel=np.zeros((1, 3)),
                       lin_vel=np.zeros((1, 3)), contacts=np.ones((1, len(robot.feet))), command=np.array([[0.5, 0.0, 0.0]]))
    act, step = [], []
    for i in range(n):
        t0 = time.perf_counter()
        rt.step(inputs, i * 0.02)
        step.append(time.perf_counter() - t0)
        act.append(rt.inference_ms * 1e-3)
    for name, xs in (("network (act)", act), ("runtime step", step)):
        a = np.array(xs[100:]) * 1e3
        print(f"  {rt.spec.name:<12} {name:<14} p50 {np.percentile(a, 50):.3f} ms  p99 {np.percentile(a, 99):.3f} ms  max {a.max():.3f} ms")
    print(f"  ({rt.provider_report})")


if __name__ == "__main__":
    for p in sys.argv[1:] or ["go1_walk", "go1_stand"]:
        bench(p)
