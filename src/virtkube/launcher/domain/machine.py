"""The machine type (q35 only), the accelerator, and what a guest reboot means.

virtkube runs x86_64 guests on the q35 chipset, KubeVirt's amd64 default;
i440fx ("pc") is deprecated in KubeVirt and rejected here.
"""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import UnsupportedFieldError


def machine_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    if vmi.spec.architecture not in (None, "", "amd64"):
        raise UnsupportedFieldError(
            "spec.architecture", f"only amd64, got {vmi.spec.architecture!r}"
        )
    machine = vmi.spec.domain.machine
    mtype = (machine.type if machine else None) or "q35"
    if not (mtype == "q35" or mtype.startswith("pc-q35-")):
        raise UnsupportedFieldError("spec.domain.machine.type", f"only q35, got {mtype!r}")
    args = ["-machine", mtype, "-accel", ctx.accel]
    # KubeVirt rebootPolicy Terminate: a guest reboot ends the VMI.
    if vmi.spec.domain.reboot_policy == "Terminate":
        args += ["-action", "reboot=shutdown"]
    return args
