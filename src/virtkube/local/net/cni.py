"""The local nodes' CNI network (CNI spec v1.0) for Debian's bridge + host-local plugins.

Pure: containerd runs the plugins with this config (virtkube.local.realnode.config writes
it into each node's conflist). Every node's pods sit on the cluster's one bridge with an
address from the node's own /24, and the only routes lead to Services: nothing a pod sends
can leave the machine.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from virtkube.local.net.layout import ClusterNet

CNI_VERSION = "1.0.0"


def bridge_config(net: ClusterNet, *, index: int, ipam_dir: Path, service_cidr: str
                  ) -> dict[str, Any]:
    first, last = net.pod_range(index)
    return {
        "cniVersion": CNI_VERSION,
        "name": net.cni_network,
        "type": "bridge",
        "bridge": net.bridge,
        # The host address exists already (hostnet); no masquerade, ever.
        "isGateway": False,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": str(net.network), "rangeStart": first, "rangeEnd": last,
                         "gateway": net.gateway}]],
            # Only the Service range leaves the pod's subnet: to the Service router
            # (kube-proxy's netns on the bridge), and the `kubernetes` Service IP straight
            # to the host (DNAT to the API server) so it works without kube-proxy too.
            # There is deliberately no default route: pod traffic never leaves the machine.
            "routes": [{"dst": service_cidr, "gw": net.service_router},
                       {"dst": f"{_first_host(service_cidr)}/32", "gw": net.gateway}],
            "dataDir": str(ipam_dir),
        },
    }


def _first_host(cidr: str) -> str:
    """The `kubernetes` Service's IP: the API server always takes the range's first address."""
    return str(ipaddress.IPv4Network(cidr).network_address + 1)
