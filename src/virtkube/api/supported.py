"""Which VMI spec fields virtkube runs, and the one walker that finds every other one.

design.md section 3: "Nothing is silently ignored". Rather than a check per
unsupported field (which forgets the next field KubeVirt adds), the VMI spec is
walked and each set leaf must fall under a pattern below. Admission (virt-api)
reports every field that does not, the launcher refuses to start at the first:
one list and one walker here, so the two cannot drift apart. Fields owned by
another component (scheduling, probes, the pod network's port forwarding) are
listed because the launcher is right to ignore them. Where only some values of
a field work, the feature function checks the value and raises.
tests/unit/test_supported_effects.py checks that each listed field has an effect.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_D = "spec.domain"
_DEV = f"{_D}.devices"
_CLOUD_INIT = (
    "userData", "userDataBase64", "secretRef.name",
    "networkData", "networkDataBase64", "networkDataSecretRef.name",
)  # fmt: skip
_PROBES = ("livenessProbe", "readinessProbe")
_HV = f"{_D}.features.hyperv"
#: Every enlightenment KubeVirt lists (FeatureHyperv), each a QEMU hv-* CPU flag.
_HV_FEATURES = (
    "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "synictimer", "reset",
    "vendorid", "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs",
)  # fmt: skip
#: What virt-controller copies onto the compute container (KubeVirt's copyProbe).
_PROBE_FIELDS = (
    "httpGet", "tcpSocket", "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
    "successThreshold", "failureThreshold",
)  # fmt: skip

#: Patterns of accepted field paths; `[]` stands for any list index and a
#: pattern covers everything below it.
SUPPORTED: frozenset[str] = frozenset(
    {
        # Owned by virt-controller / the scheduler / virt-handler, not the launcher.
        "spec.priorityClassName", "spec.nodeSelector", "spec.affinity", "spec.schedulerName",
        "spec.serviceAccountName", "spec.tolerations", "spec.topologySpreadConstraints",
        "spec.evictionStrategy", "spec.terminationGracePeriodSeconds",
        "spec.subdomain", "spec.dnsPolicy", "spec.dnsConfig",
        # Copied onto the launcher pod's compute container; the kubelet probes the guest.
        *(f"spec.{probe}.{f}" for probe in _PROBES for f in _PROBE_FIELDS),
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
        # SSH keys put into the cloud-init volume's meta-data (not the guest agent's).
        "spec.accessCredentials[].sshPublicKey.source.secret.secretName",
        "spec.accessCredentials[].sshPublicKey.propagationMethod.noCloud",
        "spec.accessCredentials[].sshPublicKey.propagationMethod.configDrive",
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
        f"{_D}.clock.timer.rtc.present", f"{_D}.clock.timer.rtc.track",
        f"{_D}.clock.timer.pit.present", f"{_D}.clock.timer.pit.tickPolicy",
        f"{_D}.clock.timer.kvm.present", f"{_D}.clock.timer.hyperv.present",
        f"{_D}.features.acpi.enabled", f"{_D}.features.smm.enabled",
        f"{_D}.features.apic.enabled", f"{_D}.features.kvm.hidden",
        f"{_D}.features.pvspinlock.enabled", f"{_D}.features.hypervPassthrough.enabled",
        *(f"{_HV}.{name}.enabled" for name in _HV_FEATURES),
        f"{_HV}.spinlocks.spinlocks", f"{_HV}.vendorid.vendorid",
        f"{_HV}.synictimer.direct.enabled",
        f"{_HV}.tlbflush.direct.enabled", f"{_HV}.tlbflush.extended.enabled",
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

_NO_AGENT = "it runs through the QEMU guest agent, which virtkube does not have"
#: Fields refused as a whole (reported once, at this path, not per leaf below it), and why.
#: Patterns here have no `[]`.
REFUSED: dict[str, str] = {
    f"spec.{probe}.{handler}": _NO_AGENT
    for probe in _PROBES
    for handler in ("exec", "guestAgentPing")
}



@dataclass(frozen=True)
class UnsupportedField:
    """A set field virtkube does not run: its path (`spec.volumes[0].sysprep`) and why."""

    path: str
    detail: str = ""


def _leaves(value: Any, path: str, generic: str) -> Iterator[tuple[str, str, Any]]:
    """(concrete path, generic path with [] for indexes, value) of each set leaf; an
    empty object or list is a leaf too."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}", f"{generic}.{key}")
    elif isinstance(value, list) and value:
        for i, child in enumerate(value):
            yield from _leaves(child, f"{path}[{i}]", f"{generic}[]")
    else:
        yield path, generic, value


#: Every proper prefix of a pattern: an empty object or list there is a switch
#: (`efi: {}`, `devices: {}`), not a field of its own.
_CONTAINERS = frozenset(
    pattern[:i]
    for pattern in SUPPORTED
    for i, ch in enumerate(pattern)
    if i and (ch == "." or pattern.startswith("[]", i))
)


def _covered(generic: str) -> bool:
    probe = generic
    while probe:
        if probe in SUPPORTED:
            return True
        cut = max(probe.rfind("."), probe.rfind("[]"))
        if cut <= 0:
            return False
        probe = probe[:cut]
    return False


def _off(generic: str) -> bool:
    return any(generic == p or generic.startswith(p + ".") for p in OFF_IS_FINE)


def unsupported_fields(spec: Mapping[str, Any]) -> Iterator[UnsupportedField]:
    """Each set field of a VMI spec (camelCase JSON) that virtkube does not run, in order."""
    reported: set[str] = set()
    for concrete, generic, value in _leaves(spec, "spec", "spec"):
        refused = next((p for p in REFUSED if generic == p or generic.startswith(p + ".")
                        or generic.startswith(p + "[")), None)
        if refused is not None:
            if refused not in reported:
                reported.add(refused)
                yield UnsupportedField(refused, REFUSED[refused])
            continue
        if _off(generic):
            if value not in (False, None, [], {}):
                yield UnsupportedField(concrete, f"only false is supported, got {value!r}")
            continue
        if value in ({}, []) and generic in _CONTAINERS:
            continue
        if not _covered(generic):
            yield UnsupportedField(concrete)
