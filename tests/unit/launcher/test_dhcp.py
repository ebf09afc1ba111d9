"""DHCP answers -> dnsmasq command lines (launcher.dhcp)."""

from __future__ import annotations

import pytest

from virtkube.hlcom.protocol import DHCPRoute, DHCPServer
from virtkube.launcher.dhcp import dnsmasq_argv

COMMON = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
          "--no-hosts", "--port=0", "--interface=k6t-eth0", "--bind-interfaces",
          "--except-interface=lo", "--dhcp-authoritative", "--dhcp-broadcast", "--leasefile-ro",
          "--pid-file=", "--user=root", "--log-facility=-"]


@pytest.mark.parametrize(("server", "tail"), [
    (DHCPServer(interface="k6t-eth0", mac="02:00:00:00:00:01", ip="10.0.2.2", prefix_length=24,
                router="10.0.2.1", dns=("10.96.0.10",), search_domains=("svc.cluster.local",),
                mtu=1450, hostname="web"),
     ["--dhcp-range=10.0.2.2,static,255.255.255.0,infinite",
      "--dhcp-host=02:00:00:00:00:01,10.0.2.2,web,infinite",
      "--dhcp-option=option:router,10.0.2.1",
      "--dhcp-option=option:dns-server,10.96.0.10",
      "--dhcp-option=option:domain-search,svc.cluster.local",
      "--dhcp-option=option:mtu,1450"]),
    (DHCPServer(interface="k6t-eth0", mac="02:00:00:00:00:01", ip="10.200.1.5",
                prefix_length=16, routes=(DHCPRoute(destination="10.96.0.0/16",
                                                    gateway="10.200.0.250"),),
                shared_network=True),
     ["--dhcp-range=10.200.1.5,static,255.255.0.0,infinite",
      "--dhcp-host=02:00:00:00:00:01,10.200.1.5,infinite",
      "--shared-network=k6t-eth0,10.200.1.5",
      # No router and no resolver: empty options, so dnsmasq sends none of its own.
      "--dhcp-option=option:router",
      "--dhcp-option=option:dns-server",
      "--dhcp-option=option:classless-static-route,10.96.0.0/16,10.200.0.250"]),
], ids=["masquerade", "bridge"])
def test_dnsmasq_argv(server: DHCPServer, tail: list[str]) -> None:
    assert dnsmasq_argv(server) == COMMON + tail
