"""How much memory a launcher pod needs beyond the guest's own.

The pod must request guest memory plus what the launcher and QEMU use, or the
node overcommits. KubeVirt estimates ~250-300 MiB for virt-launcher, libvirt
and QEMU; virtkube has no libvirt and a small launcher, so its estimate is:

- 64 MiB for virt-launcher (Python; measured ~40 MiB RSS);
- 64 MiB for QEMU's own process (device model, I/O buffers);
- 64 MiB for QEMU's TCG translation cache when KVM is absent (it grows with
  the code the guest runs: ~20 MiB for the tiny guest); counted always, since
  the node decides the accelerator at run time;
- 8 MiB per vCPU (thread stacks, per-CPU state), and guest/512 for page
  tables and dirty bitmaps, as KubeVirt counts them;
- plus `memory.reservedOverhead.addedOverhead`, which KubeVirt's
  GetMemoryOverhead adds to what it computes (for memory the guest's devices
  lock or map beyond the estimate, such as VFIO).

Its inputs (guest memory, vCPUs, the added overhead) are virtkube.api.facts'.
"""

from __future__ import annotations

from virtkube.api.domain import DomainSpec
from virtkube.api.facts import ComputeFields, added_overhead, guest_memory, vcpus

MIB = 1 << 20

LAUNCHER_BYTES = 64 * MIB
QEMU_BYTES = 64 * MIB
TCG_CACHE_BYTES = 64 * MIB
PER_VCPU_BYTES = 8 * MIB


def overhead_bytes(guest_bytes: int, vcpus: int) -> int:
    return (LAUNCHER_BYTES + QEMU_BYTES + TCG_CACHE_BYTES + vcpus * PER_VCPU_BYTES
            + guest_bytes // 512)


def memory_overhead(domain: DomainSpec) -> int:
    """The launcher pod's memory beyond the guest's: the estimate plus any added overhead."""
    fields = ComputeFields.of(domain)
    return overhead_bytes(guest_memory(fields) or 0, vcpus(fields)) + added_overhead(fields)
