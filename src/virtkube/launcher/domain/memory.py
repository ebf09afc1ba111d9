"""Guest memory as QEMU's `-m`; which field it comes from is virtkube.api.facts' rule."""

from __future__ import annotations

from virtkube.api.facts import guest_memory
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import SpecError

MIB = 1 << 20


def memory_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    size = guest_memory(vmi.spec.domain)
    if size is None:  # KubeVirt's converter refuses a domain without memory, too.
        raise SpecError(
            "spec.domain.memory.guest", "no guest memory: set it or resources.requests.memory"
        )
    if size <= 0 or size % MIB:
        raise SpecError(
            "spec.domain.memory.guest", f"must be a positive multiple of 1Mi, got {size} bytes"
        )
    return ["-m", f"{size // MIB}M"]
