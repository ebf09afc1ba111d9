"""The generated CRDs: structural, KubeVirt's names and columns, and committed up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.api.openapi import structural_problems, validation_errors
from virtkube.api.crdgen import all_crds, main, rendered_files

REPO = Path(__file__).resolve().parents[3]
CRDS = {crd["spec"]["names"]["kind"]: crd for crd in all_crds()}


def version(kind: str) -> dict[str, Any]:
    (only,) = CRDS[kind]["spec"]["versions"]
    assert isinstance(only, dict)
    return only


def schema(kind: str) -> dict[str, Any]:
    result = version(kind)["schema"]["openAPIV3Schema"]
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural(kind: str) -> None:
    assert structural_problems(schema(kind)) == []


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_object_metadata_is_plain_object(kind: str) -> None:
    assert schema(kind)["properties"]["metadata"] == {"type": "object"}


def test_template_metadata_is_kept_whole() -> None:
    template = schema("VirtualMachine")["properties"]["spec"]["properties"]["template"]
    assert template["properties"]["metadata"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_quantities_are_int_or_string() -> None:
    domain = schema("VirtualMachineInstance")["properties"]["spec"]["properties"]["domain"]
    guest = domain["properties"]["memory"]["properties"]["guest"]
    requests = domain["properties"]["resources"]["properties"]["requests"]
    for node in (guest, requests["additionalProperties"]):
        assert node["x-kubernetes-int-or-string"] is True
        assert "type" not in node


def test_status_keeps_unknown_fields() -> None:
    for kind in CRDS:
        assert schema(kind)["properties"]["status"]["x-kubernetes-preserve-unknown-fields"]


@pytest.mark.parametrize(
    ("kind", "plural", "short_names", "status_subresource"),
    [
        ("VirtualMachine", "virtualmachines", ["vm", "vms"], True),
        ("VirtualMachineInstance", "virtualmachineinstances", ["vmi", "vmis"], False),
        (
            "VirtualMachineInstanceMigration",
            "virtualmachineinstancemigrations",
            ["vmim", "vmims"],
            True,
        ),
    ],
)
def test_names_scope_and_subresources(
    kind: str, plural: str, short_names: list[str], status_subresource: bool
) -> None:
    crd = CRDS[kind]
    assert crd["metadata"]["name"] == f"{plural}.kubevirt.io"
    assert crd["spec"]["names"]["plural"] == plural
    assert crd["spec"]["names"]["shortNames"] == short_names
    assert crd["spec"]["names"]["categories"] == ["all"]
    assert crd["spec"]["scope"] == "Namespaced"
    assert ("subresources" in version(kind)) is status_subresource


READY = ".status.conditions[?(@.type=='Ready')].status"


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        (
            "VirtualMachine",
            [
                ("Age", ".metadata.creationTimestamp", 0),
                ("Status", ".status.printableStatus", 0),
                ("Ready", READY, 0),
            ],
        ),
        (
            "VirtualMachineInstance",
            [
                ("Age", ".metadata.creationTimestamp", 0),
                ("Phase", ".status.phase", 0),
                ("IP", ".status.interfaces[0].ipAddress", 0),
                ("NodeName", ".status.nodeName", 0),
                ("Ready", READY, 0),
                ("Live-Migratable", ".status.conditions[?(@.type=='LiveMigratable')].status", 1),
                ("Paused", ".status.conditions[?(@.type=='Paused')].status", 1),
            ],
        ),
        (
            "VirtualMachineInstanceMigration",
            [("Phase", ".status.phase", 0), ("VMI", ".spec.vmiName", 0)],
        ),
    ],
)
def test_printer_columns(kind: str, columns: list[tuple[str, str, int]]) -> None:
    got = version(kind)["additionalPrinterColumns"]
    assert [(c["name"], c["jsonPath"], c.get("priority", 0)) for c in got] == columns


def test_descriptions_come_from_the_models() -> None:
    vm_spec = schema("VirtualMachine")["properties"]["spec"]
    assert "runStrategy" in vm_spec["properties"]
    assert vm_spec["properties"]["runStrategy"]["description"].startswith("When the VMI")


def test_committed_crds_are_up_to_date() -> None:
    directory = REPO / "deploy" / "crds"
    for name, text in rendered_files().items():
        path = directory / name
        assert path.is_file(), f"{path} is missing: run `make crds`"
        assert path.read_text() == text, f"{path} is stale: run `make crds`"


def test_main_writes_parseable_files(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(rendered_files())
    for path in tmp_path.iterdir():
        assert yaml.safe_load(path.read_text())["kind"] == "CustomResourceDefinition"


def test_schema_rejects_what_the_models_reject() -> None:
    vmi = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "x"},
        "spec": {
            "domain": {"devices": {"disks": [{"name": "d", "disk": {"bus": "ide"}}]}, "foo": 1}
        },
    }
    assert validation_errors(vmi, schema("VirtualMachineInstance")) == [
        "spec.domain.devices.disks[0].disk.bus: 'ide' not in ['virtio', 'sata', 'scsi', 'usb']",
        "spec.domain.foo: unknown field",
    ]


def test_checker_notices_a_non_structural_schema() -> None:
    bad = {"type": "object", "properties": {"a": {}, "b": {"$ref": "#/x", "type": "string"}}}
    assert structural_problems(bad) == [".a: no type", ".b: forbidden key $ref"]
