"""Disks and volumes: names resolve both ways, one target and one source each, buses QEMU has.

KubeVirt's rules (vmi-create-admitter, validateDisks / validateVolumes), plus the
limits of the q35 machine virtkube runs: six SATA ports on its AHCI
controller, no CD-ROM on virtio-blk, boot orders unique and positive.

Every name here ends up in a path on a node (vmi-disks/<volume>/, an image in the
store, a file inside the image, the node's own file for hostDisk), so each is
held to its grammar: DNS labels for disk and volume names, KubeVirt's serial
characters, OCI image references, clean absolute paths; and hostDisk, which
reaches the node's files, only behind KubeVirt's HostDisk feature gate.
"""

from __future__ import annotations

import re

from virtkube.api import QuantityError, to_bytes
from virtkube.apiserver.causes import Cause
from virtkube.apiserver.checks.names import (
    Obj,
    dns_label_causes,
    duplicates,
    image_causes,
    items,
    path_causes,
)
from virtkube.apiserver.featuregates import HOST_DISK, Gates

#: The q35 ICH9 AHCI controller has six ports.
SATA_PORTS = 6
#: cloudInit userData / networkData size limits (KubeVirt's cloudInitUserMaxLen etc.).
CLOUD_INIT_USER_MAX = 2048 * 1024
CLOUD_INIT_NETWORK_MAX = 2048 * 1024
_SOURCES = (
    "hostDisk", "persistentVolumeClaim", "cloudInitNoCloud", "cloudInitConfigDrive", "sysprep",
    "containerDisk", "ephemeral", "emptyDisk", "dataVolume", "configMap", "secret",
    "downwardAPI", "serviceAccount", "downwardMetrics", "memoryDump",
)  # fmt: skip
_TARGETS = ("disk", "cdrom", "lun")
#: KubeVirt's validateSerialNumValue / validateSerialNumLength (maxStrLen).
SERIAL = re.compile(r"^[A-Za-z0-9_.+-]+$")
SERIAL_MAX = 256


def _disk_causes(disks: list[Obj], volumes: set[str], base: str) -> list[Cause]:
    causes = list(duplicates(((i, str(d["name"])) for i, d in enumerate(disks)), base, "disk"))
    sata = 0
    for i, disk in enumerate(disks):
        path = f"{base}[{i}]"
        # validateDiskNameAsContainerName: a disk name becomes a container and a path name.
        causes += dns_label_causes(str(disk["name"]), f"{path}.name")
        if disk["name"] not in volumes:
            causes.append(Cause(f"{path}.name",
                                f"no volume named {disk['name']!r} (every disk needs a volume)",
                                "FieldValueNotFound"))
        targets = [t for t in _TARGETS if t in disk]
        if len(targets) > 1:
            causes.append(Cause(path, "can only have a single target type defined, got "
                                      + " and ".join(targets)))
        for kind in targets:
            bus = (disk.get(kind) or {}).get("bus")
            if kind == "cdrom" and bus == "virtio":
                causes.append(Cause(f"{path}.cdrom.bus",
                                    "bus type virtio is invalid for CD-ROM device; use sata "
                                    "or scsi", "FieldValueNotSupported"))
            if bus == "sata":
                sata += 1
                if sata == SATA_PORTS + 1:
                    causes.append(Cause(f"{path}.{kind}.bus",
                                        f"at most {SATA_PORTS} disks and CD-ROMs fit on the "
                                        "sata bus of the q35 machine"))
        boot = disk.get("bootOrder")
        if boot is not None and boot < 1:
            causes.append(Cause(f"{path}.bootOrder", "must have a boot order > 0, if supplied"))
        if disk.get("dedicatedIOThread") and ((disk.get("disk") or {}).get("bus")
                                              not in (None, "virtio")):
            causes.append(Cause(f"{path}.dedicatedIOThread",
                                "a dedicated IO thread is only available on the virtio bus"))
        if disk.get("io") == "native" and disk.get("cache") not in (None, "none"):
            causes.append(Cause(f"{path}.io", "io native needs cache none"))
        causes += _serial_causes(disk.get("serial"), path)
    return causes


def _serial_causes(serial: object, path: str) -> list[Cause]:
    if not serial:
        return []
    if not SERIAL.match(str(serial)):
        return [Cause(f"{path}.serial", f"{path} must be made up of the following characters "
                                        "[A-Za-z0-9_.+-], if specified")]
    if len(str(serial)) > SERIAL_MAX:
        return [Cause(f"{path}.serial", f"{path} must be less than or equal to {SERIAL_MAX} in "
                                        "length, if specified")]
    return []


