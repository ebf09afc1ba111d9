"""kube-proxy's flags and the Service router's address plan (pure)."""

from __future__ import annotations

from tests.unit.local.test_components import CFG, HOME
from virtkube.local import serviceproxy
from virtkube.local.net.layout import ClusterNet


def test_router_sits_on_the_bridge_inside_the_cluster_prefix() -> None:
    net = ClusterNet(HOME.root, CFG.pod_network)
    assert net.service_router == "10.200.0.250"
    assert net.service_netns.startswith(net.netns_prefix)  # teardown finds it by prefix
    assert len(net.service_veth) <= 15


def test_kube_proxy_stays_inside_the_cluster() -> None:
    flags = serviceproxy.kube_proxy_flags(CFG, HOME)
    assert "--proxy-mode=nftables" in flags
    # NodePorts only on the router's own address, never on the host's.
    assert "--nodeport-addresses=10.200.0.250/32" in flags
    # Replies from an endpoint must come back through the router (one L2 segment).
    assert "--masquerade-all=true" in flags
    # The API server through the bridge DNAT: the router has no loopback path to the host.
    assert "--master=https://10.200.0.1:6443" in flags
    assert "--conntrack-max-per-core=0" in flags
