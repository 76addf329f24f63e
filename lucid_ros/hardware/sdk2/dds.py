"""DDS participants for SDK2 robots: the domain and the network interface, chosen explicitly.

Topics never appearing is the classic SDK2 failure (what-users-trip-over item 6): DDS picked
the wrong network card. Pass `interface` (the NIC on 192.168.123.0/24, e.g. eth0/enp3s0), or set
CYCLONEDDS_URI yourself; with neither we log which one cyclonedds will choose by default.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("lucid_ros.hardware")


def config_xml(interface: str) -> str:
    """CycloneDDS 0.10 configuration pinning one network interface (multicast off on loopback)."""
    multicast = "false" if interface == "lo" else "default"
    peers = (
        '<Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>60</MaxAutoParticipantIndex><Peers><Peer address="127.0.0.1"/></Peers></Discovery>'
        if interface == "lo"
        else ""
    )  # noqa: E501
    return (
        '<CycloneDDS><Domain id="any"><General><Interfaces>'
        f'<NetworkInterface name="{interface}" priority="default" multicast="{multicast}"/>'
        f"</Interfaces><AllowMulticast>{multicast}</AllowMulticast></General>{peers}</Domain></CycloneDDS>"
    )


_DOMAINS: dict[int, tuple[object, str]] = {}  # one configured Domain per id and process


def participant(domain_id: int, interface: str | None = None):
    from cyclonedds.domain import Domain, DomainParticipant

    domain = None
    if interface:
        known = _DOMAINS.get(int(domain_id))
        if known is None:
            domain = Domain(int(domain_id), config_xml(interface))
            _DOMAINS[int(domain_id)] = (domain, interface)
        else:
            domain = known[0]
            if known[1] != interface:
                log.warning("DDS domain %d already uses interface %s in this process; ignoring %s", domain_id, known[1], interface)
    elif not os.environ.get("CYCLONEDDS_URI"):
        log.warning("unitree_sdk2: no DDS interface given (interface:=eth0) and no CYCLONEDDS_URI: cyclonedds picks one itself")
    return DomainParticipant(int(domain_id)), domain
