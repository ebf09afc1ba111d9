"""Where virt-api's certificates come from: the cluster's kubevirt CA, then leaves in its state dir.

The CA lives in a Secret so that every virt-api replica and every
virt-handler trusts the same one. When the Secret is absent, the CA kept in
the state dir (made there the first time) is what gets published, so a
deleted Secret comes back as the CA the running handlers already trust. The
issuing itself is virtkube.pki's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.resources import SECRETS
from virtkube.pki import issuer, kubevirt
from virtkube.pki.kubevirt import CA_SECRET, VIRT_API_CLIENT_CN

__all__ = ["CA_SECRET", "SERVICE_NAMES", "VIRT_API_CLIENT_CN", "ensure_ca", "write_leaf"]

#: The names the aggregation layer and in-cluster clients use for virt-api.
SERVICE_NAMES = ("virt-api", "virt-api.kubevirt", "virt-api.kubevirt.svc",
                 "virt-api.kubevirt.svc.cluster.local", "localhost")


def write_leaf(state_dir: Path, name: str, ca: issuer.Pem, *, common_name: str,
               server_names: Sequence[str] = (), client: bool = False
               ) -> issuer.KeyPair:
    """A fresh short-lived leaf at `<state_dir>/<name>.{crt,key}`: re-issued every start."""
    pair = issuer.KeyPair.named(state_dir, name)
    pair.write(issuer.issue(ca, common_name=common_name, server_names=server_names,
                            client=client, validity=kubevirt.LEAF_VALIDITY))
    return pair


def _local_ca(state_dir: Path) -> issuer.Pem:
    state_dir.mkdir(parents=True, exist_ok=True)
    return issuer.ensure_ca(issuer.KeyPair.named(state_dir, "ca"), kubevirt.CA_COMMON_NAME)


async def ensure_ca(client: Client, namespace: str, state_dir: Path) -> issuer.Pem:
    """The cluster's kubevirt CA: read from its Secret, or created there from the state dir."""
    try:
        secret = await client.get(SECRETS, CA_SECRET, namespace)
    except errors.NotFound:
        ca = _local_ca(state_dir)
        try:
            await client.create(SECRETS, kubevirt.ca_secret(ca, namespace), namespace)
            return ca
        except errors.AlreadyExists:
            secret = await client.get(SECRETS, CA_SECRET, namespace)
    return kubevirt.ca_from_secret(secret)
