"""Live migration: the VirtualMachineInstanceMigration kind and a VMI's migrationState.

A VMIM asks for one VMI to move to another node; virt-controller creates the
target pod, the two virt-handlers move the guest, and the progress is recorded
both in the VMIM's status and in the VMI's `status.migrationState`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from virtkube.api.base import KubeVirtModel, OpenModel
from virtkube.api.conditions import Condition
from virtkube.api.kind import KubeVirtObject, PrinterColumn
from virtkube.api.meta import K8sObject, Timestamp
from virtkube.api.quantity import Quantity

MigrationPhase = Literal[
    "",
    "Pending",
    "Scheduling",
    "Scheduled",
    "PreparingTarget",
    "TargetReady",
    "Running",
    "Succeeded",
    "Failed",
    "WaitingForSync",
    "Synchronizing",
]


class MigrationState(OpenModel):
    """The state of a VMI's current or last migration (VMI status.migrationState)."""

    start_timestamp: Timestamp | None = None
    """The time the migration action began."""
    end_timestamp: Timestamp | None = None
    """The time the migration action ended."""
    target_node_domain_ready_timestamp: Timestamp | None = None
    target_node_domain_detected: bool | None = None
    """The target node has seen the domain start event."""
    target_node_address: str | None = None
    target_direct_migration_node_ports: dict[str, int] | None = None
    target_node: str | None = None
    target_pod: str | None = None
    target_attachment_pod_uid: str | None = Field(default=None, alias="targetAttachmentPodUID")
    source_node: str | None = None
    source_pod: str | None = None
    completed: bool | None = None
    failed: bool | None = None
    failure_reason: str | None = None
    abort_requested: bool | None = None
    abort_status: Literal["Succeeded", "Failed", "Aborting"] | None = None
    migration_uid: str | None = None
    """The VirtualMachineInstanceMigration this state belongs to."""
    mode: Literal["PreCopy", "PostCopy", "Paused"] | None = None
    migration_policy_name: str | None = None
    migration_configuration: K8sObject | None = None
    target_cpu_set: list[int] | None = Field(default=None, alias="targetCPUSet")
    target_node_topology: str | None = None
    target_memory_overhead: Quantity | None = None
    source_persistent_state_pvc_name: str | None = Field(
        default=None, alias="sourcePersistentStatePVCName"
    )
    target_persistent_state_pvc_name: str | None = Field(
        default=None, alias="targetPersistentStatePVCName"
    )
    source_state: K8sObject | None = None
    target_state: K8sObject | None = None
    migration_network_type: Literal["Pod", "Migration"] | None = None


class MigrationSendTo(KubeVirtModel):
    """Decentralized migration: where the source sends the VMI."""

    connection_url: str = Field(alias="connectionURL")
    migration_id: str = Field(alias="migrationID")


class MigrationReceive(KubeVirtModel):
    """Decentralized migration: the migration this target receives."""

    migration_id: str = Field(alias="migrationID")


class VirtualMachineInstanceMigrationSpec(KubeVirtModel):
    vmi_name: str | None = None
    """The name of the VMI to migrate."""
    added_node_selector: dict[str, str] | None = None
    """Node selector labels added to the target pod, to steer it to particular nodes."""
    send_to: MigrationSendTo | None = None
    receive: MigrationReceive | None = None
    priority: str | None = None


class PhaseTransitionTimestamp(OpenModel):
    phase: str | None = None
    phase_transition_timestamp: Timestamp | None = None


class VirtualMachineInstanceMigrationStatus(OpenModel):
    phase: MigrationPhase | None = None
    phase_transition_timestamps: list[PhaseTransitionTimestamp] | None = None
    conditions: list[Condition] | None = None
    migration_state: MigrationState | None = None
    synchronization_addresses: list[str] | None = None


class VirtualMachineInstanceMigration(KubeVirtObject):
    """A request to live-migrate one VMI to another node; delete it to cancel."""

    KIND: ClassVar[str] = "VirtualMachineInstanceMigration"
    PLURAL: ClassVar[str] = "virtualmachineinstancemigrations"
    SINGULAR: ClassVar[str] = "virtualmachineinstancemigration"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("vmim", "vmims")
    STATUS_SUBRESOURCE: ClassVar[bool] = True
    PRINTER_COLUMNS: ClassVar[tuple[PrinterColumn, ...]] = (
        PrinterColumn(
            name="Phase",
            json_path=".status.phase",
            description="The current phase of VM instance migration",
        ),
        PrinterColumn(
            name="VMI",
            json_path=".spec.vmiName",
            description="The name of the VMI to perform the migration on",
        ),
    )

    spec: VirtualMachineInstanceMigrationSpec
    status: VirtualMachineInstanceMigrationStatus | None = None
