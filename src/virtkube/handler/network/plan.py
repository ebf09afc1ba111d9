"""VMI interface spec + the pod's interface -> what to build for each guest NIC (pure).

The two built-in bindings of KubeVirt, with its names and addresses:
- masquerade (KubeVirt's default): the guest sits on a private subnet behind an
  in-pod bridge `k6t-eth0` (10.0.2.0/24: gateway .1 on the bridge, guest .2;
  or `networks[].pod.vmNetworkCIDR`), the pod IP's ports are DNATed to it and
  its outbound traffic is masqueraded to the pod IP. The guest's address is the
  same in every pod the VM ever runs in: stable by construction.
- bridge: the pod interface is enslaved to `k6t-eth0` and its address moves to
  the guest through DHCP; the bridge keeps only KubeVirt's link-local
  169.254.75.10/32, the DHCP server's identity.
A pod has one primary interface, so at most one interface may use the pod
network (KubeVirt's rule too). Which network and binding each interface has is
virtkube.api.interfaces' decision, shared with the launcher.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Literal

from virtkube.api.interfaces import Binding, InterfaceError, guest_interfaces
from virtkube.api.network import Interface, Network
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.handler.network.mac import normalize_mac, stable_mac
from virtkube.handler.network.podfacts import PodInterface
from virtkube.hlcom.protocol import DHCPRoute, DHCPServer, tap_name

#: KubeVirt's defaults for the masquerade VM network.
DEFAULT_VM_NETWORK_CIDR = "10.0.2.0/24"
#: KubeVirt's fake address on the in-pod bridge of a bridge binding (its DHCP server's).
BRIDGE_BINDING_SERVER_ADDRESS = "169.254.75.10/32"


class NetworkPlanError(ValueError):
    """A VMI network spec virt-handler cannot wire; carries the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class ForwardedPort:
    protocol: Literal["tcp", "udp"]
    port: int


@dataclass(frozen=True)
class InterfacePlan:
    name: str
    """The spec interface's (and its network's) name."""
    binding: Binding
    pod_interface: str
    bridge: str
    tap: str
    mac: str
    mtu: int
    pod_ip: str
    bridge_address: str
    """address/prefix on the in-pod bridge."""
    guest_address: str
    """address/prefix the guest gets by DHCP."""
    ports: tuple[ForwardedPort, ...] = ()
    """Masquerade: only these are forwarded; empty: every port (KubeVirt's rule)."""
    dhcp: DHCPServer | None = None

    @property
    def guest_ip(self) -> str:
        return str(ipaddress.IPv4Interface(self.guest_address).ip)


def bridge_name(pod_interface: str) -> str:
    return f"k6t-{pod_interface}"


def plan_interfaces(vmi: VirtualMachineInstance, pod: PodInterface) -> list[InterfacePlan]:
    """One plan per guest NIC of `vmi`, in spec order (the TAP index is the NIC index)."""
    try:
        nics = guest_interfaces(vmi.spec)
    except InterfaceError as e:
        raise NetworkPlanError(e.path, e.message) from e
    meta = vmi.metadata
    plans: list[InterfacePlan] = []
    for nic in nics:
        iface, path = nic.interface, nic.path
        if plans:
            raise NetworkPlanError(path, "only one interface can use the pod network")
        mac = stable_mac(meta.namespace or "default", meta.name or "", iface.name)
        if iface.mac_address:
            spec_mac = normalize_mac(iface.mac_address)
            if spec_mac is None:
                raise NetworkPlanError(f"{path}.macAddress", f"{iface.mac_address!r} is not a MAC")
            mac = spec_mac
        base = InterfacePlan(name=iface.name, binding=nic.binding, pod_interface=pod.name,
                             bridge=bridge_name(pod.name), tap=tap_name(nic.index), mac=mac,
                             mtu=pod.mtu, pod_ip=pod.ip, bridge_address="", guest_address="")
        hostname = vmi.spec.hostname or meta.name
        if nic.binding == "masquerade":
            plans.append(_masquerade(base, iface, nic.network, pod, hostname=hostname))
        else:
            plans.append(_bridge(base, pod, hostname=hostname))
    return plans


def _masquerade(base: InterfacePlan, iface: Interface, network: Network, pod: PodInterface,
                *, hostname: str | None) -> InterfacePlan:
    assert network.pod is not None
    cidr = network.pod.vm_network_cidr or DEFAULT_VM_NETWORK_CIDR
    try:
        vm_net = ipaddress.IPv4Network(cidr)
    except ValueError as e:
        raise NetworkPlanError("spec.networks.pod.vmNetworkCIDR", str(e)) from e
    if vm_net.num_addresses < 4:
        raise NetworkPlanError("spec.networks.pod.vmNetworkCIDR",
                               f"{cidr} has no room for a gateway and a guest")
    gateway, guest = vm_net.network_address + 1, vm_net.network_address + 2
    ports = tuple(ForwardedPort("udp" if p.protocol == "UDP" else "tcp", p.port)
                  for p in iface.ports or [])
    dhcp = DHCPServer(interface=base.bridge, mac=base.mac, ip=str(guest),
                      prefix_length=vm_net.prefixlen, router=str(gateway),
                      dns=pod.dns, search_domains=pod.search, mtu=pod.mtu, hostname=hostname)
    return replace(base, bridge_address=f"{gateway}/{vm_net.prefixlen}",
                   guest_address=f"{guest}/{vm_net.prefixlen}", ports=ports, dhcp=dhcp)


def _bridge(base: InterfacePlan, pod: PodInterface, *, hostname: str | None) -> InterfacePlan:
    """The guest takes over the pod's address and its routes, as the pod had them."""
    routes = tuple(DHCPRoute(destination=r.destination, gateway=r.gateway)
                   for r in pod.routes if r.destination != "0.0.0.0/0")
    dhcp = DHCPServer(interface=base.bridge, mac=base.mac, ip=pod.ip,
                      prefix_length=pod.prefix_length, router=pod.default_gateway,
                      routes=routes, dns=pod.dns, search_domains=pod.search, mtu=pod.mtu,
                      hostname=hostname, shared_network=True)
    return replace(base, bridge_address=BRIDGE_BINDING_SERVER_ADDRESS,
                   guest_address=pod.address, dhcp=dhcp)
