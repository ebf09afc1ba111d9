"""VMI interface spec + pod interface -> plan (handler.network.plan), one table per binding."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.handler.network.builders import POD, new_vmi
from virtkube.handler.network.mac import stable_mac
from virtkube.handler.network.plan import (
    ForwardedPort,
    InterfacePlan,
    NetworkPlanError,
    plan_interfaces,
)
from virtkube.hlcom.protocol import DHCPRoute, DHCPServer

MAC = stable_mac("prod", "web", "default")


def masquerade(**over: Any) -> InterfacePlan:
    base: dict[str, Any] = dict(
        name="default", binding="masquerade", pod_interface="eth0", bridge="k6t-eth0",
        tap="tap0", mac=MAC, mtu=1500, pod_ip="10.200.1.5", bridge_address="10.0.2.1/24",
        guest_address="10.0.2.2/24", ports=(),
        dhcp=DHCPServer(interface="k6t-eth0", mac=MAC, ip="10.0.2.2", prefix_length=24,
                        router="10.0.2.1", dns=("10.200.0.10",),
                        search_domains=("default.svc.cluster.local",), mtu=1500,
                        hostname="web"))
    return InterfacePlan(**{**base, **over})


@pytest.mark.parametrize(("iface", "network", "expected"), [
    ({"name": "default", "masquerade": {}}, {"name": "default", "pod": {}}, masquerade()),
    ({"name": "default", "masquerade": {}, "macAddress": "DE:AD:00:00:BE:AF"},
     {"name": "default", "pod": {}},
     masquerade(mac="de:ad:00:00:be:af", dhcp=masquerade().dhcp.model_copy(  # type: ignore[union-attr]
         update={"mac": "de:ad:00:00:be:af"}))),
    ({"name": "default", "masquerade": {},
      "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}, {"port": 443, "protocol": "TCP"}]},
     {"name": "default", "pod": {}},
     masquerade(ports=(ForwardedPort("tcp", 80), ForwardedPort("udp", 53),
                       ForwardedPort("tcp", 443)))),
    ({"name": "default", "masquerade": {}},
     {"name": "default", "pod": {"vmNetworkCIDR": "192.168.7.0/29"}},
     masquerade(bridge_address="192.168.7.1/29", guest_address="192.168.7.2/29",
                dhcp=masquerade().dhcp.model_copy(update={  # type: ignore[union-attr]
                    "ip": "192.168.7.2", "prefix_length": 29, "router": "192.168.7.1"}))),
], ids=["default", "spec-mac", "ports", "vm-network-cidr"])
def test_masquerade(iface: dict[str, Any], network: dict[str, Any],
                    expected: InterfacePlan) -> None:
    assert plan_interfaces(new_vmi(iface, networks=[network]), POD) == [expected]


def test_bridge_moves_the_pod_address_and_routes_to_the_guest() -> None:
    plans = plan_interfaces(new_vmi({"name": "default", "bridge": {}, "model": "e1000"},
                                    hostname="www"), POD)
    assert plans == [InterfacePlan(
        name="default", binding="bridge", pod_interface="eth0", bridge="k6t-eth0", tap="tap0",
        mac=MAC, mtu=1500, pod_ip="10.200.1.5", bridge_address="169.254.75.10/32",
        guest_address="10.200.1.5/16",
        dhcp=DHCPServer(interface="k6t-eth0", mac=MAC, ip="10.200.1.5", prefix_length=16,
                        router=None, routes=(DHCPRoute(destination="10.96.0.0/16",
                                                       gateway="10.200.0.250"),
                                             DHCPRoute(destination="10.96.0.1/32",
                                                       gateway="10.200.0.1")),
                        dns=("10.200.0.10",), search_domains=("default.svc.cluster.local",),
                        mtu=1500, hostname="www", shared_network=True))]


def test_no_interfaces_no_plan() -> None:
    assert plan_interfaces(new_vmi(networks=[]), POD) == []


@pytest.mark.parametrize(("interfaces", "networks", "path"), [
    ([{"name": "default", "masquerade": {}}], [],
     "spec.domain.devices.interfaces[0].name"),
    ([{"name": "default", "masquerade": {}}],
     [{"name": "default", "multus": {"networkName": "other"}}], "spec.networks[0]"),
    ([{"name": "default", "sriov": {}}], [{"name": "default", "pod": {}}],
     "spec.domain.devices.interfaces[0]"),
    ([{"name": "a", "masquerade": {}}, {"name": "b", "bridge": {}}],
     [{"name": "a", "pod": {}}, {"name": "b", "pod": {}}], "spec.domain.devices.interfaces[1]"),
    ([{"name": "default", "masquerade": {}, "macAddress": "nope"}],
     [{"name": "default", "pod": {}}], "spec.domain.devices.interfaces[0].macAddress"),
    ([{"name": "default", "masquerade": {}}],
     [{"name": "default", "pod": {"vmNetworkCIDR": "10.0.2.0/31"}}],
     "spec.networks.pod.vmNetworkCIDR"),
], ids=["no-network", "multus", "sriov", "two-pod-interfaces", "bad-mac", "tiny-cidr"])
def test_rejections_name_the_field(interfaces: list[dict[str, Any]],
                                   networks: list[dict[str, Any]], path: str) -> None:
    with pytest.raises(NetworkPlanError) as e:
        plan_interfaces(new_vmi(*interfaces, networks=networks), POD)
    assert e.value.path == path
