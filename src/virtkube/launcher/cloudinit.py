"""cloud-init data for the guest: NoCloud (`cidata`) and ConfigDrive (`config-2`).

The file layout and meta-data follow KubeVirt's pkg/cloud-init: NoCloud has
`meta-data`, `user-data` and optionally `network-config`; ConfigDrive has
`openstack/latest/{meta_data.json,user_data,network_data.json}`. The instance
id is `<name>.<namespace>` and the hostname is spec.hostname or the VMI name.

`*_files` are pure (tested with golden files); reading user data from a
mounted Secret is `load_source`'s job.

spec.accessCredentials: the SSH public keys of each `sshPublicKey` credential whose
propagationMethod is `noCloud` (`configDrive`) go into that volume's meta-data as KubeVirt
puts them: `public-keys` (`public_keys` in meta_data.json), a map from "0", "1", ... to
the content of each file of the Secret, which virt-controller mounts at
`secret/<secretName>-access-cred/` (`access_credential_keys`). cloud-init, and the tiny
test guest, install them for the default user.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtkube.api.names import is_dns_subdomain
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.api.volumes import CloudInitSource
from virtkube.launcher import safepath
from virtkube.launcher.errors import VolumeError

NOCLOUD_LABEL = "cidata"
CONFIG_DRIVE_LABEL = "config-2"
#: Key names KubeVirt accepts in a cloud-init Secret, in order of preference.
USER_DATA_KEYS = ("userdata", "userData")
NETWORK_DATA_KEYS = ("networkdata", "networkData")
#: KubeVirt mounts a networkDataSecretRef under the volume name plus this suffix.
NETWORK_SECRET_SUFFIX = "-ndata"


#: KubeVirt mounts an accessCredentials Secret at secret/<secretName> plus this suffix.
ACCESS_CRED_SUFFIX = "-access-cred"


@dataclass(frozen=True)
class CloudInitData:
    user_data: bytes
    network_data: bytes | None = None
    #: SSH public keys from spec.accessCredentials, in KubeVirt's order.
    public_keys: tuple[str, ...] = ()


def instance_id(vmi: VirtualMachineInstance) -> str:
    return f"{vmi.metadata.name}.{vmi.metadata.namespace or 'default'}"


def hostname(vmi: VirtualMachineInstance) -> str:
    return vmi.spec.hostname or vmi.metadata.name or "localhost"


def load_source(volume: str, source: CloudInitSource, secrets_dir: Path) -> CloudInitData:
    """The user and network data of one cloud-init volume, whichever way it is given."""
    user = _one_of(
        volume,
        "userData",
        inline=source.user_data,
        b64=source.user_data_base64,
        secret=source.secret_ref.name if source.secret_ref else None,
        secret_dir=secrets_dir / volume,
        keys=USER_DATA_KEYS,
    )
    network = _one_of(
        volume,
        "networkData",
        inline=source.network_data,
        b64=source.network_data_base64,
        secret=source.network_data_secret_ref.name if source.network_data_secret_ref else None,
        secret_dir=secrets_dir / f"{volume}{NETWORK_SECRET_SUFFIX}",
        keys=NETWORK_DATA_KEYS,
    )
    if user is None:
        raise VolumeError(volume, "no user data: set userData, userDataBase64 or secretRef")
    return CloudInitData(user_data=user, network_data=network)


def _one_of(
    volume: str,
    what: str,
    *,
    inline: str | None,
    b64: str | None,
    secret: str | None,
    secret_dir: Path,
    keys: tuple[str, ...],
) -> bytes | None:
    given = [x for x in (inline, b64, secret) if x is not None]
    if len(given) > 1:
        raise VolumeError(volume, f"set only one of {what}, {what}Base64 and its secret ref")
    if inline is not None:
        return inline.encode()
    if b64 is not None:
        try:
            return base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise VolumeError(volume, f"{what}Base64 is not valid base64") from e
    if secret is not None:
        for key in keys:
            if os.path.lexists(secret_dir / key):
                return safepath.read_inside(secret_dir, key, what=f"secret {secret!r} key")
        raise VolumeError(
            volume, f"secret {secret!r} has none of the keys {keys} (looked in {secret_dir})"
        )
    return None


def access_credential_keys(vmi: VirtualMachineInstance, method: str, secrets_dir: Path,
                           volume: str) -> tuple[str, ...]:
    """The public keys of the sshPublicKey credentials propagated by `method` ("noCloud"
    or "configDrive"): one per non-empty file of each Secret, file names in sorted order
    (KubeVirt's resolveSSHPublicKeys), Secrets in spec order."""
    keys: list[str] = []
    for i, cred in enumerate(vmi.spec.access_credentials or []):
        ssh = cred.ssh_public_key
        if ssh is None or ssh.source.secret is None:
            continue
        how = ssh.propagation_method
        if (how.no_cloud if method == "noCloud" else how.config_drive) is None:
            continue
        secret = ssh.source.secret.secret_name
        where = f"spec.accessCredentials[{i}]"
        if not is_dns_subdomain(secret):
            # Admission refuses it; the launcher makes no path of it without admission either.
            raise VolumeError(volume, f"{where}: secret name {secret!r} is not a DNS-1123 "
                                      "subdomain")
        folder = secrets_dir / f"{secret}{ACCESS_CRED_SUFFIX}"
        try:
            names = sorted(os.listdir(folder))
        except OSError as e:
            raise VolumeError(volume, f"{where}: secret {secret!r} is not mounted at "
                                      f"{folder}: {e.strerror}") from e
        for name in names:
            if name.startswith(".."):  # the kubelet's atomic-writer folders
                continue
            data = safepath.read_inside(folder, name, what=f"secret {secret!r} key")
            text = data.decode(errors="replace").strip()
            if text:
                keys.append(text)
    return tuple(keys)


def _yaml_scalar(value: str) -> str:
    """A double-quoted YAML scalar (JSON's escapes are YAML's)."""
    return json.dumps(value)


def nocloud_files(vmi: VirtualMachineInstance, data: CloudInitData) -> dict[str, bytes]:
    meta = f"instance-id: {instance_id(vmi)}\nlocal-hostname: {hostname(vmi)}\n"
    if data.public_keys:
        meta += "public-keys:\n" + "".join(
            f"  {_yaml_scalar(str(i))}: {_yaml_scalar(key)}\n"
            for i, key in enumerate(data.public_keys))
    files = {"meta-data": meta.encode(), "user-data": data.user_data}
    if data.network_data is not None:
        files["network-config"] = data.network_data
    return files


def config_drive_files(vmi: VirtualMachineInstance, data: CloudInitData) -> dict[str, bytes]:
    meta: dict[str, Any] = {
        "uuid": instance_id(vmi),
        "hostname": hostname(vmi),
        "name": vmi.metadata.name,
    }
    if data.public_keys:
        meta["public_keys"] = {str(i): key for i, key in enumerate(data.public_keys)}
    base = "openstack/latest"
    files = {
        f"{base}/meta_data.json": json.dumps(meta, sort_keys=True).encode(),
        f"{base}/user_data": data.user_data,
    }
    if data.network_data is not None:
        files[f"{base}/network_data.json"] = data.network_data
    return files
