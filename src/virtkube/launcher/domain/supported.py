"""Which VMI fields virtkube's launcher runs, and the error for every other one.

design.md section 3: "Nothing is silently ignored". Rather than a check per
unsupported field (which forgets the next field KubeVirt adds), the VMI spec is
walked and each set leaf must fall under a pattern below; the first that does
not is reported by its path. Fields owned by another component (scheduling,
probes, the pod network's port forwarding) are listed as accepted because the
launcher is right to ignore them. Where only some values of a field work, the
feature function checks the value and raises with the same kind of error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.errors import UnsupportedFieldError

_D = "spec.domain"
_DEV = f"{_D}.devices"
_CLOUD_INIT = (
    "userData", "userDataBase64", "secretRef.name",
    "networkData", "networkDataBase64", "networkDataSecretRef.name",
)  # fmt: skip

#: Patterns of accepted field paths; `[]` stands for any list index and a
#: pattern covers everything below it.
SUPPORTED: frozenset[str] = frozenset(
    {
        # Owned by virt-controller / the scheduler / virt-handler, not the launcher.
        "spec.priorityClassName", "spec.nodeSelector", "spec.affinity", "spec.schedulerName",
        "spec.serviceAccountName", "spec.tolerations", "spec.topologySpreadConstraints",
        "spec.evictionStrategy", "spec.terminationGracePeriodSeconds", "spec.livenessProbe",
        "spec.readinessProbe", "spec.subdomain", "spec.dnsPolicy", "spec.dnsConfig",
        # Used by the launcher.
        "spec.hostname", "spec.architecture", "spec.startStrategy",
        "spec.networks[].name", "spec.networks[].pod",
        "spec.volumes[].name",
        "spec.volumes[].containerDisk.image", "spec.volumes[].containerDisk.path",
        "spec.volumes[].containerDisk.imagePullPolicy",
        "spec.volumes[].containerDisk.imagePullSecret",
        "spec.volumes[].persistentVolumeClaim.claimName",
        "spec.volumes[].persistentVolumeClaim.readOnly",
        "spec.volumes[].dataVolume.name",
        "spec.volumes[].ephemeral.persistentVolumeClaim.claimName",
        "spec.volumes[].ephemeral.persistentVolumeClaim.readOnly",
        "spec.volumes[].emptyDisk.capacity",
        "spec.volumes[].hostDisk.path", "spec.volumes[].hostDisk.type",
        "spec.volumes[].hostDisk.capacity", "spec.volumes[].hostDisk.shared",
        *(f"spec.volumes[].cloudInitNoCloud.{f}" for f in _CLOUD_INIT),
        *(f"spec.volumes[].cloudInitConfigDrive.{f}" for f in _CLOUD_INIT),
        "spec.volumes[].configMap.name", "spec.volumes[].configMap.optional",
        "spec.volumes[].configMap.volumeLabel",
        "spec.volumes[].secret.secretName", "spec.volumes[].secret.optional",
        "spec.volumes[].secret.volumeLabel",
        "spec.volumes[].serviceAccount.serviceAccountName",
        f"{_D}.resources", f"{_D}.rebootPolicy",
        f"{_D}.cpu.cores", f"{_D}.cpu.sockets", f"{_D}.cpu.threads", f"{_D}.cpu.maxSockets",
        f"{_D}.cpu.model", f"{_D}.cpu.features[].name", f"{_D}.cpu.features[].policy",
        f"{_D}.cpu.dedicatedCpuPlacement", f"{_D}.cpu.isolateEmulatorThread",
        f"{_D}.memory.guest", f"{_D}.memory.reservedOverhead",
        f"{_D}.machine.type",
        f"{_D}.firmware.uuid", f"{_D}.firmware.serial",
        f"{_D}.firmware.bootloader.bios.useSerial",
        f"{_D}.firmware.bootloader.efi.secureBoot", f"{_D}.firmware.bootloader.efi.persistent",
        f"{_D}.firmware.kernelBoot.kernelArgs", f"{_D}.firmware.kernelBoot.container",
        f"{_D}.clock.utc.offsetSeconds", f"{_D}.clock.timezone",
        f"{_D}.clock.timer.hpet.present", f"{_D}.clock.timer.rtc.tickPolicy",
        f"{_D}.clock.timer.rtc.present",
        f"{_D}.features.acpi.enabled", f"{_D}.features.smm.enabled",
        f"{_D}.features.apic.enabled", f"{_D}.features.kvm.hidden",
        f"{_DEV}.disks[].name", f"{_DEV}.disks[].disk.bus", f"{_DEV}.disks[].disk.readonly",
        f"{_DEV}.disks[].cdrom.bus", f"{_DEV}.disks[].cdrom.readonly",
        f"{_DEV}.disks[].cdrom.tray", f"{_DEV}.disks[].bootOrder", f"{_DEV}.disks[].serial",
        f"{_DEV}.disks[].cache", f"{_DEV}.disks[].io", f"{_DEV}.disks[].errorPolicy",
        f"{_DEV}.disks[].shareable", f"{_DEV}.disks[].dedicatedIOThread",
        f"{_DEV}.disks[].blockSize.custom.logical", f"{_DEV}.disks[].blockSize.custom.physical",
        f"{_DEV}.interfaces[].name", f"{_DEV}.interfaces[].model",
        f"{_DEV}.interfaces[].macAddress", f"{_DEV}.interfaces[].bootOrder",
        f"{_DEV}.interfaces[].bridge", f"{_DEV}.interfaces[].masquerade",
        f"{_DEV}.interfaces[].ports", f"{_DEV}.interfaces[].state",
        f"{_DEV}.watchdog.name", f"{_DEV}.watchdog.i6300esb",
        # virtkube.api's camelCase alias generator spells it so (KubeVirt: i6300esb).
        f"{_DEV}.watchdog.i6300Esb",
        f"{_DEV}.rng", f"{_DEV}.inputs[].name", f"{_DEV}.inputs[].type", f"{_DEV}.inputs[].bus",
        f"{_DEV}.panicDevices[].model", f"{_DEV}.video.type",
        f"{_DEV}.autoattachPodInterface", f"{_DEV}.autoattachGraphicsDevice",
        f"{_DEV}.autoattachSerialConsole", f"{_DEV}.autoattachMemBalloon",
        f"{_DEV}.autoattachInputDevice", f"{_DEV}.autoattachVSOCK",
        f"{_DEV}.logSerialConsole", f"{_DEV}.useVirtioTransitional", f"{_DEV}.disableHotplug",
        f"{_DEV}.blockMultiQueue", f"{_DEV}.networkInterfaceMultiqueue",
    }
)  # fmt: skip

#: Fields whose value `false` (or an empty list) means "off", which is what virtkube does.
OFF_IS_FINE: frozenset[str] = frozenset(
    {
        f"{_D}.cpu.dedicatedCpuPlacement", f"{_D}.cpu.isolateEmulatorThread",
        f"{_DEV}.autoattachVSOCK", f"{_DEV}.logSerialConsole", f"{_DEV}.useVirtioTransitional",
        f"{_DEV}.networkInterfaceMultiqueue", f"{_D}.firmware.bootloader.bios.useSerial",
        f"{_D}.firmware.bootloader.efi.persistent", "spec.volumes[].hostDisk.shared",
    }
)  # fmt: skip


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every set leaf; an empty object or list is a leaf too."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}")
    elif isinstance(value, list) and value:
        for i, child in enumerate(value):
            yield from _leaves(child, f"{path}[{i}]")
    else:
        yield path, value


def _generic(concrete: str) -> str:
    out, depth = [], 0
    for ch in concrete:
        if ch == "[":
            depth += 1
            out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _covered(pattern: str) -> bool:
    probe = pattern
    while True:
        if probe in SUPPORTED:
            return True
        cut = max(probe.rfind("."), probe.rfind("[]"))
        if cut <= 0:
            return False
        probe = probe[:cut]


def _is_parent(pattern: str) -> bool:
    return any(s.startswith((pattern + ".", pattern + "[]")) for s in SUPPORTED)


def _off_value(pattern: str, value: Any) -> bool:
    return any(pattern == p or pattern.startswith(p + ".") for p in OFF_IS_FINE) and (
        value in (False, None, [], {})
    )


def check_supported(vmi: VirtualMachineInstance) -> None:
    """Raise UnsupportedFieldError for the first spec field virtkube does not run."""
    spec = vmi.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    for concrete, value in _leaves(spec, "spec"):
        pattern = _generic(concrete)
        if pattern in OFF_IS_FINE or any(pattern.startswith(p + ".") for p in OFF_IS_FINE):
            if _off_value(pattern, value):
                continue
            raise UnsupportedFieldError(concrete, f"only false is supported, got {value!r}")
        if value == {} and _is_parent(pattern):
            continue  # an empty switch such as `efi: {}` or `devices: {}`
        if not _covered(pattern):
            raise UnsupportedFieldError(concrete)
