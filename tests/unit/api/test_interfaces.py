"""Interface -> network resolution (virtkube.api.interfaces), shared by handler and launcher."""

from __future__ import annotations

from typing import Any

import pytest

from virtkube.api.interfaces import InterfaceError, guest_interfaces
from virtkube.api.vmi import VirtualMachineInstanceSpec

IFACES = "spec.domain.devices.interfaces"


def new_spec(interfaces: list[dict[str, Any]], networks: list[dict[str, Any]]
             ) -> VirtualMachineInstanceSpec:
    return VirtualMachineInstanceSpec.model_validate(
        {"domain": {"devices": {"interfaces": interfaces}}, "networks": networks})


def test_each_interface_joins_the_network_of_its_name() -> None:
    nics = guest_interfaces(new_spec(
        [{"name": "b", "bridge": {}}, {"name": "a", "masquerade": {}}],
        [{"name": "a", "pod": {}}, {"name": "b", "pod": {}}]))
    assert [(n.index, n.network.name, n.binding, n.path) for n in nics] == [
        (0, "b", "bridge", f"{IFACES}[0]"), (1, "a", "masquerade", f"{IFACES}[1]")]


@pytest.mark.parametrize(("interfaces", "networks", "path", "unsupported"), [
    ([{"name": "x", "masquerade": {}}], [{"name": "default", "pod": {}}],
     f"{IFACES}[0].name", False),
    ([{"name": "default", "masquerade": {}}],
     [{"name": "default", "multus": {"networkName": "n"}}], "spec.networks[0]", True),
    ([{"name": "default", "sriov": {}}], [{"name": "default", "pod": {}}], f"{IFACES}[0]", True),
    ([{"name": "default"}], [{"name": "default", "pod": {}}], f"{IFACES}[0]", False),
], ids=["no-network", "multus", "sriov", "no-binding"])
def test_refusals_name_the_field(interfaces: list[dict[str, Any]],
                                 networks: list[dict[str, Any]], path: str,
                                 unsupported: bool) -> None:
    with pytest.raises(InterfaceError) as info:
        guest_interfaces(new_spec(interfaces, networks))
    assert (info.value.path, info.value.unsupported) == (path, unsupported)
