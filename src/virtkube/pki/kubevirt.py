"""The kubevirt CA as virt-api and virt-handler both see it.

KubeVirt's operator keeps a CA in the Secret `kubevirt/kubevirt-ca`; virt-api's
serving certificate and the mutual TLS between virt-api and virt-handler chain
to it. virtkube has no operator: the first virt-api stores the CA and each
virt-api and virt-handler issues its own leaves from it at start. The Secret's
shape and the identities both sides check are a contract between two processes
that may not import each other, so it is written down once, here.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from virtkube.pki.issuer import Pem

CA_SECRET = "kubevirt-ca"
CA_COMMON_NAME = "kubevirt.io"
#: Leaves are re-issued at every start; a week covers any run between restarts.
LEAF_VALIDITY = dt.timedelta(days=7)
#: The client CommonName virt-handler accepts: virt-api's identity in KubeVirt.
VIRT_API_CLIENT_CN = "kubevirt.io:system:client:virt-api"
#: virt-handler's serving identity in KubeVirt.
VIRT_HANDLER_SERVER_CN = "kubevirt.io:system:node:virt-handler"


def ca_secret(ca: Pem, namespace: str) -> dict[str, Any]:
    """A `kubernetes.io/tls` Secret, so KubeVirt's own tooling reads it as its CA."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": CA_SECRET, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "virt-api"}},
            "data": {"tls.crt": base64.b64encode(ca.cert).decode(),
                     "tls.key": base64.b64encode(ca.key).decode()}}


def ca_from_secret(secret: dict[str, Any]) -> Pem:
    data = secret.get("data") or {}
    return Pem(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
