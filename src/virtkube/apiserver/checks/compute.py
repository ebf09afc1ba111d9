"""Memory, CPU, machine, firmware and the other single devices, within what QEMU's q35 takes.

KubeVirt's rules (validateMemoryRequests..., validateCPU..., firmware and
kernel boot checks) plus the q35 bounds virtkube runs on: at most 288 vCPUs
(QEMU's q35 max_cpus) and at least 1 MiB of memory (KubeVirt's minimum).
"""

from __future__ import annotations

from virtkube.api.facts import ComputeFields, cpu_topology
from virtkube.api.quantity import QuantityError, millicores_or_none, parse_quantity, value_or_none
from virtkube.apiserver.causes import Cause, unsupported
from virtkube.apiserver.checks.names import (
    Obj,
    dns_label_causes,
    duplicates,
    image_causes,
    items,
    path_causes,
)

MIN_MEMORY = 1 << 20
#: 4 TiB: more than any x86 guest with QEMU's default 40 physical address bits can map.
MAX_MEMORY = 4 << 40
#: QEMU's q35 machine: max_cpus.
MAX_VCPUS = 288
_RESOURCE_KEYS = ("cpu", "memory")


def _resource_causes(domain: Obj, base: str) -> list[Cause]:
    causes: list[Cause] = []
    resources = domain.get("resources") or {}
    req, lim = resources.get("requests") or {}, resources.get("limits") or {}
    for kind, values in (("requests", req), ("limits", lim)):
        for key, value in values.items():
            path = f"{base}.resources.{kind}.{key}"
            if key not in _RESOURCE_KEYS:
                causes.append(unsupported(path, "only cpu and memory are VMI resources"))
                continue
            try:
                if parse_quantity(value) < 0:
                    causes.append(Cause(path, f"must be positive, got {value!r}"))
            except QuantityError as e:
                causes.append(Cause(path, str(e)))
    for key in _RESOURCE_KEYS:
        # CPU in millicores, rounded up as MilliValue() rounds: "1.5m" is 2m, not 1m.
        value = millicores_or_none if key == "cpu" else value_or_none
        r, limit = value(req.get(key)), value(lim.get(key))
        if r is not None and limit is not None and r > limit:
            causes.append(Cause(f"{base}.resources.requests.{key}",
                                f"{req[key]!r} is greater than {base}.resources.limits.{key} "
                                f"{lim[key]!r}"))
    memory = domain.get("memory") or {}
    guest = value_or_none(memory.get("guest"))
    requested = value_or_none(req.get("memory"))
    if guest is None and requested is None and not (memory.get("hugepages") or {}).get(
            "pageSize"):
        causes.append(Cause(f"{base}.resources.requests.memory",
                            f"no memory requested, at least one of '{base}.memory.guest', "
                            f"'{base}.memory.hugepages.pageSize' or "
                            f"'{base}.resources.requests.memory' must be set",
                            "FieldValueRequired"))
    for value, path in ((guest, f"{base}.memory.guest"),
                        (requested, f"{base}.resources.requests.memory")):
        if value is not None and value < MIN_MEMORY:
            causes.append(Cause(path, "must be greater than or equal to 1Mi"))
        if value is not None and value > MAX_MEMORY:
            causes.append(Cause(path, "must be at most 4Ti (the guest cannot address more)"))
    limit_mem = value_or_none(lim.get("memory"))
    if guest is not None and limit_mem is not None and guest > limit_mem:
        causes.append(Cause(f"{base}.memory.guest",
                            f"{memory['guest']!r} must be equal to or less than the memory "
                            f"limit {lim['memory']!r}"))
    max_guest = value_or_none(memory.get("maxGuest"))
    if max_guest is not None and guest is not None and max_guest < guest:
        causes.append(Cause(f"{base}.memory.maxGuest", "must be at least memory.guest"))
    return causes


def _cpu_causes(domain: Obj, base: str) -> list[Cause]:
    cpu = domain.get("cpu") or {}
    causes = []
    for key in ("cores", "sockets", "threads"):
        if key in cpu and cpu[key] < 1:
            causes.append(Cause(f"{base}.cpu.{key}", "must be greater than or equal to 1"))
    total = cpu_topology(ComputeFields.of_json(domain)).vcpus
    if total > MAX_VCPUS:
        causes.append(Cause(f"{base}.cpu", f"{total} vCPUs (sockets x cores x threads) exceed "
                                           f"the q35 machine's {MAX_VCPUS}"))
    max_sockets = cpu.get("maxSockets")
    if max_sockets and cpu.get("sockets") and max_sockets < cpu["sockets"]:
        causes.append(Cause(f"{base}.cpu.maxSockets", "must be at least cpu.sockets"))
    names = [(i, str(f["name"])) for i, f in enumerate(items(cpu, "features"))]
    causes += duplicates(names, f"{base}.cpu.features", "CPU feature")
    return causes


