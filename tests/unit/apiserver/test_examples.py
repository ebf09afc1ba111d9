"""Every KubeVirt example is admitted or rejected exactly as example_verdicts.py says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.api.examples import example_files, load
from tests.unit.apiserver.example_verdicts import GATES, VERDICTS
from virtkube.apiserver import defaults, validation
from virtkube.apiserver.featuregates import Gates

CFG = defaults.DefaultsConfig()


def admit(doc: dict[str, Any], gates: Gates = frozenset()) -> list[str] | None:
    """The rejected fields, or None for a kind admission does not handle."""
    doc.setdefault("metadata", {}).setdefault("namespace", "default")
    kind = doc["kind"]
    if kind == "VirtualMachineInstance":
        causes = validation.validate_vmi_create(defaults.vmi_defaults(doc, CFG), gates)
    elif kind == "VirtualMachine":
        vm = defaults.vm_defaults(doc, CFG)
        causes = validation.validate_vm(vm, gates=gates)
        if not causes:  # the VMI virt-controller will create from it must pass too
            vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                   "metadata": {"name": "x", "namespace": "default"},
                   "spec": vm["spec"]["template"]["spec"]}
            causes = validation.validate_vmi_create(defaults.vmi_defaults(vmi, CFG), gates)
    elif kind == "VirtualMachineInstanceMigration":
        causes = validation.validate_migration_create(defaults.migration_defaults(doc),
                                                      {"status": {"phase": "Running"}})
    else:
        return None
    return [c.field for c in causes]


def params() -> list[Any]:
    files = example_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared examples absent"))]
    return [pytest.param(f, id=f.name) for f in files]


@pytest.mark.parametrize("path", params())
def test_example_verdict(path: Path) -> None:
    assert path.name in VERDICTS, f"{path.name}: add it to example_verdicts.py"
    verdict, fields = VERDICTS[path.name]
    result = admit(load(path), frozenset(GATES.get(path.name, {})))
    if verdict == "NO_CRD":
        assert result is None
    elif verdict == "ACCEPT":
        assert result == []
    else:
        assert result == fields and fields


@pytest.mark.parametrize("name", sorted(GATES))
def test_gated_example_is_rejected_without_its_gate(name: str) -> None:
    path = next((f for f in example_files() if f.name == name), None)
    if path is None:
        pytest.skip("shared examples absent")
    for gate, guarded in GATES[name].items():
        others = frozenset(GATES[name]) - {gate}
        assert admit(load(path), others) == guarded
