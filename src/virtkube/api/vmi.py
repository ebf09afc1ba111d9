"""The VirtualMachineInstance kind: one running (or about to run) guest.

A VMI is the unit virt-controller schedules as a launcher pod, virt-handler
syncs to its node and virt-launcher runs as a QEMU process. Unlike the VM and
the migration, KubeVirt gives it no `/status` subresource: its status is
written with ordinary updates.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from virtkube.api.base import Empty, KubeVirtModel, OpenModel
from virtkube.api.conditions import LIVE_MIGRATABLE, PAUSED, READY, Condition
from virtkube.api.credentials import AccessCredential
from virtkube.api.domain import CPU, DomainSpec, Machine
from virtkube.api.kind import AGE_COLUMN, KubeVirtObject, PrinterColumn, condition_column
from virtkube.api.meta import K8sObject, Timestamp
from virtkube.api.migration import MigrationState
from virtkube.api.network import Network
from virtkube.api.quantity import Quantity
from virtkube.api.volumes import UtilityVolume, Volume

#: VMI status.phase. "" is a VMI nobody has looked at yet.
VMIPhase = Literal[
    "",
    "Pending",
    "Scheduling",
    "Scheduled",
    "Running",
    "Succeeded",
    "Failed",
    "Unknown",
    "WaitingForSync",
]
EvictionStrategy = Literal["None", "LiveMigrate", "LiveMigrateIfPossible", "External"]


class Probe(KubeVirtModel):
    """A liveness or readiness check of the guest. Exactly one handler may be set."""

    exec: K8sObject | None = None
    """core/v1 ExecAction, run in the guest through the guest agent."""
    http_get: K8sObject | None = Field(default=None, alias="httpGet")
    """core/v1 HTTPGetAction against the guest."""
    tcp_socket: K8sObject | None = None
    """core/v1 TCPSocketAction against the guest."""
    guest_agent_ping: Empty | None = None
    """Healthy while the guest agent answers pings."""
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None


class ResourceClaim(KubeVirtModel):
    """A DRA ResourceClaim (or template) the launcher pod must get (alpha)."""

    name: str
    resource_claim_name: str | None = None
    resource_claim_template_name: str | None = None


class VirtualMachineInstanceSpec(KubeVirtModel):
    """The desired guest: its virtual hardware, volumes, networks and scheduling."""

    priority_class_name: str | None = None
    """The priority class of the launcher pod."""
    domain: DomainSpec
    """Specification of the desired behaviour of the VirtualMachineInstance on the host."""
    node_selector: dict[str, str] | None = None
    """Labels a node must have for the VMI to be scheduled on it."""
    affinity: K8sObject | None = None
    """core/v1 Affinity of the launcher pod."""
    scheduler_name: str | None = None
    service_account_name: str | None = None
    """ServiceAccount of the launcher pod (not exposed to the guest)."""
    tolerations: list[K8sObject] | None = None
    """core/v1 Tolerations of the launcher pod."""
    topology_spread_constraints: list[K8sObject] | None = None
    eviction_strategy: EvictionStrategy | None = None
    """What a node drain does to the VMI: None, LiveMigrate, LiveMigrateIfPossible, External."""
    start_strategy: Literal["Paused"] | None = None
    """Paused starts the guest paused."""
    termination_grace_period_seconds: int | None = None
    """Grace period after asking the guest to stop, before it is forced off."""
    volumes: list[Volume] | None = Field(default=None, max_length=256)
    """Volumes that disks can refer to."""
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    hostname: str | None = None
    """The guest's hostname; defaults to the VMI name."""
    subdomain: str | None = None
    """Gives the VMI the FQDN <hostname>.<subdomain>.<namespace>.svc.<cluster domain>."""
    networks: list[Network] | None = Field(default=None, max_length=256)
    """Networks that interfaces can connect to."""
    dns_policy: Literal["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"] | None = None
    """DNS policy of the launcher pod. Defaults to ClusterFirst."""
    dns_config: K8sObject | None = None
    """core/v1 PodDNSConfig of the launcher pod."""
    access_credentials: list[AccessCredential] | None = Field(default=None, max_length=256)
    architecture: str | None = None
    """Guest architecture (amd64, arm64, s390x). Defaults to the cluster's."""
    resource_claims: list[ResourceClaim] | None = None
    utility_volumes: list[UtilityVolume] | None = Field(default=None, max_length=256)


