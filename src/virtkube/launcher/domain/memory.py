"""Guest memory: `memory.guest`, else the memory request (KubeVirt's defaulting)."""

from __future__ import annotations

from virtkube.api.quantity import to_bytes
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import SpecError

MIB = 1 << 20


def guest_memory_bytes(vmi: VirtualMachineInstance) -> int:
    domain = vmi.spec.domain
    if domain.memory and domain.memory.guest is not None:
        return to_bytes(domain.memory.guest)
    resources = domain.resources
    for source in (resources.requests, resources.limits) if resources else ():
        if source and "memory" in source:
            return to_bytes(source["memory"])
    raise SpecError(
        "spec.domain.memory.guest", "no guest memory: set it or resources.requests.memory"
    )


def memory_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    size = guest_memory_bytes(vmi)
    if size <= 0 or size % MIB:
        raise SpecError(
            "spec.domain.memory.guest", f"must be a positive multiple of 1Mi, got {size} bytes"
        )
    return ["-m", f"{size // MIB}M"]
