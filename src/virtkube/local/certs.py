"""The certificate set of one local cluster, and the kubeconfigs made from it.

Identities follow kubeadm's, so that the built-in RBAC roles of Kubernetes
apply unchanged: the controller manager is `system:kube-controller-manager`,
the scheduler `system:kube-scheduler`, the admin is in `system:masters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from virtkube.local.config import ClusterConfig
from virtkube.local.net import layout
from virtkube.pki import issuer


@dataclass(frozen=True)
class ClusterPKI:
    dir: Path

    def pair(self, name: str) -> issuer.KeyPair:
        return issuer.KeyPair.named(self.dir, name)

    @property
    def ca(self) -> issuer.KeyPair:
        return self.pair("ca")

    @property
    def front_proxy_ca(self) -> issuer.KeyPair:
        return self.pair("front-proxy-ca")

    @property
    def apiserver(self) -> issuer.KeyPair:
        return self.pair("apiserver")

    @property
    def apiserver_kubelet_client(self) -> issuer.KeyPair:
        return self.pair("apiserver-kubelet-client")

    @property
    def front_proxy_client(self) -> issuer.KeyPair:
        return self.pair("front-proxy-client")

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"


#: component name -> (CommonName, Organizations) of its client certificate.
CLIENT_IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("virtkube-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    # Bound to the built-in ClusterRole system:node-proxier by the API server's bootstrap RBAC.
    "kube-proxy": ("system:kube-proxy", ()),
    # An embedded, trusted controller of the local cluster only (never deployed elsewhere).
    "local-path-provisioner": ("virtkube:local-path-provisioner", ("system:masters",)),
    # KubeVirt's components; distinct names so audit logs tell them apart. On a
    # real cluster they run as service accounts with deploy/'s RBAC instead.
    "virt-controller": ("virtkube:virt-controller", ("system:masters",)),
    "virt-handler": ("virtkube:virt-handler", ("system:masters",)),
    "virt-api": ("virtkube:virt-api", ("system:masters",)),
}


def node_component(index: int) -> str:
    """The pki/kubeconfig name of local node `index` (its client identity)."""
    return f"node-{index}"


def ensure_node_pki(p: ClusterPKI, cfg: ClusterConfig, index: int) -> None:
    """A node's kubelet identities: a client cert the Node authorizer and NodeRestriction
    recognise (CN system:node:<name>, O system:nodes), and a serving cert for its log
    endpoint at its InternalIP (the API server verifies it with the cluster CA)."""
    name = layout.node_name(index)
    issuer.ensure_cert(p.pair(node_component(index)), ca=p.ca,
                       common_name=f"system:node:{name}", organizations=("system:nodes",),
                       client=True)
    net = layout.ClusterNet(p.dir.parent, cfg.pod_network)
    issuer.ensure_cert(p.pair(f"{node_component(index)}-serving"), ca=p.ca, common_name=name,
                       server_names=[name, "localhost", "127.0.0.1", net.node_ip(index)])


def apiserver_names(cfg: ClusterConfig, extra: tuple[str, ...] = ()) -> list[str]:
    """Every name a client may use to reach the API server."""
    bridge = ([layout.ClusterNet(Path("/"), cfg.pod_network).gateway]
              if cfg.pod_network else [])
    base = [
        "localhost", cfg.listen_address, cfg.kubernetes_service_ip, *bridge,
        "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        f"kubernetes.default.svc.{cfg.cluster_domain}",
    ]
    return base + [n for n in extra if n not in base]


def ensure_cluster_pki(p: ClusterPKI, cfg: ClusterConfig) -> None:
    p.dir.mkdir(parents=True, exist_ok=True)
    issuer.ensure_ca(p.ca, "virtkube-ca")
    issuer.ensure_ca(p.front_proxy_ca, "virtkube-front-proxy-ca")
    if p.apiserver.exists() and not issuer.covers(p.apiserver.cert_path.read_bytes(),
                                                  apiserver_names(cfg)):
        # An older home whose cert predates the pod bridge: reissue with every name.
        p.apiserver.cert_path.unlink()
    issuer.ensure_cert(p.apiserver, ca=p.ca, common_name="kube-apiserver",
                       server_names=apiserver_names(cfg))
    issuer.ensure_cert(p.apiserver_kubelet_client, ca=p.ca,
                       common_name="kube-apiserver-kubelet-client",
                       organizations=("system:masters",), client=True)
    issuer.ensure_cert(p.front_proxy_client, ca=p.front_proxy_ca,
                       common_name="front-proxy-client", client=True)
    issuer.ensure_signing_key(p.sa_key, p.sa_pub)
    for component, (cn, orgs) in CLIENT_IDENTITIES.items():
        issuer.ensure_cert(p.pair(component), ca=p.ca, common_name=cn,
                           organizations=orgs, client=True)


def kubeconfig(*, cluster: str, server: str, ca: Path, cert: Path, key: Path, user: str
               ) -> dict[str, object]:
    """A kubeconfig that names files rather than embedding them (they never move)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {
            "server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {
            "client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
        "preferences": {},
    }


def write_kubeconfig(path: Path, p: ClusterPKI, cfg: ClusterConfig, component: str) -> None:
    pair = p.pair(component)
    doc = kubeconfig(cluster=cfg.cluster_name, server=cfg.apiserver_url, ca=p.ca.cert_path,
                     cert=pair.cert_path, key=pair.key_path, user=component)
    text = yaml.safe_dump(doc, sort_keys=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        path.chmod(0o600)
