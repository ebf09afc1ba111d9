"""The local cluster's settings, chosen at the first `up` and then kept.

Ports are picked free on the first `up` and written to `config.json`, so that
the kubeconfig, the certificates and a running cluster agree across restarts,
and so that two clusters (say a developer's and a CI run's) never collide.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Loopback only: nothing the local cluster runs is reachable from off the machine.
LISTEN_ADDRESS = "127.0.0.1"

#: KubeVirt's and kubeadm's customary ranges; entirely inside this machine.
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
CLUSTER_DOMAIN = "cluster.local"


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

    @classmethod
    def pick(cls) -> Ports:
        chosen: list[int] = []
        while len(chosen) < 5:
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
        return cls(**raw)

    @classmethod
    def load_or_create(cls, path: Path) -> ClusterConfig:
        if path.exists():
            return cls.load(path)
        cfg = cls(ports=Ports.pick())
        cfg.save(path)
        return cfg
