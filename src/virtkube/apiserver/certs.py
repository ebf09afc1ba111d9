"""The certificates of virt-api: the kubevirt CA, its serving cert, its client cert for handlers.

KubeVirt's operator keeps a CA in the Secret `kubevirt/kubevirt-ca`; virt-api's
serving certificate (for the API server's webhook calls and the aggregation
layer) and the mutual TLS between virt-api and virt-handler all chain to it.
virtkube does the same without an operator: the first virt-api creates the CA
Secret (from `<state-dir>/ca.{crt,key}`, made there when absent) and every
virt-api and virt-handler issues its own leaf certificates from it at start.
Leaves are short-lived files in the state dir, re-issued each start.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.resources import SECRETS

CA_SECRET = "kubevirt-ca"
CA_VALIDITY = dt.timedelta(days=3650)
#: Leaves are re-issued at every start; a week covers any run between restarts.
LEAF_VALIDITY = dt.timedelta(days=7)
#: The names the aggregation layer and in-cluster clients use for virt-api.
SERVICE_NAMES = ("virt-api", "virt-api.kubevirt", "virt-api.kubevirt.svc",
                 "virt-api.kubevirt.svc.cluster.local", "localhost")
#: CommonName virt-handler accepts as virt-api's client certificate (KubeVirt's).
VIRT_API_CLIENT_CN = "kubevirt.io:system:client:virt-api"


@dataclass(frozen=True)
class CA:
    cert_pem: bytes
    key_pem: bytes

    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("the kubevirt CA key must be an EC key")
        return key


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def new_ca(common_name: str = "kubevirt.io") -> CA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return CA(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(ca: CA, *, common_name: str, server_names: Sequence[str] = (),
          client: bool = False) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) of a leaf signed by `ca`, for serving and/or client auth."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    usages = []
    if server_names:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert().subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if server_names:
        sans: list[x509.GeneralName] = []
        for n in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca.key(), hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def write_pair(directory: Path, name: str, pair: tuple[bytes, bytes]) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _write_private(key, pair[1])
    cert.write_bytes(pair[0])
    return cert, key


def _local_ca(state_dir: Path) -> CA:
    cert, key = state_dir / "ca.crt", state_dir / "ca.key"
    if cert.exists() and key.exists():
        return CA(cert.read_bytes(), key.read_bytes())
    ca = new_ca()
    write_pair(state_dir, "ca", (ca.cert_pem, ca.key_pem))
    return ca


async def ensure_ca(client: Client, namespace: str, state_dir: Path) -> CA:
    """The cluster's kubevirt CA: read from its Secret, or created there from the state dir."""
    try:
        secret = await client.get(SECRETS, CA_SECRET, namespace)
    except errors.NotFound:
        ca = _local_ca(state_dir)
        body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": CA_SECRET, "namespace": namespace,
                             "labels": {"app.kubernetes.io/managed-by": "virt-api"}},
                "data": {"tls.crt": base64.b64encode(ca.cert_pem).decode(),
                         "tls.key": base64.b64encode(ca.key_pem).decode()}}
        try:
            await client.create(SECRETS, body, namespace)
            return ca
        except errors.AlreadyExists:
            secret = await client.get(SECRETS, CA_SECRET, namespace)
    data = secret.get("data") or {}
    return CA(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
