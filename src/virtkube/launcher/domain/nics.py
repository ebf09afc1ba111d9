"""Network interfaces: a guest NIC per interface, backed by a TAP or user netdev.

In production virt-handler creates the TAP in the pod's network namespace and
the launcher only opens it by name (`-netdev tap,ifname=...`). Without
Kubernetes, tests choose `user` mode: QEMU's restricted user network, which
gives the guest DHCP but no route to the host or beyond. The option ROM is
left out when the interface has no bootOrder, as KubeVirt does: nothing
network-boots from it, and iPXE costs boot time and memory.
"""

from __future__ import annotations

from virtkube.api.interfaces import GuestInterface, InterfaceError, guest_interfaces
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.hlcom.protocol import tap_name
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.qemuopts import opts_map
from virtkube.launcher.errors import SpecError, UnsupportedFieldError

#: KubeVirt interface model -> QEMU device (igb needs QEMU 8, Debian 12 has 7.2).
MODELS = {
    "virtio": "virtio-net-pci",
    "e1000": "e1000",
    "e1000e": "e1000e",
    "ne2k_pci": "ne2k_pci",
    "pcnet": "pcnet",
    "rtl8139": "rtl8139",
}


def _interfaces(vmi: VirtualMachineInstance) -> list[GuestInterface]:
    try:
        return guest_interfaces(vmi.spec)
    except InterfaceError as e:
        if e.unsupported:
            raise UnsupportedFieldError(e.path, e.message) from e
        raise SpecError(e.path, e.message) from e


def nic_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    args: list[str] = []
    for nic in _interfaces(vmi):
        iface, path, index = nic.interface, nic.path, nic.index
        if iface.state not in (None, "up"):
            raise UnsupportedFieldError(f"{path}.state", f"value {iface.state!r}")
        model = iface.model or "virtio"
        if model not in MODELS:
            raise UnsupportedFieldError(f"{path}.model", f"model {model!r}")
        netdev = f"netdev-{iface.name}"
        if ctx.network_mode == "tap":
            ifname = ctx.tap_names.get(iface.name, tap_name(index))
            backend = {"id": netdev, "ifname": ifname, "script": "no", "downscript": "no"}
            args += ["-netdev", opts_map("tap", backend)]
        else:
            args += ["-netdev", opts_map("user", {"id": netdev, "restrict": True})]
        device: dict[str, str | int | bool | None] = {
            "netdev": netdev,
            "id": f"ua-{iface.name}",
            "mac": iface.mac_address,
            "bootindex": iface.boot_order,
        }
        if iface.boot_order is None:
            device["romfile"] = ""
        args += ["-device", opts_map(MODELS[model], device)]
    return args
