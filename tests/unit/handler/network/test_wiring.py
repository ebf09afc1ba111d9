"""The VMI the launcher gets carries the planned MACs (handler.network.wiring)."""

from __future__ import annotations

from tests.unit.handler.network.builders import POD, new_vmi
from virtkube.handler.network.mac import stable_mac
from virtkube.handler.network.plan import plan_interfaces
from virtkube.handler.network.wiring import with_macs
from virtkube.hlcom import protocol


def test_generated_mac_reaches_the_launcher_and_spec_mac_stays() -> None:
    vmi = new_vmi({"name": "default", "masquerade": {}})
    synced = with_macs(vmi, plan_interfaces(vmi, POD))
    iface = synced.spec.domain.devices.interfaces[0]  # type: ignore[index]
    assert iface.mac_address == stable_mac("prod", "web", "default")
    assert vmi.spec.domain.devices.interfaces[0].mac_address is None  # type: ignore[index]

    given = new_vmi({"name": "default", "bridge": {}, "macAddress": "de:ad:00:00:be:af"})
    iface = with_macs(given, plan_interfaces(given, POD)).spec.domain.devices.interfaces[0]  # type: ignore[index]
    assert iface.mac_address == "de:ad:00:00:be:af"


def test_the_mac_travels_in_the_sync_line() -> None:
    """with_macs copies models without a JSON round trip; the wire still carries the MAC."""
    vmi = new_vmi({"name": "default", "masquerade": {}})
    sync = protocol.Sync(vmi=with_macs(vmi, plan_interfaces(vmi, POD)))
    line = protocol.encode(protocol.Request(id=1, command=sync))
    received = protocol.decode_request(line).command
    assert isinstance(received, protocol.Sync)
    iface = received.vmi.spec.domain.devices.interfaces[0]  # type: ignore[index]
    assert iface.mac_address == stable_mac("prod", "web", "default")
