"""Every KubeVirt example of a modelled kind parses, round-trips and fits its CRD."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.api.examples import BY_KIND, LATER, example_files, example_params, load
from tests.unit.api.openapi import validation_errors
from virtkube.api import VirtualMachine, VirtualMachineInstance
from virtkube.api.crdgen import object_schema


@pytest.mark.parametrize("path", example_params())
def test_example_round_trips(path: Path) -> None:
    document = load(path)
    model = BY_KIND[document["kind"]]
    assert model.model_validate(document).to_dict() == document


@pytest.mark.parametrize("path", example_params())
def test_example_fits_the_crd_schema(path: Path) -> None:
    document = load(path)
    assert validation_errors(document, object_schema(BY_KIND[document["kind"]])) == []


def test_every_example_kind_is_modelled_or_explicitly_later() -> None:
    kinds = {load(path)["kind"] for path in example_files()}
    assert kinds <= BY_KIND.keys() | LATER.keys()


@pytest.fixture
def fedora() -> VirtualMachineInstance:
    path = next((p for p in example_files() if p.name == "vmi-fedora.yaml"), None)
    if path is None:
        pytest.skip("the shared kubevirt-examples are absent")
    return VirtualMachineInstance.model_validate(load(path))


def test_vmi_fields_are_reachable_by_python_names(fedora: VirtualMachineInstance) -> None:
    spec = fedora.spec
    assert fedora.metadata.name == "vmi-fedora"
    assert spec.domain.memory is not None and spec.domain.memory.guest == "1024M"
    disks = spec.domain.devices.disks or []
    assert [(d.name, d.disk and d.disk.bus) for d in disks] == [
        ("containerdisk", "virtio"),
        ("cloudinitdisk", "virtio"),
    ]
    interface = (spec.domain.devices.interfaces or [])[0]
    assert interface.masquerade is not None and interface.bridge is None
    assert spec.termination_grace_period_seconds == 0
    volume = (spec.volumes or [])[1]
    assert volume.cloud_init_no_cloud is not None
    assert (volume.cloud_init_no_cloud.user_data or "").startswith("#cloud-config")


def test_objects_can_be_built_in_python_without_type_meta() -> None:
    vmi = VirtualMachineInstance.model_validate(
        {"metadata": {"name": "a"}, "spec": {"domain": {"devices": {}}}}
    )
    assert vmi.to_dict() == {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "a"},
        "spec": {"domain": {"devices": {}}},
    }


def test_status_round_trips_unmodelled_fields() -> None:
    vm = VirtualMachine.model_validate(
        {
            "metadata": {"name": "vm"},
            "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}},
            "status": {
                "printableStatus": "Running",
                "ready": True,
                "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None}],
                "someFutureField": {"x": 1},
            },
        }
    )
    assert vm.status is not None and vm.status.printable_status == "Running"
    assert vm.to_dict()["status"] == {
        "printableStatus": "Running",
        "ready": True,
        "conditions": [{"type": "Ready", "status": "True"}],
        "someFutureField": {"x": 1},
    }
