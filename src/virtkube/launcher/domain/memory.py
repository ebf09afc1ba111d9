"""Guest memory as QEMU's `-m`; which field it comes from is virtkube.api.facts' rule.

`memory.reservedOverhead.memLock: Required` locks the guest's memory in RAM
(KubeVirt's RequiresLockingMemory, libvirt's `<memoryBacking><locked/>`), which
QEMU does with `-overcommit mem-lock=on`; the pod's overhead covers it with
`reservedOverhead.addedOverhead`.
"""

from __future__ import annotations

from virtkube.api.facts import ComputeFields, guest_memory
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import SpecError

MIB = 1 << 20


def memory_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    fields = ComputeFields.of(vmi.spec.domain)
    size = guest_memory(fields)
    if size is None:  # KubeVirt's converter refuses a domain without memory, too.
        raise SpecError(
            "spec.domain.memory.guest", "no guest memory: set it or resources.requests.memory"
        )
    if size <= 0 or size % MIB:
        raise SpecError(
            "spec.domain.memory.guest", f"must be a positive multiple of 1Mi, got {size} bytes"
        )
    lock = ["-overcommit", "mem-lock=on"] if fields.mem_lock else []
    return ["-m", f"{size // MIB}M", *lock]
