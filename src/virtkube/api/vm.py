"""The VirtualMachine kind: a guest that persists across starts and stops.

A VM holds a VMI template and a run strategy; virt-controller creates and
deletes the VMI from it, provisions its DataVolumes, and summarises the VMI in
the VM's status (`printableStatus`, `ready`, conditions).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from virtkube.api.base import KubeVirtModel, OpenModel
from virtkube.api.conditions import READY, Condition
from virtkube.api.kind import AGE_COLUMN, KubeVirtObject, PrinterColumn, condition_column
from virtkube.api.meta import K8sObject, ObjectMeta, Timestamp
from virtkube.api.vmi import VirtualMachineInstanceSpec

RunStrategy = Literal["Always", "RerunOnFailure", "Manual", "Halted", "Once", "WaitAsReceiver"]

#: VM status.printableStatus, in the order virt-controller picks them, then Unknown.
PrintableStatus = Literal[
    "Terminating",
    "Stopping",
    "Migrating",
    "Paused",
    "Running",
    "ErrorPvcNotFound",
    "DataVolumeError",
    "ErrorUnschedulable",
    "Provisioning",
    "WaitingForVolumeBinding",
    "ErrImagePull",
    "ImagePullBackOff",
    "Starting",
    "CrashLoopBackOff",
    "Stopped",
    "WaitingForReceiver",
    "Unknown",
]


class InstancetypeMatcher(KubeVirtModel):
    """Which instancetype (or preference) the VM uses."""

    name: str | None = None
    """Name of the VirtualMachineInstancetype or VirtualMachineClusterInstancetype."""
    kind: str | None = None
    """VirtualMachineInstancetype or VirtualMachineClusterInstancetype (the default)."""
    revision_name: str | None = None
    """The ControllerRevision holding the copy the VM is pinned to."""
    infer_from_volume: str | None = None
    """Infer the name from the labels of this volume's PVC or DataVolume."""
    infer_from_volume_failure_policy: Literal["Reject", "Ignore"] | None = None


class VirtualMachineInstanceTemplateSpec(KubeVirtModel):
    """The VMI the VM creates: its metadata and spec."""

    metadata: ObjectMeta | None = None
    spec: VirtualMachineInstanceSpec | None = None


class DataVolumeSpec(KubeVirtModel):
    """cdi.kubevirt.io/v1beta1 DataVolumeSpec: the source to import and the PVC to fill."""

    source: K8sObject | None = None
    """One of http, s3, gcs, registry, pvc, upload, blank, imageio, vddk, snapshot."""
    source_ref: K8sObject | None = None
    """A DataSource to import from."""
    pvc: K8sObject | None = None
    """core/v1 PersistentVolumeClaimSpec of the PVC to create."""
    storage: K8sObject | None = None
    """CDI StorageSpec: like pvc, with defaults filled in by CDI."""
    priority_class_name: str | None = None
    content_type: Literal["kubevirt", "archive"] | None = None
    checkpoints: list[K8sObject] | None = None
    final_checkpoint: bool | None = None
    preallocation: bool | None = None


class DataVolumeTemplateSpec(KubeVirtModel):
    """A DataVolume the VM creates and owns before its VMI starts."""

    api_version: str | None = None
    """Ignored; kept for backwards compatibility."""
    kind: str | None = None
    """Ignored; kept for backwards compatibility."""
    metadata: ObjectMeta | None = None
    spec: DataVolumeSpec
    status: K8sObject | None = None
    """Ignored; kept for backwards compatibility."""


class VirtualMachineSpec(KubeVirtModel):
    """The desired VM: when it runs and what its VMI looks like."""

    running: bool | None = None
    """Deprecated: use runStrategy. Mutually exclusive with it."""
    run_strategy: RunStrategy | None = None
    """When the VMI should run: Always, RerunOnFailure, Manual, Halted, Once."""
    instancetype: InstancetypeMatcher | None = None
    preference: InstancetypeMatcher | None = None
    template: VirtualMachineInstanceTemplateSpec
    """The VMI created when the VM starts."""
    data_volume_templates: list[DataVolumeTemplateSpec] | None = None
    """DataVolumes created with the VM and deleted with it."""
    update_volumes_strategy: Literal["Replacement", "Migration"] | None = None


class StateChangeRequest(OpenModel):
    """A start or stop asked for through a subresource, not yet acted on."""

    action: Literal["Start", "Stop"]
    data: dict[str, str] | None = None
    uid: str | None = None
    """The UID of the VMI the request is about."""


class StartFailure(OpenModel):
    """Crash-loop back-off bookkeeping."""

    consecutive_fail_count: int | None = None
    last_failed_vmi_uid: str | None = Field(default=None, alias="lastFailedVMIUID")
    retry_after_timestamp: Timestamp | None = None


class VirtualMachineStatus(OpenModel):
    """What virt-controller observed about the VM and its VMI."""

    created: bool | None = None
    """Whether a VMI exists for this VM."""
    ready: bool | None = None
    """Whether the VMI is running and ready."""
    printable_status: PrintableStatus | None = None
    """A human readable summary of the VM's state (kubectl get vm STATUS)."""
    conditions: list[Condition] | None = None
    state_change_requests: list[StateChangeRequest] | None = None
    volume_requests: list[K8sObject] | None = None
    memory_dump_request: K8sObject | None = None
    snapshot_in_progress: str | None = None
    restore_in_progress: str | None = None
    volume_snapshot_statuses: list[K8sObject] | None = None
    start_failure: StartFailure | None = None
    observed_generation: int | None = None
    desired_generation: int | None = None
    run_strategy: RunStrategy | None = None
    """The run strategy last acted upon."""
    volume_update_state: K8sObject | None = None
    instancetype_ref: K8sObject | None = None
    preference_ref: K8sObject | None = None
    changed_block_tracking: K8sObject | None = None


class VirtualMachine(KubeVirtObject):
    """A virtual machine: a VMI template plus when it should run."""

    KIND: ClassVar[str] = "VirtualMachine"
    PLURAL: ClassVar[str] = "virtualmachines"
    SINGULAR: ClassVar[str] = "virtualmachine"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("vm", "vms")
    STATUS_SUBRESOURCE: ClassVar[bool] = True
    PRINTER_COLUMNS: ClassVar[tuple[PrinterColumn, ...]] = (
        AGE_COLUMN,
        PrinterColumn(
            name="Status", json_path=".status.printableStatus", description="Human Readable Status"
        ),
        condition_column("Ready", READY),
    )

    spec: VirtualMachineSpec
    status: VirtualMachineStatus | None = None
