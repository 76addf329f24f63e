"""lucid_ros.stalls: a stopped process is seen, and told apart: the GIL held, or no CPU given."""

import ctypes
import os
import subprocess
import sys
import time

import pytest

from lucid_ros.stalls import StallProbe

# A SCHED_FIFO busy loop on CPU 0 for argv[1] s: nothing of normal priority runs on that CPU meanwhile.
HOG = """
import os, sys, time
os.sched_setaffinity(0, {0})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
print("go", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""


def test_a_thread_holding_the_gil_is_seen_as_a_gil_stall():
    probe = StallProbe().install()
    try:
        time.sleep(0.1)
        t0 = time.time()
        ctypes.PyDLL(None).usleep(150_000)  # a C call that keeps the GIL (as rcutils' write does)
        time.sleep(0.05)
    finally:
        probe.remove()
    stalls = [s for s in probe.stalls if s.at >= t0]
    assert stalls and max(s.late_s for s in stalls) >= 0.1, probe.summary()
    worst = max(stalls, key=lambda s: s.late_s)
    assert not worst.by_cpu, worst  # the probe slept on the GIL, it was not waiting for a CPU
    assert probe.by_cpu(t0) == []
    assert "worst 1" in probe.summary()  # 1xx ms


def test_a_process_given_no_cpu_is_seen_as_a_cpu_stall():
    hog = [sys.executable, "-c", HOG, "0.3"]
    check = subprocess.run([sys.executable, "-c", "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))"])
    if check.returncode != 0:
        pytest.skip("no permission to run a SCHED_FIFO process (root or CAP_SYS_NICE): cannot take the CPU away")
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})  # this thread, and the probe thread it starts
    try:
        probe = StallProbe().install()
        time.sleep(0.1)
        t0 = time.time()
        proc = subprocess.Popen(hog, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "go"
        proc.wait(timeout=30)
        time.sleep(0.05)
        probe.remove()
    finally:
        os.sched_setaffinity(0, before)
    cpu = probe.by_cpu(t0)
    assert cpu and max(s.late_s for s in cpu) >= 0.15, probe.summary()
    assert all(s.cpu_wait_s >= 0.5 * s.late_s for s in cpu)
    assert "mostly waiting for a CPU" in probe.summary()


def test_no_stall_no_record():
    probe = StallProbe(threshold_s=10.0).install()
    time.sleep(0.05)
    probe.remove()
    assert probe.worst is None and probe.count == 0 and "none of 10000 ms" in probe.summary()