class PhaseTransition(OpenModel):
    phase: VMIPhase | None = None
    phase_transition_timestamp: Timestamp | None = None


class VMINetworkInterface(OpenModel):
    """What the guest's interface looks like from the outside."""

    ip_address: str | None = None
    """The first IP address of the interface."""
    mac: str | None = None
    name: str | None = None
    """The network (and spec interface) name."""
    ip_addresses: list[str] | None = None
    pod_interface_name: str | None = None
    interface_name: str | None = None
    """Interface name inside the guest."""
    info_source: str | None = None
    """Where the data came from: domain, guest-agent, multus-status."""
    queue_count: int | None = None
    link_state: Literal["up", "down"] | None = None


class GuestOSInfo(OpenModel):
    """The guest OS, as reported by the guest agent."""

    name: str | None = None
    kernel_release: str | None = None
    version: str | None = None
    pretty_name: str | None = None
    version_id: str | None = None
    kernel_version: str | None = None
    machine: str | None = None
    id: str | None = None


class VolumeStatus(OpenModel):
    name: str
    target: str
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    persistent_volume_claim_info: K8sObject | None = None
    hotplug_volume: K8sObject | None = None
    size: int | None = None
    memory_dump_volume: K8sObject | None = None
    container_disk_volume: K8sObject | None = None


class MemoryStatus(OpenModel):
    guest_at_boot: Quantity | None = None
    guest_current: Quantity | None = None
    guest_requested: Quantity | None = None


class VirtualMachineInstanceStatus(OpenModel):
    """What the controllers observed about the VMI. May trail the real state."""

    node_name: str | None = None
    """The node the VMI runs on."""
    reason: str | None = None
    """A brief CamelCase reason for the current phase, e.g. NodeUnresponsive."""
    conditions: list[Condition] | None = None
    phase: VMIPhase | None = None
    phase_transition_timestamps: list[PhaseTransition] | None = None
    interfaces: list[VMINetworkInterface] | None = None
    guest_os_info: GuestOSInfo | None = Field(default=None, alias="guestOSInfo")
    migration_state: MigrationState | None = None
    migration_method: Literal["BlockMigration", "LiveMigration"] | None = None
    migration_transport: str | None = None
    qos_class: Literal["Guaranteed", "Burstable", "BestEffort"] | None = None
    launcher_container_image_version: str | None = None
    """The launcher image currently running this VMI."""
    evacuation_node_name: str | None = None
    active_pods: dict[str, str] | None = None
    """Launcher pod UID -> node name (two pods during a migration)."""
    volume_status: list[VolumeStatus] | None = None
    kernel_boot_status: K8sObject | None = None
    fs_freeze_status: str | None = None
    topology_hints: K8sObject | None = None
    virtual_machine_revision_name: str | None = None
    runtime_user: int | None = None
    vsockcid: int | None = Field(default=None, alias="VSOCKCID")
    selinux_context: str | None = None
    machine: Machine | None = None
    """The machine type QEMU resolved the spec's machine type to."""
    current_cpu_topology: CPU | None = Field(default=None, alias="currentCPUTopology")
    memory: MemoryStatus | None = None
    migrated_volumes: list[K8sObject] | None = None
    changed_block_tracking: K8sObject | None = None


class VirtualMachineInstance(KubeVirtObject):
    """A virtual machine instance: one guest running in one launcher pod."""

    KIND: ClassVar[str] = "VirtualMachineInstance"
    PLURAL: ClassVar[str] = "virtualmachineinstances"
    SINGULAR: ClassVar[str] = "virtualmachineinstance"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("vmi", "vmis")
    STATUS_SUBRESOURCE: ClassVar[bool] = False
    PRINTER_COLUMNS: ClassVar[tuple[PrinterColumn, ...]] = (
        AGE_COLUMN,
        PrinterColumn(name="Phase", json_path=".status.phase"),
        PrinterColumn(name="IP", json_path=".status.interfaces[0].ipAddress"),
        PrinterColumn(name="NodeName", json_path=".status.nodeName"),
        condition_column("Ready", READY),
        condition_column("Live-Migratable", LIVE_MIGRATABLE, priority=1),
        condition_column("Paused", PAUSED, priority=1),
    )

    spec: VirtualMachineInstanceSpec
    status: VirtualMachineInstanceStatus | None = None
