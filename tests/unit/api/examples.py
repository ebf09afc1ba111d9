"""The KubeVirt example manifests, read from the `shared` folder beside the checkout.

They are KubeVirt's own files (examples/ in kubevirt/kubevirt) and are never
copied into this repository; tests that need them skip when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.shared import EXAMPLES
from virtkube.api import KINDS, KubeVirtObject

#: Kinds in the examples whose models come later, with the reason they are skipped.
LATER = {
    "VirtualMachineInstancetype": "instancetype.kubevirt.io kinds are not modelled yet",
    "VirtualMachinePreference": "instancetype.kubevirt.io kinds are not modelled yet",
    "VirtualMachinePool": "pool.kubevirt.io is not modelled yet",
    "VirtualMachineInstanceReplicaSet": "VirtualMachineInstanceReplicaSet is not modelled yet",
}

BY_KIND: dict[str, type[KubeVirtObject]] = {kind.KIND: kind for kind in KINDS}


def example_files() -> list[Path]:
    """Every example manifest, sorted; empty when the shared folder is absent."""
    return sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not one YAML object"
    return document


def example_params() -> list[Any]:
    """One pytest param per example; kinds modelled later are skipped with the reason."""
    import pytest

    files = example_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{EXAMPLES} is absent"))]
    params = []
    for path in files:
        kind = load(path).get("kind", "")
        marks = [pytest.mark.skip(reason=f"{kind}: {LATER[kind]}")] if kind in LATER else []
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params