def _firmware_causes(domain: Obj, base: str) -> list[Cause]:
    firmware = domain.get("firmware") or {}
    path = f"{base}.firmware"
    causes = []
    loader = firmware.get("bootloader") or {}
    if "bios" in loader and "efi" in loader:
        causes.append(Cause(f"{path}.bootloader", "must not have both bios and efi"))
    efi = loader.get("efi")
    smm = (domain.get("features") or {}).get("smm")
    if isinstance(efi, dict) and efi.get("secureBoot") is not False and isinstance(
            smm, dict) and smm.get("enabled") is False:
        causes.append(Cause(f"{path}.bootloader.efi.secureBoot",
                            "SecureBoot requires SMM, which is disabled in "
                            f"{base}.features.smm"))
    kernel = firmware.get("kernelBoot")
    if isinstance(kernel, dict):
        container = kernel.get("container")
        if container is None and kernel.get("kernelArgs"):
            causes.append(Cause(f"{path}.kernelBoot.kernelArgs",
                                "kernel arguments cannot be provided without an external kernel "
                                f"({path}.kernelBoot.container)"))
        if isinstance(container, dict):
            cpath = f"{path}.kernelBoot.container"
            causes += image_causes(container.get("image"), f"{cpath}.image")
            if not (container.get("kernelPath") or container.get("initrdPath")):
                causes.append(Cause(cpath, "must be defined with at least one of kernelPath and "
                                           "initrdPath", "FieldValueRequired"))
            for key in ("kernelPath", "initrdPath"):
                if container.get(key):
                    causes += path_causes(str(container[key]), f"{cpath}.{key}")
    if firmware.get("uuid") is not None:
        import uuid

        try:
            uuid.UUID(str(firmware["uuid"]))
        except ValueError:
            causes.append(Cause(f"{path}.uuid", f"{firmware['uuid']!r} is not a UUID"))
    return causes


def _machine_causes(domain: Obj, base: str) -> list[Cause]:
    mtype = (domain.get("machine") or {}).get("type")
    if mtype and not (mtype == "q35" or str(mtype).startswith("pc-q35-")):
        return [unsupported(f"{base}.machine.type", f"only q35 machines, got {mtype!r}")]
    return []


def _device_causes(domain: Obj, base: str) -> list[Cause]:
    devices = domain.get("devices") or {}
    path = f"{base}.devices"
    causes: list[Cause] = []
    watchdog = devices.get("watchdog")
    if isinstance(watchdog, dict):
        models = [m for m in ("i6300esb", "diag288") if m in watchdog]
        if len(models) != 1:
            causes.append(Cause(f"{path}.watchdog", "must have exactly one watchdog model "
                                                    "(i6300esb)"))
    inputs = items(devices, "inputs")
    causes += duplicates(((i, str(x["name"])) for i, x in enumerate(inputs)),
                         f"{path}.inputs", "input")
    return causes


def check_domain(spec: Obj, base: str = "spec") -> list[Cause]:
    domain = spec.get("domain") or {}
    dbase = f"{base}.domain"
    causes = _resource_causes(domain, dbase)
    causes += _cpu_causes(domain, dbase)
    causes += _firmware_causes(domain, dbase)
    causes += _machine_causes(domain, dbase)
    causes += _device_causes(domain, dbase)
    return causes


def check_spec(spec: Obj, base: str = "spec") -> list[Cause]:
    """Fields outside the domain: hostname, grace period, probes."""
    causes = []
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            causes += dns_label_causes(str(spec[key]), f"{base}.{key}")
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        causes.append(Cause(f"{base}.terminationGracePeriodSeconds",
                            "must be greater than or equal to 0"))
    for key in ("livenessProbe", "readinessProbe"):
        probe = spec.get(key)
        if isinstance(probe, dict):
            handlers = [h for h in ("exec", "httpGet", "tcpSocket", "guestAgentPing")
                        if h in probe]
            if len(handlers) != 1:
                causes.append(Cause(f"{base}.{key}", "must have exactly one handler: exec, "
                                                     "httpGet, tcpSocket or guestAgentPing"))
    return causes + check_domain(spec, base)
