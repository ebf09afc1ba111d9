"""The one issuer: its certificates verify as a TLS peer would verify them, its keys stay private.

There is no rotation to test: the local cluster's files are kept for ten years
on purpose (kubeconfigs name them) and the kubevirt leaves are re-issued at
every start; what is re-issued is a kept serving cert that misses a name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from virtkube.handler import servertls
from virtkube.pki import issuer, kubevirt

NAMES = ["virt-api.kubevirt.svc", "localhost", "127.0.0.1", "fd00::5"]


@pytest.fixture(scope="module")
def ca() -> issuer.Pem:
    return issuer.new_ca("test-ca")


def _eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_serving_cert_chains_to_its_ca_for_every_name_asked(ca: issuer.Pem) -> None:
    leaf = issuer.issue(ca, common_name="virt-api.kubevirt.svc", server_names=NAMES)
    cert = leaf.certificate()
    store = verification.Store([ca.certificate()])
    for name in NAMES:
        try:
            subject: x509.DNSName | x509.IPAddress = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            subject = x509.DNSName(name)
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(subject)
        chain = verifier.verify(cert, [])
        assert chain[-1] == ca.certificate()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"virt-api.kubevirt.svc", "localhost"}
    assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "fd00::5"}
    assert _eku(cert) == {ExtendedKeyUsageOID.SERVER_AUTH}
    unasked = verification.PolicyBuilder().store(store).build_server_verifier(
        x509.DNSName("elsewhere.example"))
    with pytest.raises(verification.VerificationError):
        unasked.verify(cert, [])


def test_client_cert_is_for_client_auth_only(ca: issuer.Pem) -> None:
    cert = issuer.issue(ca, common_name=kubevirt.VIRT_API_CLIENT_CN,
                        organizations=("system:masters",), client=True).certificate()
    assert _eku(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    cert.verify_directly_issued_by(ca.certificate())
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] \
        == ["system:masters"]


def test_validity_is_the_callers_and_backdated_for_skew(ca: issuer.Pem) -> None:
    now = dt.datetime.now(dt.UTC)
    cert = issuer.issue(ca, common_name="x", client=True,
                        validity=kubevirt.LEAF_VALIDITY).certificate()
    assert cert.not_valid_before_utc < now
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == kubevirt.LEAF_VALIDITY
    ca_cert = ca.certificate()
    assert ca_cert.not_valid_after_utc - ca_cert.not_valid_before_utc == issuer.VALIDITY
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_mutual_tls_between_virt_api_and_handler_leaves(ca: issuer.Pem, tmp_path: Path) -> None:
    """The handler's server context accepts virt-api's client leaf: both from one issuer."""
    server = servertls.server_context(ca.cert, servertls.issue_serving(ca, ["127.0.0.1"]))
    client_pair = issuer.KeyPair.named(tmp_path, "handler-client")
    client_pair.write(issuer.issue(ca, common_name=kubevirt.VIRT_API_CLIENT_CN, client=True,
                                   validity=kubevirt.LEAF_VALIDITY))
    client = ssl.create_default_context(cadata=ca.cert.decode())
    client.load_cert_chain(client_pair.cert_path, client_pair.key_path)
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    s = server.wrap_bio(s_in, s_out, server_side=True)
    c = client.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    done = {"s": False, "c": False}
    for _ in range(20):
        for key, side in (("c", c), ("s", s)):
            if not done[key]:
                try:
                    side.do_handshake()
                    done[key] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values())
    peer: dict[str, object] = dict(s.getpeercert() or {})
    assert servertls.peer_common_name(peer) == kubevirt.VIRT_API_CLIENT_CN


def test_files_keep_keys_private_and_are_not_reissued(tmp_path: Path) -> None:
    ca_pair = issuer.KeyPair.named(tmp_path, "ca")
    leaf = issuer.KeyPair.named(tmp_path, "leaf")
    leaf.key_path.write_bytes(b"")
    leaf.key_path.chmod(0o644)  # a key file left world-readable must not stay so
    ca = issuer.ensure_ca(ca_pair, "files-ca")
    assert issuer.ensure_ca(ca_pair, "files-ca") == ca
    issuer.ensure_cert(leaf, ca=ca_pair, common_name="leaf", server_names=["a.example"])
    first = leaf.read()
    issuer.ensure_cert(leaf, ca=ca_pair, common_name="leaf", server_names=["a.example"])
    assert leaf.read() == first
    for pair in (ca_pair, leaf):
        assert pair.key_path.stat().st_mode & 0o777 == 0o600
    assert issuer.covers(first.cert, ["a.example"])
    assert not issuer.covers(first.cert, ["a.example", "10.0.0.1"])
    assert not issuer.covers(ca.cert, ["a.example"])


def test_signing_key_is_private(tmp_path: Path) -> None:
    issuer.ensure_signing_key(tmp_path / "sa.key", tmp_path / "sa.pub")
    assert (tmp_path / "sa.key").stat().st_mode & 0o777 == 0o600
    assert b"PUBLIC KEY" in (tmp_path / "sa.pub").read_bytes()


def test_kubevirt_ca_secret_round_trips(ca: issuer.Pem) -> None:
    secret = kubevirt.ca_secret(ca, "kubevirt")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {"name": kubevirt.CA_SECRET, "namespace": "kubevirt",
                                  "labels": {"app.kubernetes.io/managed-by": "virt-api"}}
    assert kubevirt.ca_from_secret(secret) == ca
