from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from virtkube.api.volumes import CloudInitSource
from virtkube.launcher import cloudinit
from virtkube.launcher.errors import VolumeError
from virtkube.launcher.isofs import read_iso, volume_label, write_iso

from .builders import new_vmi

GOLDEN = Path(__file__).parent / "golden" / "cloudinit.json"
UPDATE = os.environ.get("VIRTKUBE_UPDATE_GOLDEN") == "1"


def test_files_golden() -> None:
    vmi = new_vmi({"metadata": {"namespace": "ns"}, "spec": {"hostname": "myhost"}})
    plain = cloudinit.CloudInitData(user_data=b"#!/bin/sh\necho hi\n")
    with_net = cloudinit.CloudInitData(user_data=b"#cloud-config\n", network_data=b"version: 2\n")
    got = {
        name: {k: v.decode() for k, v in files.items()}
        for name, files in {
            "nocloud": cloudinit.nocloud_files(vmi, plain),
            "nocloud-network": cloudinit.nocloud_files(new_vmi(), with_net),
            "configdrive": cloudinit.config_drive_files(vmi, plain),
            "configdrive-network": cloudinit.config_drive_files(new_vmi(), with_net),
        }.items()
    }
    if UPDATE or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert json.loads(GOLDEN.read_text()) == got


def test_load_inline_base64_and_secret(tmp_path: Path) -> None:
    secrets = tmp_path / "secret"
    (secrets / "ci").mkdir(parents=True)
    (secrets / "ci" / "userData").write_text("from secret")
    (secrets / "ci-ndata").mkdir()
    (secrets / "ci-ndata" / "networkdata").write_text("net from secret")
    inline = CloudInitSource(
        user_data="inline", network_data_base64=base64.b64encode(b"n").decode()
    )
    assert cloudinit.load_source("ci", inline, secrets) == cloudinit.CloudInitData(b"inline", b"n")
    b64 = CloudInitSource(user_data_base64=base64.b64encode(b"decoded").decode())
    assert cloudinit.load_source("ci", b64, secrets).user_data == b"decoded"
    ref = CloudInitSource.model_validate(
        {"secretRef": {"name": "s"}, "networkDataSecretRef": {"name": "n"}}
    )
    assert cloudinit.load_source("ci", ref, secrets) == cloudinit.CloudInitData(
        b"from secret", b"net from secret"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({}, "no user data"),
        ({"userData": "a", "userDataBase64": "YQ=="}, "only one"),
        ({"userDataBase64": "!!"}, "not valid base64"),
        ({"secretRef": {"name": "missing"}}, "none of the keys"),
    ],
)
def test_load_errors(tmp_path: Path, source: dict[str, object], message: str) -> None:
    with pytest.raises(VolumeError, match=message):
        cloudinit.load_source("ci", CloudInitSource.model_validate(source), tmp_path)


def test_iso_round_trip(tmp_path: Path) -> None:
    files = {
        "user-data": b"#!/bin/sh\n",
        "meta-data": b"instance-id: x\n",
        "openstack/latest/meta_data.json": b"{}",
    }
    write_iso(tmp_path / "ci.iso", "config-2", files)
    assert read_iso(tmp_path / "ci.iso") == files
    assert volume_label(tmp_path / "ci.iso") == "config-2"


KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@a"
KEY_B = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ other"


def _creds(*items: tuple[str, str]) -> dict[str, object]:
    return {"spec": {"accessCredentials": [
        {"sshPublicKey": {"source": {"secret": {"secretName": secret}},
                          "propagationMethod": {method: {}}}} for secret, method in items]}}


def test_access_credential_keys_by_method_in_kubevirt_order(tmp_path: Path) -> None:
    """One key per non-empty file of each Secret (sorted names, the kubelet's `..` folders
    skipped), Secrets in spec order, only those of the asked propagation method."""
    one = tmp_path / "one-access-cred"
    (one / "..2026_12_02").mkdir(parents=True)
    (one / "b").write_text(KEY_B + "\n")
    (one / "a").write_text(KEY_A)
    (one / "empty").write_text("\n")
    two = tmp_path / "two-access-cred"
    two.mkdir()
    (two / "key").write_text("ssh-ed25519 AAAAtwo")
    vmi = new_vmi(_creds(("one", "noCloud"), ("cd", "configDrive"), ("two", "noCloud")))
    keys = cloudinit.access_credential_keys(vmi, "noCloud", tmp_path, "ci")
    assert keys == (KEY_A, KEY_B, "ssh-ed25519 AAAAtwo")
    with pytest.raises(VolumeError, match=r"volume 'ci': spec.accessCredentials\[1\]: secret "
                                          r"'cd' is not mounted"):
        cloudinit.access_credential_keys(vmi, "configDrive", tmp_path, "ci")
    assert cloudinit.access_credential_keys(new_vmi(), "noCloud", tmp_path, "ci") == ()


def test_a_secret_name_that_leaves_its_folder_is_refused_without_admission(
        tmp_path: Path) -> None:
    outside = tmp_path / "escape-access-cred"
    outside.mkdir()
    (outside / "key").write_text(KEY_A)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    vmi = new_vmi(_creds(("../escape", "noCloud")))
    with pytest.raises(VolumeError, match="not a DNS-1123 subdomain"):
        cloudinit.access_credential_keys(vmi, "noCloud", secrets, "ci")


def test_public_keys_in_the_meta_data_as_kubevirt_puts_them() -> None:
    import yaml

    vmi = new_vmi({"metadata": {"namespace": "ns"}})
    data = cloudinit.CloudInitData(user_data=b"#cloud-config\n", public_keys=(KEY_A, KEY_B))
    meta = yaml.safe_load(cloudinit.nocloud_files(vmi, data)["meta-data"])
    assert meta["public-keys"] == {"0": KEY_A, "1": KEY_B}
    assert meta["instance-id"] == cloudinit.instance_id(vmi)
    drive = json.loads(cloudinit.config_drive_files(vmi, data)["openstack/latest/meta_data.json"])
    assert drive["public_keys"] == {"0": KEY_A, "1": KEY_B}
    # Without keys the meta-data is what it was (golden above).
    plain = cloudinit.CloudInitData(user_data=b"#cloud-config\n")
    assert b"public-keys" not in cloudinit.nocloud_files(vmi, plain)["meta-data"]
