"""The wall-clock tests' retry rule (hw_tools.retry_once_if_starved): a starved run is tried once
more; a second starvation is skipped only when the machine explains it, and fails otherwise."""

from types import SimpleNamespace

import pytest
from hw_tools import MachineWatch, retry_once_if_starved, starved_of_cpu

from lucid_ros.stalls import Stall, StallProbe


class _Starved(Exception):
    pass


def _attempts(*outcomes):
    it = iter(outcomes)

    def attempt():
        o = next(it)
        if isinstance(o, Exception):
            raise o
        return o

    return attempt


def test_a_starved_run_is_tried_once_more(monkeypatch):
    monkeypatch.setattr(MachineWatch, "starved_by", lambda self: None)
    assert retry_once_if_starved(_attempts(_Starved("tripped"), "walked"), _Starved, "x") == "walked"


def test_twice_starved_on_an_idle_machine_fails(monkeypatch):
    monkeypatch.setattr(MachineWatch, "starved_by", lambda self: None)
    with pytest.raises(AssertionError, match="starved twice with the machine idle"):
        retry_once_if_starved(_attempts(_Starved("a"), _Starved("b")), _Starved, "x")


def test_twice_starved_by_the_machine_skips_saying_why(monkeypatch):
    monkeypatch.setattr(MachineWatch, "starved_by", lambda self: "the hypervisor took 90 ms")
    with pytest.raises(pytest.skip.Exception, match="the hypervisor took 90 ms: x not checkable: b"):
        retry_once_if_starved(_attempts(_Starved("a"), _Starved("b")), _Starved, "x")


def test_twice_starved_with_the_graph_given_no_cpu_skips_saying_why(monkeypatch):
    monkeypatch.setattr(MachineWatch, "starved_by", lambda self: None)
    again = _Starved("b")
    again.machine = "the graph process got no CPU"
    with pytest.raises(pytest.skip.Exception, match="the graph process got no CPU: x not checkable: b"):
        retry_once_if_starved(_attempts(_Starved("a"), again), _Starved, "x")


def _graph(fired, *stalls):
    probe = StallProbe()
    for s in stalls:
        probe._record(s)
    return SimpleNamespace(driver=SimpleNamespace(watchdog_fired=fired), stalls=probe)


def test_only_a_cpu_stall_over_the_watchdog_trip_is_the_machines():
    """The trip's span: last command written at 100.00, damping from 100.05 (monotonic)."""
    trip = (100.0, 100.05)
    cpu_over = Stall(at=0.0, mono=100.06, late_s=0.04, cpu_wait_s=0.035)  # 100.015-100.06 waiting for a CPU
    gil_over = Stall(at=0.0, mono=100.06, late_s=0.04, cpu_wait_s=0.002)
    cpu_before = Stall(at=0.0, mono=99.0, late_s=0.04, cpu_wait_s=0.04)
    assert "got no CPU" in starved_of_cpu(_graph(trip, cpu_over)) and "40 ms" in starved_of_cpu(_graph(trip, cpu_over))
    assert starved_of_cpu(_graph(trip, gil_over)) is None  # the GIL: ours, the test fails
    assert starved_of_cpu(_graph(trip, cpu_before)) is None  # another moment
    assert starved_of_cpu(_graph(None, cpu_over)) is None  # no trip (a stale input, a silent robot)


def test_other_failures_are_not_retried():
    with pytest.raises(AssertionError, match="wrong speed"):
        retry_once_if_starved(_attempts(AssertionError("wrong speed"), "walked"), _Starved, "x")


def test_steal_is_read_from_proc_stat_and_windowed(monkeypatch):
    steal = iter([1000.0, 1010.0, 1100.0, 1100.0, 1100.0, 1100.0])
    monkeypatch.setattr(MachineWatch, "_steal", lambda self: next(steal))
    with MachineWatch(period_s=3600) as w:  # no background samples: the ones taken here only
        w._sample()  # 1010
        w._samples[0] = (w._samples[0][0] - 10.0, w._samples[0][1])  # the first, 10 s ago
        assert w.steal_ms() == 100.0  # 1000 -> 1100 since the watch began
        assert w.steal_ms(5.0) == 90.0  # 1010 -> 1100 in the last 5 s
        monkeypatch.setattr("os.getloadavg", lambda: (0.5, 0.5, 0.5))
        assert "90 ms" in w.starved_by()


def test_the_real_counter_reads():
    with MachineWatch() as real:
        assert real.steal_ms() >= 0.0 and "hypervisor steal" in real.describe()