def _volume_causes(volumes: list[Obj], base: str, gates: Gates) -> list[Cause]:
    causes = list(duplicates(((i, str(v["name"])) for i, v in enumerate(volumes)), base,
                             "volume"))
    for i, volume in enumerate(volumes):
        path = f"{base}[{i}]"
        causes += dns_label_causes(str(volume["name"]), f"{path}.name")
        sources = [s for s in _SOURCES if s in volume]
        if len(sources) != 1:
            got = ", ".join(sources) or "none"
            causes.append(Cause(path, f"must have exactly one source type set, got {got}",
                                "FieldValueRequired" if not sources else "FieldValueInvalid"))
        empty = volume.get("emptyDisk")
        if isinstance(empty, dict):
            causes += _positive(empty.get("capacity"), f"{path}.emptyDisk.capacity")
        host = volume.get("hostDisk")
        if isinstance(host, dict):
            causes += _host_disk_causes(host, f"{path}.hostDisk", gates)
        cd = volume.get("containerDisk")
        if isinstance(cd, dict):
            causes += image_causes(cd.get("image"), f"{path}.containerDisk.image")
            if cd.get("path"):
                causes += path_causes(str(cd["path"]), f"{path}.containerDisk.path")
        for kind in ("cloudInitNoCloud", "cloudInitConfigDrive"):
            ci = volume.get(kind)
            if isinstance(ci, dict):
                causes += _cloud_init(ci, f"{path}.{kind}")
    return causes


def _host_disk_causes(host: Obj, path: str, gates: Gates) -> list[Cause]:
    """KubeVirt's hostDisk rules, and a clean absolute path: the launcher pod mounts the
    file's folder, and the launcher opens that one file there."""
    causes = []
    if HOST_DISK not in gates:
        # KubeVirt's words; the field names the hostDisk itself (KubeVirt: the volume).
        causes.append(Cause(path, f"{HOST_DISK} feature gate is not enabled"))
    file = str(host.get("path") or "")
    if not file:
        causes.append(Cause(f"{path}.path", f"{path}.path is required for hostDisk volume",
                            "FieldValueNotFound"))
    else:
        causes += path_causes(file, f"{path}.path")
        if file.endswith("/") and file != "/":
            causes.append(Cause(f"{path}.path", "must name a file, not a folder"))
    if host.get("type") == "DiskOrCreate" and host.get("capacity") is None:
        causes.append(Cause(f"{path}.capacity", "is required for hostDisk of type DiskOrCreate",
                            "FieldValueRequired"))
    elif host.get("capacity") is not None:
        causes += _positive(host["capacity"], f"{path}.capacity")
    return causes


def _cloud_init(ci: Obj, path: str) -> list[Cause]:
    causes = []
    user = [k for k in ("userData", "userDataBase64", "secretRef") if ci.get(k) is not None]
    net = [k for k in ("networkData", "networkDataBase64", "networkDataSecretRef")
           if ci.get(k) is not None]
    if len(user) > 1:
        causes.append(Cause(f"{path}.{user[1]}", "only one of userData, userDataBase64 and "
                                                 "secretRef may be set"))
    if len(net) > 1:
        causes.append(Cause(f"{path}.{net[1]}", "only one of networkData, networkDataBase64 "
                                                "and networkDataSecretRef may be set"))
    if not user and not net:
        causes.append(Cause(path, "must have one of userData, userDataBase64, secretRef, "
                                  "networkData, networkDataBase64 or networkDataSecretRef",
                            "FieldValueRequired"))
    for key, limit in (("userData", CLOUD_INIT_USER_MAX), ("userDataBase64", CLOUD_INIT_USER_MAX),
                       ("networkData", CLOUD_INIT_NETWORK_MAX),
                       ("networkDataBase64", CLOUD_INIT_NETWORK_MAX)):
        if isinstance(ci.get(key), str) and len(ci[key]) > limit:
            causes.append(Cause(f"{path}.{key}", f"exceeds the {limit} byte limit"))
    if isinstance(ci.get("userDataBase64"), str):
        import base64
        import binascii

        try:
            base64.b64decode(ci["userDataBase64"], validate=True)
        except (binascii.Error, ValueError):
            causes.append(Cause(f"{path}.userDataBase64", "is not valid base64"))
    return causes


def _positive(value: object, field: str) -> list[Cause]:
    try:
        if isinstance(value, int | str) and to_bytes(value) > 0:
            return []
    except QuantityError:
        pass
    return [Cause(field, f"must be a positive quantity, got {value!r}")]


def check(spec: Obj, base: str = "spec", gates: Gates = frozenset()) -> list[Cause]:
    """Disks and volumes of a VMI spec at `base`; `gates`: the cluster's feature gates."""
    disks = items(spec, "domain", "devices", "disks")
    volumes = items(spec, "volumes")
    causes = _disk_causes(disks, {str(v["name"]) for v in volumes},
                          f"{base}.domain.devices.disks")
    causes += _volume_causes(volumes, f"{base}.volumes", gates)
    return causes
