"""The local cluster's certificates chain to their CA and carry the right identities."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from virtkube.local.certs import ClusterPKI, ensure_cluster_pki, write_kubeconfig
from virtkube.local.config import ClusterConfig, Ports

CFG = ClusterConfig(ports=Ports(6443, 2379, 2380, 10257, 10259))


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _verify(leaf: x509.Certificate, ca: x509.Certificate) -> None:
    pub = ca.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    leaf.verify_directly_issued_by(ca)


def test_serving_cert_names_every_address_a_client_uses(tmp_path: Path) -> None:
    p = ClusterPKI(tmp_path)
    ensure_cluster_pki(p, CFG)
    server = _cert(p.apiserver.cert_path)
    _verify(server, _cert(p.ca.cert_path))
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    dns = set(san.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.96.0.1"} <= ips
    assert {"localhost", "kubernetes.default.svc"} <= dns
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_client_identities_follow_kubeadm(tmp_path: Path) -> None:
    p = ClusterPKI(tmp_path)
    ensure_cluster_pki(p, CFG)
    admin = _cert(p.pair("admin").cert_path)
    _verify(admin, _cert(p.ca.cert_path))
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    cm = _cert(p.pair("kube-controller-manager").cert_path)
    cn = cm.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "system:kube-controller-manager"
    _verify(_cert(p.front_proxy_client.cert_path), _cert(p.front_proxy_ca.cert_path))


def test_second_run_keeps_existing_files(tmp_path: Path) -> None:
    p = ClusterPKI(tmp_path)
    ensure_cluster_pki(p, CFG)
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    ensure_cluster_pki(p, CFG)
    assert before == {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    assert oct(p.ca.key_path.stat().st_mode & 0o777) == "0o600"


def test_kubeconfig_points_at_loopback_with_client_cert(tmp_path: Path) -> None:
    import yaml

    p = ClusterPKI(tmp_path)
    ensure_cluster_pki(p, CFG)
    path = tmp_path / "admin.kubeconfig"
    write_kubeconfig(path, p, CFG, "admin")
    doc = yaml.safe_load(path.read_text())
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert doc["users"][0]["user"]["client-certificate"] == str(p.pair("admin").cert_path)
