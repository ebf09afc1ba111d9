"""Make CAs and leaf certificates, keep them as PEM, and read them back.

Keys are ECDSA P-256 everywhere: small, fast to make, and accepted wherever
Kubernetes or Python's ssl takes a key (ES256 for service-account tokens too).
Every leaf carries the same extensions whichever process asks for it, so a
certificate that works for one caller works for all; only the validity is the
caller's, because a leaf re-issued at every start and a file kept for the life
of a local cluster want different lifetimes.
"""

from __future__ import annotations

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

#: Ten years: a CA, or a file kept across `up`/`down`, should not age out under a user.
VALIDITY = dt.timedelta(days=3650)
#: Backdating tolerates a peer whose clock runs a little behind ours.
_SKEW = dt.timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pem:
    """A certificate and its key as PEM bytes: what a Secret or a file holds."""

    cert: bytes
    key: bytes

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert)

    def private_key(self) -> PrivateKey:
        key = serialization.load_pem_private_key(self.key, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("expected an EC private key")
        return key


@dataclass(frozen=True)
class KeyPair:
    """Where a certificate and its key live on disk (`<name>.crt`, `<name>.key`)."""

    cert_path: Path
    key_path: Path

    @classmethod
    def named(cls, directory: Path, name: str) -> KeyPair:
        return cls(directory / f"{name}.crt", directory / f"{name}.key")

    def exists(self) -> bool:
        return self.cert_path.exists() and self.key_path.exists()

    def read(self) -> Pem:
        return Pem(self.cert_path.read_bytes(), self.key_path.read_bytes())

    def write(self, pem: Pem) -> None:
        """The key first and owner-only, so no reader ever sees a cert without its key."""
        write_private(self.key_path, pem.key)
        self.cert_path.write_bytes(pem.cert)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` readable by the owner alone, also when `path` existed with wider modes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                         content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, encipher_only=False,
                         decipher_only=False)


def _builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey, validity: dt.timedelta,
             *, ca: bool) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC) - _SKEW
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(ca=ca), critical=True)
    )


def subject_alt_names(names: Sequence[str]) -> x509.SubjectAlternativeName:
    """IP SANs for addresses and DNS SANs for the rest: clients match an IP only as an IP."""
    entries: list[x509.GeneralName] = []
    for n in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            entries.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(entries)


def new_ca(common_name: str, *, validity: dt.timedelta = VALIDITY) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        _builder(name, name, key, validity, ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pem(_cert_pem(cert), _key_pem(key))


def issue(ca: Pem, *, common_name: str, organizations: Sequence[str] = (),
          server_names: Sequence[str] = (), client: bool = False,
          validity: dt.timedelta = VALIDITY) -> Pem:
    """A leaf signed by `ca`.

    `server_names` (DNS names and IPs) make it a serving certificate, `client`
    a client one; both may be set. The key usages are exactly those asked for,
    so a client cert cannot be presented as a server's and vice versa.
    """
    ca_cert, ca_key = ca.certificate(), ca.private_key()
    key = ec.generate_private_key(ec.SECP256R1())
    usages = []
    if server_names:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        _builder(_name(common_name, organizations), ca_cert.subject, key, validity, ca=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if server_names:
        builder = builder.add_extension(subject_alt_names(server_names), critical=False)
    return Pem(_cert_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def ensure_ca(pair: KeyPair, common_name: str) -> Pem:
    """The CA kept at `pair`, made there the first time: later runs must trust the same one."""
    if not pair.exists():
        pair.write(new_ca(common_name))
    return pair.read()


def ensure_cert(pair: KeyPair, *, ca: KeyPair, common_name: str,
                organizations: Sequence[str] = (), server_names: Sequence[str] = (),
                client: bool = False) -> None:
    """Issue a leaf at `pair` unless one is there: kubeconfigs that name it stay valid."""
    if pair.exists():
        return
    pair.write(issue(ca.read(), common_name=common_name, organizations=organizations,
                     server_names=server_names, client=client))


def covers(cert_pem: bytes, names: Sequence[str]) -> bool:
    """Whether a serving cert names every one of `names`: a kept cert may predate a new name."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    have |= set(san.get_values_for_type(x509.DNSName))
    return set(names) <= have


def ensure_signing_key(key_path: Path, pub_path: Path) -> None:
    """A bare key pair, for signing that needs no certificate (service-account tokens)."""
    if key_path.exists() and pub_path.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    write_private(key_path, _key_pem(key))
    pub_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
