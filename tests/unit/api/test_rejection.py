"""Unknown or invalid fields are rejected, and the error names the field's path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from virtkube.api import (
    VirtualMachine,
    VirtualMachineInstance,
    VirtualMachineInstanceMigration,
    field_errors,
)

VMI: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstance",
    "metadata": {"name": "vmi"},
    "spec": {
        "domain": {
            "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
            "memory": {"guest": "128Mi"},
        },
        "volumes": [{"name": "root", "containerDisk": {"image": "example/disk"}}],
    },
}


def errors_of(model: type[Any], document: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(document)
    return [str(error) for error in field_errors(caught.value)]


def with_change(path: list[str | int], key: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VMI)
    node: Any = document
    for part in path:
        node = node[part]
    node[key] = value
    return document


@pytest.mark.parametrize(
    ("path", "key", "value", "expected"),
    [
        (
            ["spec", "domain", "devices", "disks", 0],
            "frobnicate",
            True,
            "spec.domain.devices.disks[0].frobnicate: unknown field (not supported by virtkube)",
        ),
        (
            ["spec", "domain", "devices", "disks", 0, "disk"],
            "bus",
            "ide",
            "spec.domain.devices.disks[0].disk.bus: Input should be 'virtio', 'sata', 'scsi' or"
            " 'usb'",
        ),
        (
            ["spec", "domain"],
            "gpuPassthrough",
            {},
            "spec.domain.gpuPassthrough: unknown field (not supported by virtkube)",
        ),
        (
            ["spec", "volumes", 0],
            "nfs",
            {"server": "x"},
            "spec.volumes[0].nfs: unknown field (not supported by virtkube)",
        ),
        (
            ["spec", "domain", "memory"],
            "guest",
            "lots",
            "spec.domain.memory.guest: Value error, quantities must match the regular expression",
        ),
    ],
)
def test_bad_vmi_field_is_named(path: list[str | int], key: str, value: Any, expected: str) -> None:
    errors = errors_of(VirtualMachineInstance, with_change(path, key, value))
    assert len(errors) == 1
    assert errors[0].startswith(expected)


def test_unknown_field_inside_vm_template() -> None:
    vm = {
        "metadata": {"name": "vm"},
        "spec": {"runStrategy": "Halted", "template": {"spec": {**VMI["spec"], "extra": 1}}},
    }
    assert errors_of(VirtualMachine, vm) == [
        "spec.template.spec.extra: unknown field (not supported by virtkube)"
    ]


def test_wrong_kind_and_version_are_rejected() -> None:
    document = {**VMI, "apiVersion": "kubevirt.io/v1alpha3", "kind": "VirtualMachine"}
    assert errors_of(VirtualMachineInstance, document) == [
        "apiVersion: Value error, must be 'kubevirt.io/v1'",
        "kind: Value error, must be 'VirtualMachineInstance'",
    ]


def test_missing_required_field_is_named() -> None:
    assert errors_of(VirtualMachineInstanceMigration, {"spec": {"sendTo": {}}}) == [
        "spec.sendTo.connectionURL: Field required",
        "spec.sendTo.migrationID: Field required",
    ]


def test_metadata_keeps_fields_it_does_not_model() -> None:
    document = with_change(["metadata"], "selfLink", "/apis/x")
    assert VirtualMachineInstance.model_validate(document).to_dict() == document


def test_quantity_keeps_the_users_spelling_and_rejects_bools() -> None:
    vmi = VirtualMachineInstance.model_validate(
        with_change(["spec", "domain", "memory"], "guest", 134217728)
    )
    assert vmi.spec.domain.memory is not None and vmi.spec.domain.memory.guest == 134217728
    errors = errors_of(
        VirtualMachineInstance, with_change(["spec", "domain", "memory"], "guest", True)
    )
    assert errors and all(e.startswith("spec.domain.memory.guest") for e in errors)
