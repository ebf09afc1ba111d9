"""vCPU topology and CPU model.

KubeVirt: with no topology the vCPU count comes from resources (limits, else
requests, rounded up) and becomes sockets; the model defaults to host-model.
Under TCG there is no host CPU to pass through, so host-model and
host-passthrough become `max` (every feature TCG can emulate).
"""

from __future__ import annotations

import math

from virtkube.api.quantity import parse_quantity
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.qemuopts import opts

_ENABLE = {"require": "+", "force": "+", "optional": "+", "disable": "-", "forbid": "-"}


def topology(vmi: VirtualMachineInstance) -> tuple[int, int, int]:
    """(sockets, cores, threads)."""
    cpu = vmi.spec.domain.cpu
    if cpu and (cpu.sockets or cpu.cores or cpu.threads):
        return cpu.sockets or 1, cpu.cores or 1, cpu.threads or 1
    resources = vmi.spec.domain.resources
    for source in (resources.limits, resources.requests) if resources else ():
        if source and "cpu" in source:
            return max(1, math.ceil(parse_quantity(source["cpu"]))), 1, 1
    return 1, 1, 1


def vcpu_count(vmi: VirtualMachineInstance) -> int:
    sockets, cores, threads = topology(vmi)
    return sockets * cores * threads


def cpu_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    sockets, cores, threads = topology(vmi)
    cpu = vmi.spec.domain.cpu
    max_sockets = cpu.max_sockets if cpu else None
    maxcpus = max_sockets * cores * threads if max_sockets and max_sockets > sockets else None
    smp = opts(
        str(sockets * cores * threads),
        sockets=sockets, cores=cores, threads=threads, maxcpus=maxcpus,
    )  # fmt: skip

    model = (cpu.model if cpu else None) or "host-model"
    if model in ("host-model", "host-passthrough"):
        model = "host" if ctx.accel == "kvm" else "max"
    flags = (
        [f"{_ENABLE[f.policy or 'require']}{f.name}" for f in (cpu.features or [])] if cpu else []
    )
    features = vmi.spec.domain.features
    if features and features.kvm and features.kvm.hidden:
        flags.append("kvm=off")
    return ["-smp", smp, "-cpu", ",".join([model, *flags])]
