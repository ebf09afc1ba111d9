"""Status conditions of the kubevirt.io kinds, and the condition types KubeVirt uses.

VM, VMI and VMIM conditions have one shape (KubeVirt declares three identical
Go structs). The type stays a plain string: a VMI also carries the launcher
pod's conditions (PodScheduled) and the VM copies every VMI condition.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeVar

from virtkube.api.base import OpenModel
from virtkube.api.meta import Timestamp

ConditionStatus = Literal["True", "False", "Unknown"]

# VMI condition types (types.go VirtualMachineInstanceConditionType).
READY = "Ready"
PROVISIONING = "Provisioning"
SYNCHRONIZED = "Synchronized"
PAUSED = "Paused"
AGENT_CONNECTED = "AgentConnected"
LIVE_MIGRATABLE = "LiveMigratable"
STORAGE_LIVE_MIGRATABLE = "StorageLiveMigratable"
DATA_VOLUMES_READY = "DataVolumesReady"
SOFTWARE_EMULATION = "SoftwareEmulation"
EVICTION_REQUESTED = "EvictionRequested"
#: Copied from the launcher pod by virt-controller (reason Unschedulable).
POD_SCHEDULED = "PodScheduled"

# VM-only condition types.
FAILURE = "Failure"
RESTART_REQUIRED = "RestartRequired"
MANUAL_RECOVERY_REQUIRED = "ManualRecoveryRequired"

# VMIM condition types (lower camel case in KubeVirt).
MIGRATION_ABORT_REQUESTED = "migrationAbortRequested"
MIGRATION_REJECTED_BY_RESOURCE_QUOTA = "migrationRejectedByResourceQuota"


class Condition(OpenModel):
    """One observed condition of an object."""

    type: str
    status: ConditionStatus
    last_probe_time: Timestamp | None = None
    last_transition_time: Timestamp | None = None
    reason: str | None = None
    """A brief CamelCase reason for the condition's last transition."""
    message: str | None = None
    """A human readable message indicating details about the transition."""


C = TypeVar("C", bound=Condition)


def find_condition(conditions: Iterable[C] | None, condition_type: str) -> C | None:
    """The condition of `condition_type`, if present."""
    return next((c for c in conditions or () if c.type == condition_type), None)


def is_true(conditions: Iterable[Condition] | None, condition_type: str) -> bool:
    """Whether the condition of `condition_type` is present with status True."""
    found = find_condition(conditions, condition_type)
    return found is not None and found.status == "True"
