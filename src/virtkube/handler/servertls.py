"""virt-handler's TLS for its HTTPS API: a leaf from the kubevirt CA, peers checked against it.

virt-api creates the CA (Secret `kubevirt/kubevirt-ca`); each handler issues
itself a serving certificate from it at start (kept in memory and a private
temp dir, never on a shared path) and accepts only clients with virt-api's
CommonName under that CA: mutual TLS as in KubeVirt's handler<->virt-api link.
(The few lines of certificate code mirror virt-api's: the two processes share
no code but the API and client layers.)
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from virtkube.kube.client import Client
from virtkube.kube.resources import SECRETS

CA_SECRET = "kubevirt-ca"
#: The client CommonName virt-api presents (KubeVirt's virt-api client identity).
VIRT_API_CLIENT_CN = "kubevirt.io:system:client:virt-api"
LEAF_VALIDITY = dt.timedelta(days=7)


async def read_ca(client: Client, namespace: str) -> tuple[bytes, bytes]:
    secret = await client.get(SECRETS, CA_SECRET, namespace)
    data = secret.get("data") or {}
    return base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])


def issue_serving(ca_cert_pem: bytes, ca_key_pem: bytes, names: list[str]
                  ) -> tuple[bytes, bytes]:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("the kubevirt CA key must be an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                    "kubevirt.io:system:node:virt-handler")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(ca_cert_pem: bytes, leaf: tuple[bytes, bytes]) -> ssl.SSLContext:
    """Serve `leaf`; require a client certificate from the kubevirt CA."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="virt-handler-tls-") as tmp:
        cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert.write_bytes(leaf[0])
        key.touch(mode=0o600)
        key.write_bytes(leaf[1])
        ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cadata=ca_cert_pem.decode())
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def peer_common_name(peercert: dict[str, object] | None) -> str | None:
    for rdn in (peercert or {}).get("subject", ()):  # type: ignore[attr-defined]
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
