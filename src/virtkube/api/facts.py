"""Facts derived from a VMI's `spec.domain`, decided here and nowhere else.

Guest memory, the vCPU topology and the inputs of the launcher's memory
overhead are read by admission (defaults, validation), virt-controller (the
launcher pod's resources) and virt-launcher (QEMU's `-m` and `-smp`). When each
chose its own fallback order they disagreed; KubeVirt decides each once
(`setGuestMemory` in pkg/defaults, `GetCPUTopology` in pkg/util/hardware,
`GetMemoryOverhead` in virt-controller's services), and so does this module.

Every fact is computed from `ComputeFields`, the handful of raw fields it
depends on, which is taken either from the typed model (controller, launcher)
or from raw JSON (admission, which defaults manifests the models may still
reject; a malformed quantity there counts as absent and validation reports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from virtkube.api.domain import DomainSpec
from virtkube.api.quantity import value_or_none

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class ComputeFields:
    """The fields of `spec.domain` the derived facts depend on, as the user gave them."""

    guest: object = None
    requests: Mapping[str, object] = field(default_factory=dict)
    limits: Mapping[str, object] = field(default_factory=dict)
    hugepage_size: object = None
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None
    #: memory.reservedOverhead.addedOverhead (KubeVirt's VEP 144).
    added_overhead: object = None
    #: memory.reservedOverhead.memLock == Required (KubeVirt's RequiresLockingMemory).
    mem_lock: bool = False
    #: resources.overcommitGuestOverhead.
    overcommit_guest_overhead: bool = False

    @classmethod
    def of(cls, domain: DomainSpec) -> ComputeFields:
        res, mem, cpu = domain.resources, domain.memory, domain.cpu
        reserved = mem.reserved_overhead if mem else None
        return cls(
            guest=mem.guest if mem else None,
            requests=dict((res.requests if res else None) or {}),
            limits=dict((res.limits if res else None) or {}),
            hugepage_size=mem.hugepages.page_size if mem and mem.hugepages else None,
            sockets=cpu.sockets if cpu else None,
            cores=cpu.cores if cpu else None,
            threads=cpu.threads if cpu else None,
            added_overhead=reserved.added_overhead if reserved else None,
            mem_lock=bool(reserved and reserved.mem_lock == "Required"),
            overcommit_guest_overhead=bool(res and res.overcommit_guest_overhead),
        )

    @classmethod
    def of_json(cls, domain: Obj) -> ComputeFields:
        res, mem, cpu = (_obj(domain, k) for k in ("resources", "memory", "cpu"))
        reserved = _obj(mem, "reservedOverhead")
        return cls(
            guest=mem.get("guest"),
            requests=_obj(res, "requests"),
            limits=_obj(res, "limits"),
            hugepage_size=_obj(mem, "hugepages").get("pageSize"),
            sockets=_count(cpu.get("sockets")),
            cores=_count(cpu.get("cores")),
            threads=_count(cpu.get("threads")),
            added_overhead=reserved.get("addedOverhead"),
            mem_lock=reserved.get("memLock") == "Required",
            overcommit_guest_overhead=res.get("overcommitGuestOverhead") is True,
        )


@dataclass(frozen=True)
class Topology:
    """The guest CPU topology (KubeVirt's api.CPUTopology)."""

    sockets: int
    cores: int
    threads: int

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads


def _obj(parent: Obj, key: str) -> Obj:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _count(value: object) -> int | None:
    """A topology count from raw JSON; anything but a positive integer is "not set"."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _fields(domain: DomainSpec | ComputeFields) -> ComputeFields:
    return domain if isinstance(domain, ComputeFields) else ComputeFields.of(domain)


def memory_source(domain: DomainSpec | ComputeFields) -> object:
    """The quantity, as given, that is the guest memory; None when there is none.

    KubeVirt's setGuestMemory: `memory.guest`, else a non-zero
    `resources.requests.memory`, else a non-zero `resources.limits.memory`,
    else `memory.hugepages.pageSize`.
    """
    f = _fields(domain)
    if f.guest is not None:
        return f.guest
    for source in (f.requests.get("memory"), f.limits.get("memory"), f.hugepage_size):
        if value_or_none(source):
            return source
    return None


def guest_memory(domain: DomainSpec | ComputeFields) -> int | None:
    """The guest memory in bytes (rounded up, as Quantity.Value()); None when there is none.

    Admission rejects a VMI without any; the launcher refuses to start one
    (KubeVirt's converter errors on it), the controller requests no guest memory.
    """
    return value_or_none(memory_source(domain))


def cpu_topology(domain: DomainSpec | ComputeFields) -> Topology:
    """KubeVirt's GetCPUTopology: sockets, cores and threads, a missing one 1.

    With none of them set, the vCPUs become sockets (the best performing layout,
    rhbz#1653453): the CPU limit rounded up, else the CPU request, else 1. A
    quantity that rounds to 0 still gives one socket.
    """
    f = _fields(domain)
    if f.sockets or f.cores or f.threads:
        return Topology(sockets=f.sockets or 1, cores=f.cores or 1, threads=f.threads or 1)
    for source in (f.limits.get("cpu"), f.requests.get("cpu")):
        count = value_or_none(source)
        if count is not None:
            return Topology(sockets=max(1, count), cores=1, threads=1)
    return Topology(sockets=1, cores=1, threads=1)


def vcpus(domain: DomainSpec | ComputeFields) -> int:
    """The number of vCPUs the guest boots with (sockets x cores x threads)."""
    return cpu_topology(domain).vcpus


def added_overhead(domain: DomainSpec | ComputeFields) -> int:
    """memory.reservedOverhead.addedOverhead in bytes, 0 when unset: KubeVirt adds it to
    the launcher's computed memory overhead (GetMemoryOverhead)."""
    return value_or_none(_fields(domain).added_overhead) or 0
