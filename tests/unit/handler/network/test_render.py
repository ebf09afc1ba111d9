"""Plans -> ip batch lines and the nftables ruleset (handler.network.render)."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.handler.network.builders import POD, new_vmi
from virtkube.handler.network import render
from virtkube.handler.network.plan import ForwardedPort, plan_interfaces

MASQ = plan_interfaces(new_vmi({"name": "default", "masquerade": {}}), POD)
BRIDGE = plan_interfaces(new_vmi({"name": "default", "bridge": {}}), POD)


def test_masquerade_links() -> None:
    assert render.link_commands(MASQ, tap_owner=107) == [
        "link add k6t-eth0 type bridge",
        "link set dev k6t-eth0 mtu 1500",
        "addr add 10.0.2.1/24 dev k6t-eth0",
        "tuntap add dev tap0 mode tap user 107",
        "link set dev tap0 mtu 1500 master k6t-eth0",
        "link set dev tap0 up",
        "link set dev k6t-eth0 up",
    ]
    assert render.sysctls(MASQ) == ["net.ipv4.ip_forward=1"]


def test_bridge_links_enslave_the_pod_interface_without_its_address() -> None:
    assert render.link_commands(BRIDGE, tap_owner=0) == [
        "link add k6t-eth0 type bridge",
        "link set dev k6t-eth0 mtu 1500",
        "addr flush dev eth0 scope global",
        "link set dev eth0 master k6t-eth0",
        "link set dev eth0 type bridge_slave learning off",
        "addr add 169.254.75.10/32 dev k6t-eth0",
        "tuntap add dev tap0 mode tap user 0",
        "link set dev tap0 mtu 1500 master k6t-eth0",
        "link set dev tap0 up",
        "link set dev k6t-eth0 up",
    ]
    assert render.sysctls(BRIDGE) == []
    assert render.nft_ruleset(BRIDGE) == ""


def test_undo_removes_tap_and_bridge() -> None:
    assert render.undo_link_commands(MASQ) == ["link del tap0", "link del k6t-eth0"]


def test_masquerade_forwards_every_port_when_none_is_listed() -> None:
    assert render.nft_ruleset(MASQ) == """\
table ip virtkube_vmi
delete table ip virtkube_vmi
table ip virtkube_vmi {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "eth0" ip daddr 10.200.1.5 jump inbound_tap0
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "eth0" ip saddr 10.0.2.2 masquerade
    }
    chain inbound_tap0 {
        dnat ip to 10.0.2.2
    }
}
"""


def test_masquerade_forwards_only_the_listed_ports() -> None:
    plan = replace(MASQ[0], ports=(ForwardedPort("tcp", 80), ForwardedPort("udp", 53),
                                   ForwardedPort("tcp", 22)))
    rules = render.nft_ruleset([plan])
    assert "        tcp dport { 80, 22 } dnat ip to 10.0.2.2\n" in rules
    assert "        udp dport { 53 } dnat ip to 10.0.2.2\n" in rules
    assert "        dnat ip to 10.0.2.2\n" not in rules
