"""spec.volumes: where each disk's data comes from.

A volume is paired with a disk by name. Exactly one source may be set; the
launcher turns the source into a file or block device QEMU can open.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from virtkube.api.base import Empty, KubeVirtModel
from virtkube.api.meta import K8sObject
from virtkube.api.quantity import Quantity

PullPolicy = Literal["Always", "Never", "IfNotPresent"]


class LocalObjectReference(KubeVirtModel):
    """A Secret or ConfigMap in the VMI's namespace."""

    name: str | None = None


class ContainerDiskSource(KubeVirtModel):
    """A container image with an embedded qcow2 or raw disk."""

    image: str
    """The image with the embedded disk."""
    image_pull_secret: str | None = None
    """Name of the registry Secret needed to pull the image."""
    path: str | None = None
    """Path of the disk file inside the container."""
    image_pull_policy: PullPolicy | None = None


class PersistentVolumeClaimVolumeSource(KubeVirtModel):
    """A PVC in the same namespace, attached to the guest directly."""

    claim_name: str
    read_only: bool | None = None
    hotpluggable: bool | None = None
    """Whether the volume can be hotplugged and hotunplugged."""


class EphemeralPVC(KubeVirtModel):
    claim_name: str
    read_only: bool | None = None


class EphemeralVolumeSource(KubeVirtModel):
    """A copy-on-write overlay on a PVC; writes are dropped when the VMI stops."""

    persistent_volume_claim: EphemeralPVC | None = None


class DataVolumeSource(KubeVirtModel):
    name: str
    """Name of both the DataVolume and its PVC in the same namespace."""
    hotpluggable: bool | None = None


class EmptyDiskSource(KubeVirtModel):
    """A temporary sparse disk that lives as long as the VMI."""

    capacity: Quantity
    """Capacity of the sparse disk."""


class HostDisk(KubeVirtModel):
    """A disk image file on the node."""

    path: str
    """Path of the image on the node."""
    type: Literal["Disk", "DiskOrCreate"]
    """Disk: the image must exist; DiskOrCreate: create it if it does not."""
    capacity: Quantity | None = None
    """Capacity of the sparse disk created by DiskOrCreate."""
    shared: bool | None = None
    """Whether the path is shared between nodes."""


class CloudInitSource(KubeVirtModel):
    """Cloud-init user data and network data, inline, base64 or from a Secret."""

    secret_ref: LocalObjectReference | None = None
    """A Secret holding the user data (key userdata or userData)."""
    user_data_base64: str | None = None
    user_data: str | None = None
    network_data_secret_ref: LocalObjectReference | None = None
    network_data_base64: str | None = None
    network_data: str | None = None


class CloudInitNoCloudSource(CloudInitSource):
    """Cloud-init NoCloud data, attached as a `cidata` disk."""


class CloudInitConfigDriveSource(CloudInitSource):
    """Cloud-init ConfigDrive data, attached as a `config-2` disk."""


class ConfigMapVolumeSource(KubeVirtModel):
    """A ConfigMap exposed to the guest as a disk."""

    name: str | None = None
    optional: bool | None = None
    volume_label: str | None = None
    """Volume label of the disk inside the guest (e.g. cidata, config-2, OEMDRV)."""


class SecretVolumeSource(KubeVirtModel):
    """A Secret exposed to the guest as a disk."""

    secret_name: str | None = None
    optional: bool | None = None
    volume_label: str | None = None


class ServiceAccountVolumeSource(KubeVirtModel):
    """A ServiceAccount token exposed to the guest as a disk (at most one)."""

    service_account_name: str | None = None


class DownwardAPIVolumeSource(KubeVirtModel):
    fields: list[K8sObject] | None = None
    """core/v1 DownwardAPIVolumeFile items."""
    volume_label: str | None = None


class SysprepSource(KubeVirtModel):
    """A Windows answer file (autounattend.xml), attached as a CD-ROM."""

    secret: LocalObjectReference | None = None
    config_map: LocalObjectReference | None = None


class MemoryDumpVolumeSource(KubeVirtModel):
    claim_name: str
    read_only: bool | None = None
    hotpluggable: bool | None = None


class Volume(KubeVirtModel):
    """A named volume; the disk of the same name presents it to the guest."""

    name: str
    """Volume name: a DNS_LABEL, unique within the VMI."""
    host_disk: HostDisk | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    cloud_init_no_cloud: CloudInitNoCloudSource | None = None
    cloud_init_config_drive: CloudInitConfigDriveSource | None = None
    sysprep: SysprepSource | None = None
    container_disk: ContainerDiskSource | None = None
    ephemeral: EphemeralVolumeSource | None = None
    empty_disk: EmptyDiskSource | None = None
    data_volume: DataVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = Field(default=None, alias="downwardAPI")
    service_account: ServiceAccountVolumeSource | None = None
    downward_metrics: Empty | None = None
    memory_dump: MemoryDumpVolumeSource | None = None


class UtilityVolume(KubeVirtModel):
    """A PVC mounted into the launcher pod only (memory dumps, backups)."""

    name: str
    claim_name: str
    read_only: bool | None = None
    type: Literal["MemoryDump", "Backup"] | None = None
