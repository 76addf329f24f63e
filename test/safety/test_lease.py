"""The operator lease (lucid_ros.safety.lease): one operator at a time, lost when silent, loud when bypassed."""

from __future__ import annotations

import pytest

from lucid_ros.safety.lease import Lease, LeaseRequest, admit, intruders

A, B = "/teleop", "/laptop2/teleop"


def req(text: str) -> LeaseRequest:
    return LeaseRequest.parse(text)


def test_first_operator_gets_the_lease_and_a_second_is_refused_naming_the_holder():
    lease = Lease()
    assert lease.request(req(f"acquire {A}"), 0.0) == (True, f"lease granted to {A}")
    ok, why = lease.request(req(f"acquire {B}"), 0.1)
    assert not ok and A in why and lease.holder == A


def test_a_silent_holder_loses_the_lease_after_the_timeout_and_renewals_keep_it():
    lease = Lease(timeout=0.5)
    lease.request(req(f"acquire {A}"), 0.0)
    for t in (0.3, 0.6, 0.9):
        assert lease.request(req(f"renew {A}"), t)[0]
        assert lease.expire(t + 0.45) is None
    assert lease.expire(0.9 + 0.51) == A and lease.holder is None
    assert lease.request(req(f"acquire {B}"), 1.5)[0]  # free again


def test_only_the_holder_renews_or_releases_and_takeover_is_explicit():
    lease = Lease()
    lease.request(req(f"acquire {A}"), 0.0)
    assert not lease.request(req(f"renew {B}"), 0.1)[0]
    assert not lease.request(req(f"release {B}"), 0.1)[0] and lease.holder == A
    ok, why = lease.request(req(f"takeover {B}"), 0.2)
    assert ok and lease.holder == B and A in why and B in why
    assert lease.request(req(f"release {B}"), 0.3) == (True, f"lease released by {B}") and lease.holder is None


@pytest.mark.parametrize("text", ["grab /teleop", "acquire", "acquire teleop", "acquire /a /b", ""])
def test_malformed_requests_are_refused_by_name(text):
    with pytest.raises(ValueError, match="lease request"):
        LeaseRequest.parse(text)


def test_a_second_publisher_without_the_lease_makes_the_command_untrusted_and_is_named():
    assert admit(A, [A]) == (True, "")
    ok, why = admit(A, [A, B])
    assert not ok and B in why and A in why
    assert admit(A, [A, "/robot_driver"], exempt=["/robot_driver"])[0]
    assert not admit(None, [A])[0]  # no lease: nobody drives
    assert intruders(None, [A, B], exempt=[A]) == [B]
