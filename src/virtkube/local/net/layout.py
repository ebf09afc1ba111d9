"""Names and addresses of one local cluster's network, as pure functions.

Everything the cluster creates on the host network (bridge, netns, nftables table) carries
a short hash of the cluster's home folder, so that two clusters on one machine never
collide and `virtkube down` can find its own leftovers by name alone.

Address plan inside the cluster's /16 (config.pod_network, e.g. 10.213.0.0/16):
  .0.1        the host side of the bridge: pods' gateway and the API server (DNAT to loopback)
  .0.(2+i)    node i's InternalIP (its kubelet listens there)
  .0.250      the Service router: kube-proxy's own netns on the bridge; pods route the
              Service range to it (see virtkube.local.serviceproxy)
  .(1+i).0/24 node i's pod range (Node spec.podCIDR); pods get /16 addresses so every pod
              reaches every other pod directly over the one bridge.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

#: The kubelet's port; every node has its own IP, so all nodes can share it.
LOG_SERVER_PORT = 10250
#: Where Debian's containernetworking-plugins put the binaries.
CNI_BIN_DIR = Path("/usr/lib/cni")
#: The Service router's host number in the cluster's /16 (below it: up to 248 node IPs).
SERVICE_ROUTER_OFFSET = 250
#: `ip netns` keeps its named namespaces here.
NETNS_DIR = Path("/run/netns")


def home_hash(home_root: Path) -> str:
    return hashlib.sha256(str(home_root).encode()).hexdigest()[:6]


def node_name(index: int) -> str:
    return f"virtkube-node-{index}"


@dataclass(frozen=True)
class ClusterNet:
    """The host-level names of one cluster, derived from its home."""

    home_root: Path
    pod_network: str

    @property
    def hash(self) -> str:
        return home_hash(self.home_root)

    @property
    def bridge(self) -> str:
        return f"vkbr{self.hash}"  # 10 chars, under IFNAMSIZ (15)

    @property
    def nft_table(self) -> str:
        return f"virtkube_{self.hash}"

    @property
    def netns_prefix(self) -> str:
        return f"vk{self.hash}-"

    @property
    def cni_network(self) -> str:
        return f"virtkube-{self.hash}"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.pod_network)

    def _addr(self, offset: int) -> str:
        return str(self.network.network_address + offset)

    @property
    def gateway(self) -> str:
        return self._addr(1)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    @property
    def service_router(self) -> str:
        return self._addr(SERVICE_ROUTER_OFFSET)

    @property
    def service_netns(self) -> str:
        """kube-proxy's netns; its name has the cluster's netns prefix, so teardown finds it."""
        return f"{self.netns_prefix}services"

    @property
    def service_veth(self) -> str:
        """The host end (a bridge port) of the Service router's veth."""
        return f"vksv{self.hash}"

    def node_ip(self, index: int) -> str:
        return self._addr(2 + index)

    def pod_cidr(self, index: int) -> str:
        return self._addr(256 * (1 + index)) + "/24"

    def pod_range(self, index: int) -> tuple[str, str]:
        """First and last pod address of node `index` (.2 to .254 of its /24)."""
        base = 256 * (1 + index)
        return self._addr(base + 2), self._addr(base + 254)
