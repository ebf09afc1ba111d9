"""virtkube.api: the kubevirt.io/v1 types, the bottom layer every process imports.

Models parse KubeVirt manifests unchanged (camelCase JSON names, snake_case
Python attributes), reject what they do not understand with the field's path,
and serialise back to the same JSON with `to_dict()`. The CRDs are generated
from them (`virtkube.api.crdgen`).
"""

from virtkube.api.base import KubeVirtModel, OpenModel
from virtkube.api.conditions import Condition, ConditionStatus, find_condition, is_true
from virtkube.api.errors import FieldError, field_errors, field_path
from virtkube.api.kind import KubeVirtObject, PrinterColumn
from virtkube.api.kubevirt import KubeVirt
from virtkube.api.meta import ObjectMeta, OwnerReference, timestamp
from virtkube.api.migration import (
    MigrationPhase,
    MigrationState,
    VirtualMachineInstanceMigration,
    VirtualMachineInstanceMigrationSpec,
    VirtualMachineInstanceMigrationStatus,
)
from virtkube.api.quantity import Quantity, QuantityError, parse_quantity, to_bytes, to_millicores
from virtkube.api.vm import (
    PrintableStatus,
    RunStrategy,
    VirtualMachine,
    VirtualMachineSpec,
    VirtualMachineStatus,
)
from virtkube.api.vmi import (
    VirtualMachineInstance,
    VirtualMachineInstanceSpec,
    VirtualMachineInstanceStatus,
    VMIPhase,
)

#: The kinds with a CRD, in the order they are installed.
KINDS: tuple[type[KubeVirtObject], ...] = (
    VirtualMachineInstance,
    VirtualMachine,
    VirtualMachineInstanceMigration,
    KubeVirt,
)

__all__ = [
    "KINDS",
    "Condition",
    "ConditionStatus",
    "FieldError",
    "KubeVirt",
    "KubeVirtModel",
    "KubeVirtObject",
    "MigrationPhase",
    "MigrationState",
    "ObjectMeta",
    "OpenModel",
    "OwnerReference",
    "PrintableStatus",
    "PrinterColumn",
    "Quantity",
    "QuantityError",
    "RunStrategy",
    "VMIPhase",
    "VirtualMachine",
    "VirtualMachineInstance",
    "VirtualMachineInstanceMigration",
    "VirtualMachineInstanceMigrationSpec",
    "VirtualMachineInstanceMigrationStatus",
    "VirtualMachineInstanceSpec",
    "VirtualMachineInstanceStatus",
    "VirtualMachineSpec",
    "VirtualMachineStatus",
    "field_errors",
    "field_path",
    "find_condition",
    "is_true",
    "parse_quantity",
    "timestamp",
    "to_bytes",
    "to_millicores",
]
