"""Names, addresses, CNI configs and the nftables table of a cluster (pure)."""

from __future__ import annotations

from pathlib import Path

from virtkube.local.net import cni, hostnet
from virtkube.local.net.layout import ClusterNet, home_hash

NET = ClusterNet(Path("/var/lib/virtkube"), "10.200.0.0/16")


def test_names_carry_the_home_hash_and_fit_the_kernel() -> None:
    h = home_hash(Path("/var/lib/virtkube"))
    assert len(h) == 6 and h != home_hash(Path("/tmp/other"))
    assert NET.bridge == f"vkbr{h}" and len(NET.bridge) <= 15
    assert NET.service_netns == f"vk{h}-services"
    assert NET.nft_table == f"virtkube_{h}"


def test_address_plan() -> None:
    assert NET.gateway == "10.200.0.1"
    assert [NET.node_ip(i) for i in range(3)] == ["10.200.0.2", "10.200.0.3", "10.200.0.4"]
    assert NET.pod_cidr(0) == "10.200.1.0/24" and NET.pod_cidr(1) == "10.200.2.0/24"
    assert NET.pod_range(1) == ("10.200.2.2", "10.200.2.254")


def test_bridge_config_has_no_default_route_and_no_masquerade() -> None:
    conf = cni.bridge_config(NET, index=1, ipam_dir=Path("/s/ipam"), service_cidr="10.96.0.0/16")
    assert conf["type"] == "bridge" and conf["bridge"] == NET.bridge
    assert conf["ipMasq"] is False and conf["isGateway"] is False
    ipam = conf["ipam"]
    assert ipam["type"] == "host-local" and ipam["dataDir"] == "/s/ipam"
    assert ipam["ranges"] == [[{"subnet": "10.200.0.0/16", "rangeStart": "10.200.2.2",
                                "rangeEnd": "10.200.2.254", "gateway": "10.200.0.1"}]]
    assert ipam["routes"] == [{"dst": "10.96.0.0/16", "gw": "10.200.0.250"},
                              {"dst": "10.96.0.1/32", "gw": "10.200.0.1"}]


def test_nft_table_drops_forwarding_off_the_bridge_and_dnats_the_apiserver() -> None:
    rules = hostnet.nft_ruleset(NET, apiserver_port=6443, service_ip="10.96.0.1")
    br = NET.bridge
    assert f'iifname "{br}" oifname != "{br}" drop' in rules
    assert f'oifname "{br}" iifname != "{br}" drop' in rules
    assert "dnat ip to 127.0.0.1:6443" in rules
    assert "masquerade" not in rules
    assert rules.count(f"table inet {NET.nft_table}") == 3  # add, delete, define: atomic
