"""vCPU topology and CPU model.

The topology is KubeVirt's GetCPUTopology (virtkube.api.facts); the model
defaults to host-model.
Under TCG there is no host CPU to pass through, so host-model and
host-passthrough become `max` (every feature TCG can emulate).
The Hyper-V and paravirtual flags that also go on `-cpu` are built in hyperv.py.
"""

from __future__ import annotations

from virtkube.api.facts import cpu_topology
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.hyperv import effective_domain, hyperv_flags, paravirt_flags
from virtkube.launcher.domain.qemuopts import opts

_ENABLE = {"require": "+", "force": "+", "optional": "+", "disable": "-", "forbid": "-"}


def cpu_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    domain = effective_domain(vmi)
    topology = cpu_topology(domain)
    sockets, cores, threads = topology.sockets, topology.cores, topology.threads
    cpu = domain.cpu
    max_sockets = cpu.max_sockets if cpu else None
    maxcpus = max_sockets * cores * threads if max_sockets and max_sockets > sockets else None
    smp = opts(
        str(topology.vcpus),
        sockets=sockets, cores=cores, threads=threads, maxcpus=maxcpus,
    )  # fmt: skip

    model = (cpu.model if cpu else None) or "host-model"
    if model in ("host-model", "host-passthrough"):
        model = "host" if ctx.accel == "kvm" else "max"
    flags = (
        [f"{_ENABLE[f.policy or 'require']}{f.name}" for f in (cpu.features or [])] if cpu else []
    )
    features = domain.features
    if features and features.kvm and features.kvm.hidden:
        flags.append("kvm=off")
    flags += paravirt_flags(domain) + hyperv_flags(domain)
    return ["-smp", smp, "-cpu", ",".join([model, *flags])]
