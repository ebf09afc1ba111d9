"""A real node's kubelet identities, issued by the cluster's own CA.

The node's two certificates (virtkube.local.certs.ensure_node_pki), for a
node of any name: a client cert the Node authorizer and NodeRestriction recognise
(CN system:node:<name>, O system:nodes) and a serving cert for the kubelet's API at its
InternalIP (the API server checks it with the cluster CA). They live in the node's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from virtkube.local.certs import ClusterPKI, kubeconfig
from virtkube.local.config import ClusterConfig
from virtkube.local.realnode.layout import RealNode
from virtkube.pki import issuer


@dataclass(frozen=True)
class NodeIdentity:
    client: issuer.KeyPair
    serving: issuer.KeyPair
    ca: Path


def node_identity(node: RealNode, cluster_pki: ClusterPKI) -> NodeIdentity:
    d = node.root / "pki"
    return NodeIdentity(client=issuer.KeyPair.named(d, "kubelet-client"),
                        serving=issuer.KeyPair.named(d, "kubelet"),
                        ca=cluster_pki.ca.cert_path)


def ensure_identity(node: RealNode, cfg: ClusterConfig, cluster_pki: ClusterPKI
                    ) -> NodeIdentity:
    ident = node_identity(node, cluster_pki)
    ident.client.cert_path.parent.mkdir(parents=True, exist_ok=True)
    ident.client.cert_path.parent.chmod(0o700)
    issuer.ensure_cert(ident.client, ca=cluster_pki.ca,
                       common_name=f"system:node:{node.name}", organizations=("system:nodes",),
                       client=True)
    ip = node.cluster_net(cfg.pod_network).node_ip(node.index)
    issuer.ensure_cert(ident.serving, ca=cluster_pki.ca, common_name=node.name,
                       server_names=[node.name, ip])
    text = yaml.safe_dump(kubeconfig(
        cluster=cfg.cluster_name, server=cfg.apiserver_url, ca=ident.ca,
        cert=ident.client.cert_path, key=ident.client.key_path,
        user=f"system:node:{node.name}"), sort_keys=False)
    if not node.kubeconfig.exists() or node.kubeconfig.read_text() != text:
        node.kubeconfig.write_text(text)
        node.kubeconfig.chmod(0o600)
    return ident
