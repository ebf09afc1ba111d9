"""The local cluster's settings, chosen at the first `up` and then kept.

Ports are picked free on the first `up` and written to `config.json`, so that
the kubeconfig, the certificates and a running cluster agree across restarts,
and so that two clusters (say a developer's and a CI run's) never collide.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import socket
import subprocess
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

#: Loopback only: nothing the local cluster runs is reachable from off the machine.
LISTEN_ADDRESS = "127.0.0.1"

#: KubeVirt's and kubeadm's customary ranges; entirely inside this machine.
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
CLUSTER_DOMAIN = "cluster.local"

#: Pod networks are /16s picked from 10.128.0.0/9, a block the project owns on this machine;
#: the second octet is derived from the home so two clusters' bridges do not collide.
POD_NETWORK_SECOND_OCTETS = range(128, 228)
#: The kubelet's default pod limit.
MAX_PODS = 110


def _used_ipv4_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this machine already has an address or a route in."""
    nets: list[ipaddress.IPv4Network] = []
    for argv in (["ip", "-4", "-o", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        except OSError:
            continue
        for word in out.split():
            with contextlib.suppress(ValueError):
                if word[0].isdigit() and ("/" in word or word.count(".") == 3):
                    nets.append(ipaddress.IPv4Network(word, strict=False))
    return nets


def pick_pod_network(home: Path) -> str:
    """A free 10.x.0.0/16 for this home's bridge, stable for a given home path."""
    used = _used_ipv4_networks()
    start = int(hashlib.sha256(str(home).encode()).hexdigest(), 16)
    octets = list(POD_NETWORK_SECOND_OCTETS)
    for k in range(len(octets)):
        net = ipaddress.IPv4Network(f"10.{octets[(start + k) % len(octets)]}.0.0/16")
        if not any(net.overlaps(u) and u.prefixlen > 0 for u in used):
            return str(net)
    raise RuntimeError("no free /16 in 10.128.0.0/9 for the pod network")


def free_port(host: str = LISTEN_ADDRESS) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Ports:
    apiserver: int
    etcd_client: int
    etcd_peer: int
    controller_manager: int
    scheduler: int
    #: 0 in a config written before virt-api joined the local cluster: picked at `up`.
    virt_api: int = 0
    #: The local OCI registry that `registry:5000` names on the nodes; 0: picked at `up`.
    registry: int = 0

    @classmethod
    def pick(cls) -> Ports:
        chosen: list[int] = []
        while len(chosen) < 6:
            p = free_port()
            if p not in chosen:
                chosen.append(p)
        return cls(*chosen)


@dataclass(frozen=True)
class ClusterConfig:
    ports: Ports
    listen_address: str = LISTEN_ADDRESS
    service_cidr: str = SERVICE_CIDR
    kubernetes_service_ip: str = KUBERNETES_SERVICE_IP
    cluster_domain: str = CLUSTER_DOMAIN
    cluster_name: str = "virtkube"
    #: How many local nodes (`virtkube up --nodes N`); changing it needs `down` first.
    nodes: int = 1
    #: The /16 of the shared bridge: .0.1 is the host (gateway, API server), .0.(2+i) node i,
    #: .(1+i).0/24 node i's pods. Picked at the first `up` (see pick_pod_network).
    pod_network: str = ""
    max_pods: int = MAX_PODS
    #: Write the API server's audit log (logs/audit.log): the benchmarks count
    #: requests per VM lifecycle from it. Off by default (it costs disk writes).
    audit: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.listen_address}:{self.ports.apiserver}"

    @property
    def etcd_url(self) -> str:
        return f"http://{self.listen_address}:{self.ports.etcd_client}"

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> ClusterConfig:
        raw = json.loads(path.read_text())
        raw["ports"] = Ports(**raw["ports"])
        # Settings an older virtkube wrote and this one no longer has (the stand-in nodes'
        # `local_image` and `node_runtime`) are dropped, not an error.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def load_or_create(cls, path: Path) -> ClusterConfig:
        if path.exists():
            return cls.load(path)
        cfg = cls(ports=Ports.pick(), pod_network=pick_pod_network(path.parent))
        cfg.save(path)
        return cfg
