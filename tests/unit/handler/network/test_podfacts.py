"""Parsing the pod interface from `ip -j` and resolv.conf (handler.network.podfacts)."""

from __future__ import annotations

from typing import Any

import pytest

from virtkube.handler.network.podfacts import (
    PodFactsError,
    Resolver,
    Route,
    parse_interface,
    parse_resolv_conf,
)

ADDR: list[dict[str, Any]] = [{
    "ifindex": 2, "ifname": "eth0", "mtu": 1450, "address": "0A:58:0A:C8:01:05",
    "addr_info": [
        {"family": "inet", "local": "10.200.1.5", "prefixlen": 16, "scope": "global"},
        {"family": "inet6", "local": "fe80::858:aff:fec8:105", "prefixlen": 64,
         "scope": "link"},
    ]}]
ROUTES: list[dict[str, Any]] = [
    {"dst": "10.96.0.0/16", "gateway": "10.200.0.250", "flags": []},
    {"dst": "10.96.0.1", "gateway": "10.200.0.1", "flags": []},
    {"dst": "10.200.0.0/16", "protocol": "kernel", "scope": "link", "prefsrc": "10.200.1.5"},
]


def test_interface_facts() -> None:
    pod = parse_interface(ADDR, ROUTES)
    assert (pod.name, pod.mac, pod.mtu, pod.address) == (
        "eth0", "0a:58:0a:c8:01:05", 1450, "10.200.1.5/16")
    assert pod.ip == "10.200.1.5" and pod.prefix_length == 16
    assert pod.routes == (Route("10.96.0.0/16", "10.200.0.250"),
                          Route("10.96.0.1/32", "10.200.0.1"))
    assert pod.default_gateway is None


def test_default_route_is_the_gateway() -> None:
    pod = parse_interface(ADDR, [{"dst": "default", "gateway": "10.200.0.1"}])
    assert pod.default_gateway == "10.200.0.1"
    assert pod.routes == (Route("0.0.0.0/0", "10.200.0.1"),)


@pytest.mark.parametrize(("nameservers", "routes", "kept"), [
    # The local cluster's pods have no default route: the host's resolver is out of reach.
    (("192.0.2.53", "10.200.0.10"), ROUTES, ("10.200.0.10",)),
    (("10.96.0.10",), ROUTES, ("10.96.0.10",)),
    (("192.0.2.53",), [{"dst": "default", "gateway": "10.200.0.1"}], ("192.0.2.53",)),
    (("fd00::53",), ROUTES, ()),
])
def test_only_reachable_resolvers_are_kept(nameservers: tuple[str, ...],
                                           routes: list[dict[str, Any]],
                                           kept: tuple[str, ...]) -> None:
    assert parse_interface(ADDR, routes, Resolver(nameservers)).dns == kept


@pytest.mark.parametrize("addr", [
    [],
    [{"ifname": "eth0", "address": "0a:58:0a:c8:01:05", "addr_info": []}],
])
def test_an_interface_without_ipv4_cannot_be_planned(addr: list[dict[str, Any]]) -> None:
    with pytest.raises(PodFactsError):
        parse_interface(addr, [])


def test_resolv_conf() -> None:
    text = ("# generated\nnameserver 10.96.0.10\nnameserver 10.96.0.11 # second\n"
            "search default.svc.cluster.local svc.cluster.local\noptions ndots:5\n")
    assert parse_resolv_conf(text) == Resolver(
        ("10.96.0.10", "10.96.0.11"), ("default.svc.cluster.local", "svc.cluster.local"))
