"""virt-handler's TLS for its HTTPS API: a leaf from the kubevirt CA, peers checked against it.

virt-api creates the CA (Secret `kubevirt/kubevirt-ca`); each handler issues
itself a serving certificate from it at start (kept in memory and a private
temp dir, never on a shared path) and accepts only clients with virt-api's
CommonName under that CA: mutual TLS as in KubeVirt's handler<->virt-api link.
The certificate code and the names both sides check are virtkube.pki's, so
virt-api and virt-handler cannot drift apart.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path

from virtkube.kube.client import Client
from virtkube.kube.resources import SECRETS
from virtkube.pki import issuer, kubevirt
from virtkube.pki.kubevirt import CA_SECRET, VIRT_API_CLIENT_CN

__all__ = ["CA_SECRET", "VIRT_API_CLIENT_CN", "issue_serving", "peer_common_name", "read_ca",
           "server_context"]


async def read_ca(client: Client, namespace: str) -> issuer.Pem:
    return kubevirt.ca_from_secret(await client.get(SECRETS, CA_SECRET, namespace))


def issue_serving(ca: issuer.Pem, names: Sequence[str]) -> issuer.Pem:
    return issuer.issue(ca, common_name=kubevirt.VIRT_HANDLER_SERVER_CN, server_names=names,
                        validity=kubevirt.LEAF_VALIDITY)


def server_context(ca_cert_pem: bytes, leaf: issuer.Pem) -> ssl.SSLContext:
    """Serve `leaf`; require a client certificate from the kubevirt CA."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads a key only from a file; the file lives just long enough to be read.
    with tempfile.TemporaryDirectory(prefix="virt-handler-tls-") as tmp:
        pair = issuer.KeyPair.named(Path(tmp), "tls")
        pair.write(leaf)
        ctx.load_cert_chain(pair.cert_path, pair.key_path)
    ctx.load_verify_locations(cadata=ca_cert_pem.decode())
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def peer_common_name(peercert: dict[str, object] | None) -> str | None:
    for rdn in (peercert or {}).get("subject", ()):  # type: ignore[attr-defined]
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
