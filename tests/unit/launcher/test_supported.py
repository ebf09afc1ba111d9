"""Every unsupported KubeVirt field is rejected by its path, never ignored."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.shared import EXAMPLES
from virtkube.launcher.domain.supported import check_supported
from virtkube.launcher.errors import UnsupportedFieldError

from .builders import new_vmi


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"spec": {"domain": {"devices": {"gpus": [{"name": "g", "deviceName": "x"}]}}}},
         "spec.domain.devices.gpus[0].name"),
        ({"spec": {"domain": {"devices": {"tpm": {}}}}}, "spec.domain.devices.tpm"),
        ({"spec": {"domain": {"cpu": {"dedicatedCpuPlacement": True}}}},
         "spec.domain.cpu.dedicatedCpuPlacement"),
        ({"spec": {"domain": {"memory": {"guest": "1Gi", "hugepages": {"pageSize": "2Mi"}}}}},
         "spec.domain.memory.hugepages.pageSize"),
        ({"spec": {"domain": {"features": {"apic": {"endOfInterrupt": True}}}}},
         "spec.domain.features.apic.endOfInterrupt"),
        ({"spec": {"volumes": [{"name": "s", "sysprep": {"secret": {"name": "x"}}}]}},
         "spec.volumes[0].sysprep.secret.name"),
        ({"spec": {"accessCredentials": [{"sshPublicKey": {
            "source": {"secret": {"secretName": "k"}},
            "propagationMethod": {"qemuGuestAgent": {"users": ["root"]}}}}]}},
         "spec.accessCredentials[0].sshPublicKey.propagationMethod.qemuGuestAgent"),
        ({"spec": {"accessCredentials": [{"userPassword": {
            "source": {"secret": {"secretName": "k"}},
            "propagationMethod": {"qemuGuestAgent": {}}}}]}},
         "spec.accessCredentials[0].userPassword"),
    ],
)  # fmt: skip
def test_unsupported_field_named(patch: dict[str, Any], path: str) -> None:
    with pytest.raises(UnsupportedFieldError) as info:
        check_supported(new_vmi(patch))
    assert info.value.field_path.startswith(path)
    assert "not supported by virtkube" in str(info.value)


@pytest.mark.parametrize(
    "name",
    ["vmi-nocloud.yaml", "vmi-alpine-efi.yaml", "vmi-kernel-boot.yaml", "vmi-host-disk.yaml",
     "vmi-sata.yaml", "vmi-pvc.yaml", "vmi-ephemeral.yaml"],
)  # fmt: skip
def test_kubevirt_examples_are_supported(name: str) -> None:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "VirtualMachineInstance":
            check_supported(new_vmi(doc))
