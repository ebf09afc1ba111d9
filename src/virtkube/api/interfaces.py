"""Which network each guest interface is on, and with which binding: decided once.

virt-handler wires each guest NIC in the pod (handler/network/plan.py) and
virt-launcher gives QEMU the same NIC (launcher/domain/nics.py); both walk
`spec.domain.devices.interfaces` and join each entry to the network of its
name (KubeVirt: an interface connects to the network with the same name). They
must agree on that join, the binding and the refusals, so it is done here. The
TAP index is the interface's index (hlcom.protocol.tap_name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from virtkube.api.network import Interface, Network
from virtkube.api.vmi import VirtualMachineInstanceSpec

#: The two built-in bindings virtkube wires (KubeVirt's masquerade default, and bridge).
Binding = Literal["masquerade", "bridge"]
#: The other bindings KubeVirt knows, by their field names, for the refusal.
_OTHER_BINDINGS = ("sriov", "passt_binding", "binding", "slirp", "macvtap", "passt")


class InterfaceError(ValueError):
    """An interface virtkube cannot connect: its field path and why.

    `unsupported` marks a valid KubeVirt spec virtkube does not run (a Multus
    network, an SR-IOV binding), as opposed to a spec that is wrong.
    """

    def __init__(self, path: str, message: str, *, unsupported: bool = False) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.unsupported = unsupported


@dataclass(frozen=True)
class GuestInterface:
    """One guest NIC joined to its network."""

    index: int
    """Its position in spec.domain.devices.interfaces (and its TAP's index)."""
    interface: Interface
    network: Network
    binding: Binding

    @property
    def path(self) -> str:
        return f"spec.domain.devices.interfaces[{self.index}]"


def _binding(iface: Interface, path: str) -> Binding:
    if iface.masquerade is not None:
        return "masquerade"
    if iface.bridge is not None:
        return "bridge"
    chosen = [f for f in _OTHER_BINDINGS if getattr(iface, f) is not None]
    if chosen:
        raise InterfaceError(path, f"binding {chosen[0]}; use masquerade or bridge",
                             unsupported=True)
    raise InterfaceError(path, "needs a binding: bridge or masquerade")


def guest_interfaces(spec: VirtualMachineInstanceSpec) -> list[GuestInterface]:
    """Every guest interface in spec order, on its pod network; InterfaceError otherwise."""
    networks = {n.name: n for n in spec.networks or []}
    found = []
    for index, iface in enumerate(spec.domain.devices.interfaces or []):
        path = f"spec.domain.devices.interfaces[{index}]"
        network = networks.get(iface.name)
        if network is None:
            raise InterfaceError(f"{path}.name", f"no network named {iface.name!r}")
        if network.pod is None:
            raise InterfaceError(f"spec.networks[{list(networks).index(iface.name)}]",
                                 "only pod networks", unsupported=True)
        found.append(GuestInterface(index=index, interface=iface, network=network,
                                    binding=_binding(iface, path)))
    return found
