"""Plans -> `status.interfaces[]` of the VMI, as KubeVirt reports them without a guest agent.

KubeVirt reports the pod IP as the interface's ipAddress for both bindings
(masquerade: the address others connect to; bridge: the guest's own), which is
what `kubectl get vmi` prints. The source is "domain": virt-handler knows the
NIC from the domain it defined, not from inside the guest, so `interfaceName`
(the guest's own name for the NIC, which only a guest agent can tell) is left
out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from virtkube.handler.network.plan import InterfacePlan

Obj = dict[str, Any]

INFO_SOURCE_DOMAIN = "domain"


def status_interfaces(plans: Sequence[InterfacePlan]) -> list[Obj]:
    return [{
        "name": p.name,
        "mac": p.mac,
        "ipAddress": p.pod_ip,
        "ipAddresses": [p.pod_ip],
        "podInterfaceName": p.pod_interface,
        "infoSource": INFO_SOURCE_DOMAIN,
        "queueCount": 1,
        "linkState": "up",
    } for p in plans]
