"""What the launcher pod's own network looks like, parsed from `ip -j` and resolv.conf.

The plan needs the pod interface's address, MAC, MTU and routes before it
changes anything (bridge binding moves the address away), so they are read
once, kept in virt-handler's cache, and only parsed here: pure functions over
the JSON that iproute2 prints, table-tested without a netns.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

#: The pod's primary interface, as the CNI plugin names it (CNI_IFNAME of the kubelet).
POD_INTERFACE = "eth0"


class PodFactsError(Exception):
    """The pod interface is not what a plan can be made from (no IPv4 address, absent)."""


@dataclass(frozen=True)
class Route:
    destination: str
    """A CIDR; "0.0.0.0/0" for the default route."""
    gateway: str


@dataclass(frozen=True)
class PodInterface:
    name: str
    mac: str
    mtu: int
    address: str
    """IPv4 address/prefix, e.g. 10.200.1.5/16."""
    routes: tuple[Route, ...] = ()
    """Routes via a gateway on this interface (the on-link subnet is implied by `address`)."""
    dns: tuple[str, ...] = ()
    search: tuple[str, ...] = ()

    @property
    def ip(self) -> str:
        return str(ipaddress.IPv4Interface(self.address).ip)

    @property
    def prefix_length(self) -> int:
        return ipaddress.IPv4Interface(self.address).network.prefixlen

    @property
    def default_gateway(self) -> str | None:
        return next((r.gateway for r in self.routes if r.destination == "0.0.0.0/0"), None)

    def reaches(self, address: str) -> bool:
        """Whether the pod has a route to `address` (on-link or via a gateway)."""
        ip = ipaddress.ip_address(address)
        if ip.version != 4:
            return False
        nets = [ipaddress.IPv4Interface(self.address).network,
                *(ipaddress.IPv4Network(r.destination) for r in self.routes)]
        return any(ip in n for n in nets)


@dataclass(frozen=True)
class Resolver:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = field(default_factory=tuple)


def parse_interface(addr_json: list[dict[str, Any]], route_json: list[dict[str, Any]],
                    resolver: Resolver = Resolver()) -> PodInterface:
    """`ip -j addr show dev X` and `ip -j -4 route show dev X` -> PodInterface.

    Only resolvers the pod can reach are kept: a guest is never handed a
    nameserver its traffic could not get to through the pod.
    """
    if not addr_json:
        raise PodFactsError("the pod interface does not exist")
    link = addr_json[0]
    inet = [a for a in link.get("addr_info") or []
            if a.get("family") == "inet" and a.get("scope", "global") == "global"]
    if not inet:
        raise PodFactsError(f"pod interface {link.get('ifname')} has no IPv4 address")
    routes = tuple(
        Route("0.0.0.0/0" if r["dst"] == "default" else _cidr(str(r["dst"])), str(r["gateway"]))
        for r in route_json if r.get("gateway"))
    iface = PodInterface(name=str(link["ifname"]), mac=str(link["address"]).lower(),
                         mtu=int(link.get("mtu") or 1500),
                         address=f"{inet[0]['local']}/{inet[0]['prefixlen']}", routes=routes)
    return PodInterface(**{**iface.__dict__,
                           "dns": tuple(d for d in resolver.nameservers if iface.reaches(d)),
                           "search": resolver.search})


def _cidr(dst: str) -> str:
    return str(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32"))


def parse_resolv_conf(text: str) -> Resolver:
    nameservers: list[str] = []
    search: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            nameservers.append(words[1])
        elif words and words[0] in ("search", "domain"):
            search = words[1:]
    return Resolver(tuple(nameservers), tuple(search))
