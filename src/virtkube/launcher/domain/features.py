"""Hypervisor features: ACPI, SMM, APIC (kvm.hidden lives on -cpu, see cpu.py).

QEMU merges repeated `-machine` options, so each feature adds its own.
"""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import UnsupportedFieldError


def features_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    features = vmi.spec.domain.features
    if features is None:
        return []
    args: list[str] = []
    if features.acpi is not None and features.acpi.enabled is False:
        args += ["-machine", "acpi=off"]
    if features.smm is not None:
        args += ["-machine", "smm=off" if features.smm.enabled is False else "smm=on"]
    if features.apic is not None and features.apic.enabled is False:
        raise UnsupportedFieldError("spec.domain.features.apic.enabled", "q35 always has an APIC")
    return args
