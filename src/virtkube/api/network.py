"""Guest networking: spec.networks (where a NIC connects) and the interfaces (the NIC).

An interface and a network are paired by name. The binding (masquerade,
bridge, ...) says how the pod's network reaches the guest NIC; virt-handler and
virt-launcher implement it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from virtkube.api.base import Empty, KubeVirtModel

InterfaceModel = Literal["e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139", "virtio"]


class InterfaceBridge(Empty):
    """Connects to the network through a linux bridge in the pod."""


class InterfaceMasquerade(Empty):
    """Connects to the network through NAT (netfilter rules) in the pod."""


class InterfaceSRIOV(Empty):
    """Passes an SR-IOV virtual function through to the guest via vfio."""


class InterfacePasstBinding(Empty):
    """Connects to the network using passt user-mode networking."""


class DeprecatedBinding(Empty):
    """A binding removed in KubeVirt v1.3 (slirp, macvtap, passt); accepted, never used."""


class PluginBinding(KubeVirtModel):
    """A network binding plugin registered in the KubeVirt CR."""

    name: str


class Port(KubeVirtModel):
    """A port to expose from the virtual machine."""

    name: str | None = None
    """An IANA_SVC_NAME, unique within the pod; services may refer to it."""
    protocol: Literal["TCP", "UDP"] | None = None
    """Protocol for port. Defaults to TCP."""
    port: int = Field(ge=1, le=65535)
    """Number of the port to expose, 0 < port < 65536."""


class DHCPPrivateOptions(KubeVirtModel):
    option: int = Field(ge=224, le=254)
    value: str


class DHCPOptions(KubeVirtModel):
    """Extra DHCP options handed to the guest on this interface."""

    boot_file_name: str | None = None
    """DHCP option 67."""
    tftp_server_name: str | None = Field(default=None, alias="tftpServerName")
    """DHCP option 66."""
    ntp_servers: list[str] | None = None
    """DHCP option 42."""
    private_options: list[DHCPPrivateOptions] | None = None


class Interface(KubeVirtModel):
    """A guest network interface, connected to the network of the same name."""

    name: str
    """Logical name of the interface; must match the name of a network."""
    model: InterfaceModel | None = None
    """Interface model. Defaults to virtio."""
    bridge: InterfaceBridge | None = None
    masquerade: InterfaceMasquerade | None = None
    sriov: InterfaceSRIOV | None = None
    passt_binding: InterfacePasstBinding | None = None
    slirp: DeprecatedBinding | None = None
    macvtap: DeprecatedBinding | None = None
    passt: DeprecatedBinding | None = None
    binding: PluginBinding | None = None
    """A binding plugin; an alternative to the built-in bindings."""
    ports: list[Port] | None = None
    """Ports to be forwarded to the virtual machine (masquerade)."""
    mac_address: str | None = None
    """Interface MAC address, for example de:ad:00:00:be:af."""
    boot_order: int | None = None
    """Boot order (> 0), unique among disks and interfaces."""
    pci_address: str | None = None
    dhcp_options: DHCPOptions | None = Field(default=None, alias="dhcpOptions")
    tag: str | None = None
    acpi_index: int | None = None
    """Stable guest NIC naming: unique, 1 to 16383."""
    state: Literal["absent", "up", "down"] | None = None
    """Requested link state; unset means up."""


class PodNetwork(KubeVirtModel):
    """The pod's own network."""

    vm_network_cidr: str | None = Field(default=None, alias="vmNetworkCIDR")
    """CIDR of the VM network behind masquerade. Defaults to 10.0.2.0/24."""
    vm_ipv6_network_cidr: str | None = Field(default=None, alias="vmIPv6NetworkCIDR")
    """IPv6 CIDR of the VM network behind masquerade. Defaults to fd10:0:2::/120."""


class MultusNetwork(KubeVirtModel):
    """A secondary network from a NetworkAttachmentDefinition (Multus)."""

    network_name: str
    """The NetworkAttachmentDefinition: <name> or <namespace>/<name>."""
    default: bool | None = None
    """Make it the pod's default network."""


class Network(KubeVirtModel):
    """A network an interface can connect to. Exactly one source may be set."""

    name: str
    """Network name: a DNS_LABEL, unique within the VM."""
    pod: PodNetwork | None = None
    multus: MultusNetwork | None = None
