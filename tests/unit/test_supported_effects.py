"""Every supported VMI field has an effect, or the reason it has none is written here.

design.md section 3: nothing is silently ignored. The supported-field list
(virtkube.api.supported) lets a field through admission and the launcher;
this test walks that list and, for each path, sets it on a small fixture VMI and
checks that the launcher pod (controller/launcherpod.py) or the QEMU argv
(launcher/domain) changes. A field whose effect lies elsewhere (volume
preparation, the handler's network, a status) or that has none is listed in
ELSEWHERE with the reason; a new supported field without a row fails here.
OFF_IS_FINE fields take only false: the test checks that true is refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.launcher.builders import merge, new_ctx, volume
from virtkube.api.supported import OFF_IS_FINE, SUPPORTED
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.controller.launcherpod import launcher_pod
from virtkube.controller.options import LauncherOptions
from virtkube.launcher.domain import build_argv
from virtkube.launcher.domain.supported import check_supported
from virtkube.launcher.errors import UnsupportedFieldError

Obj = dict[str, Any]
D = "spec.domain"
DEV = f"{D}.devices"

BASE: Obj = {
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
    "metadata": {"name": "fx", "namespace": "default",
                 "uid": "11111111-2222-3333-4444-555555555555"},
    "spec": {"domain": {"devices": {}, "memory": {"guest": "128Mi"}}},
}
OPTS = LauncherOptions(sockets_host_dir="/var/lib/vk/sockets")
CTX = new_ctx(volumes={n: volume(n) for n in ("root", "ci")},
              tap_names={"default": "tap0", "other": "tap1"})


def spec(**fields: Any) -> Obj:
    return {"spec": fields}


def domain(**fields: Any) -> Obj:
    return {"spec": {"domain": fields}}


def devices(**fields: Any) -> Obj:
    return {"spec": {"domain": {"devices": fields}}}


ROOT_DISK: Obj = {"name": "root", "disk": {"bus": "virtio"}}
ROOT = merge(devices(disks=[ROOT_DISK]),
             spec(volumes=[{"name": "root", "containerDisk": {"image": "img:1"}}]))
NET = merge(devices(interfaces=[{"name": "default", "masquerade": {}}]),
            spec(networks=[{"name": "default", "pod": {}}]))


def hv(**fields: Any) -> Obj:
    return domain(features={"hyperv": fields})


def hv_enabled(name: str, **state: Any) -> tuple[Obj, Obj]:
    """The enlightenment given (so on), then the same turned off."""
    return hv(**{name: state}), hv(**{name: {**state, "enabled": False}})


def timer(**timers: Any) -> Obj:
    return domain(clock={"timer": timers})


def disk(**fields: Any) -> tuple[Obj, Obj]:
    return ROOT, devices(disks=[{**ROOT_DISK, **fields}])


def iface(**fields: Any) -> tuple[Obj, Obj]:
    return NET, devices(interfaces=[{"name": "default", "masquerade": {}, **fields}])


def vol(source: Obj, disk_fields: Obj | None = None) -> tuple[Obj, Obj]:
    """No volume at all, then the root volume with `source` (and its disk)."""
    return {}, merge(devices(disks=[{**ROOT_DISK, **(disk_fields or {})}]),
                     spec(volumes=[{"name": "root", **source}]))


def cloud_init(kind: str, **fields: Any) -> tuple[Obj, Obj]:
    return {}, merge(devices(disks=[{"name": "ci", "disk": {"bus": "virtio"}}]),
                     spec(volumes=[{"name": "ci", kind: fields}]))


def probe(kind: str, field: str) -> tuple[Obj, Obj]:
    """A handler alone, or a tcpSocket probe and then the timing field set on it."""
    if field in ("httpGet", "tcpSocket"):
        return {}, spec(**{kind: {field: {"port": 80}}})
    return spec(**{kind: {"tcpSocket": {"port": 80}}}), spec(**{kind: {field: 7}})


#: path -> (the fixture without the field, the patch that sets it).
EFFECTS: dict[str, tuple[Obj, Obj]] = {
    **{f"spec.{kind}.{field}": probe(kind, field)
       for kind in ("livenessProbe", "readinessProbe")
       for field in ("httpGet", "tcpSocket", "initialDelaySeconds", "timeoutSeconds",
                     "periodSeconds", "successThreshold", "failureThreshold")},
    "spec.priorityClassName": ({}, spec(priorityClassName="high")),
    "spec.nodeSelector": ({}, spec(nodeSelector={"disk": "ssd"})),
    "spec.affinity": ({}, spec(affinity={"nodeAffinity": {}})),
    "spec.schedulerName": ({}, spec(schedulerName="other")),
    "spec.serviceAccountName": ({}, spec(serviceAccountName="sa")),
    "spec.tolerations": ({}, spec(tolerations=[{"key": "k", "operator": "Exists"}])),
    "spec.topologySpreadConstraints": ({}, spec(topologySpreadConstraints=[
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}])),
    "spec.terminationGracePeriodSeconds": ({}, spec(terminationGracePeriodSeconds=5)),
    "spec.subdomain": ({}, spec(subdomain="sub")),
    "spec.dnsPolicy": ({}, spec(dnsPolicy="None")),
    "spec.dnsConfig": ({}, spec(dnsConfig={"nameservers": ["10.0.0.10"]})),
    "spec.hostname": ({}, spec(hostname="other")),
    "spec.networks[].pod": ({}, NET),
    "spec.volumes[].persistentVolumeClaim.claimName": vol(
        {"persistentVolumeClaim": {"claimName": "pvc"}}),
    "spec.volumes[].persistentVolumeClaim.readOnly": (
        vol({"persistentVolumeClaim": {"claimName": "pvc"}})[1],
        vol({"persistentVolumeClaim": {"claimName": "pvc", "readOnly": True}})[1]),
    "spec.volumes[].dataVolume.name": vol({"dataVolume": {"name": "dv"}}),
    "spec.volumes[].ephemeral.persistentVolumeClaim.claimName": vol(
        {"ephemeral": {"persistentVolumeClaim": {"claimName": "pvc"}}}),
    "spec.volumes[].hostDisk.path": vol({"hostDisk": {"path": "/srv/a.img", "type": "Disk"}}),
    "spec.volumes[].hostDisk.type": (
        vol({"hostDisk": {"path": "/srv/a.img", "type": "Disk"}})[1],
        vol({"hostDisk": {"path": "/srv/a.img", "type": "DiskOrCreate", "capacity": "1Gi"}})[1]),
    "spec.volumes[].configMap.name": vol({"configMap": {"name": "cm"}}),
    "spec.volumes[].secret.secretName": vol({"secret": {"secretName": "s"}}),
    "spec.volumes[].serviceAccount.serviceAccountName": vol(
        {"serviceAccount": {"serviceAccountName": "default"}}),
    "spec.accessCredentials[].sshPublicKey.source.secret.secretName": ({}, spec(
        accessCredentials=[{"sshPublicKey": {"source": {"secret": {"secretName": "keys"}},
                                             "propagationMethod": {"noCloud": {}}}}])),
    "spec.volumes[].cloudInitNoCloud.secretRef.name": cloud_init(
        "cloudInitNoCloud", secretRef={"name": "ud"}),
    "spec.volumes[].cloudInitNoCloud.networkDataSecretRef.name": cloud_init(
        "cloudInitNoCloud", networkDataSecretRef={"name": "nd"}),
    "spec.volumes[].cloudInitConfigDrive.secretRef.name": cloud_init(
        "cloudInitConfigDrive", secretRef={"name": "ud"}),
    "spec.volumes[].cloudInitConfigDrive.networkDataSecretRef.name": cloud_init(
        "cloudInitConfigDrive", networkDataSecretRef={"name": "nd"}),
    f"{D}.resources": ({}, domain(resources={"requests": {"memory": "256Mi"}})),
    f"{D}.rebootPolicy": ({}, domain(rebootPolicy="Terminate")),
    f"{D}.cpu.cores": ({}, domain(cpu={"cores": 2})),
    f"{D}.cpu.sockets": ({}, domain(cpu={"sockets": 2})),
    f"{D}.cpu.threads": ({}, domain(cpu={"threads": 2})),
    f"{D}.cpu.maxSockets": ({}, domain(cpu={"sockets": 1, "maxSockets": 4})),
    f"{D}.cpu.model": ({}, domain(cpu={"model": "Haswell"})),
    f"{D}.cpu.features[].name": ({}, domain(cpu={"features": [{"name": "pcid"}]})),
    f"{D}.cpu.features[].policy": (domain(cpu={"features": [{"name": "pcid"}]}),
                                   domain(cpu={"features": [{"name": "pcid",
                                                             "policy": "disable"}]})),
    f"{D}.memory.guest": ({}, domain(memory={"guest": "256Mi"})),
    f"{D}.memory.reservedOverhead": ({}, domain(memory={"reservedOverhead": {
        "addedOverhead": "64Mi"}})),
    f"{D}.machine.type": ({}, domain(machine={"type": "pc-q35-7.2"})),
    f"{D}.firmware.uuid": ({}, domain(firmware={"uuid": "5d307ca9-b3ef-428c-8861-06e72d69f223"})),
    f"{D}.firmware.serial": ({}, domain(firmware={"serial": "s-1"})),
    f"{D}.firmware.bootloader.efi.secureBoot": (
        domain(firmware={"bootloader": {"efi": {}}}),
        domain(firmware={"bootloader": {"efi": {"secureBoot": False}}})),
    f"{D}.firmware.kernelBoot.kernelArgs": (
        domain(firmware={"kernelBoot": {"container": {"image": "k:1", "kernelPath": "/k"}}}),
        domain(firmware={"kernelBoot": {"kernelArgs": "console=ttyS0"}})),
    f"{D}.firmware.kernelBoot.container": ({}, domain(firmware={"kernelBoot": {
        "container": {"image": "k:1", "kernelPath": "/k"}}})),
    f"{D}.clock.utc.offsetSeconds": ({}, domain(clock={"utc": {"offsetSeconds": 3600}})),
    f"{D}.clock.timezone": ({}, domain(clock={"timezone": "Europe/Paris"})),
    f"{D}.clock.timer.hpet.present": ({}, domain(clock={"timer": {"hpet": {"present": False}}})),
    f"{D}.clock.timer.rtc.tickPolicy": ({}, domain(clock={"timer": {"rtc": {
        "tickPolicy": "catchup"}}})),
    f"{D}.clock.timer.rtc.track": ({}, timer(rtc={"track": "guest"})),
    f"{D}.clock.timer.pit.present": (timer(pit={}), timer(pit={"present": False})),
    f"{D}.clock.timer.pit.tickPolicy": (timer(pit={}), timer(pit={"tickPolicy": "discard"})),
    f"{D}.clock.timer.kvm.present": ({}, timer(kvm={"present": False})),
    f"{D}.clock.timer.hyperv.present": ({}, timer(hyperv={"present": True})),
    f"{D}.features.pvspinlock.enabled": ({}, domain(features={"pvspinlock": {"enabled": False}})),
    f"{D}.features.hypervPassthrough.enabled": ({}, domain(features={
        "hypervPassthrough": {"enabled": True}})),
    **{f"{D}.features.hyperv.{name}.enabled": hv_enabled(name)
       for name in ("relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "synictimer",
                    "reset", "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs")},
    f"{D}.features.hyperv.vendorid.enabled": hv_enabled("vendorid", vendorid="KVMKVMKVM"),
    f"{D}.features.hyperv.spinlocks.spinlocks": (hv(spinlocks={}),
                                                 hv(spinlocks={"spinlocks": 8191})),
    f"{D}.features.hyperv.vendorid.vendorid": ({}, hv(vendorid={"vendorid": "KVMKVMKVM"})),
    f"{D}.features.hyperv.synictimer.direct.enabled": (hv(synictimer={}),
                                                       hv(synictimer={"direct": {}})),
    f"{D}.features.hyperv.tlbflush.direct.enabled": (hv(tlbflush={}), hv(tlbflush={"direct": {}})),
    f"{D}.features.hyperv.tlbflush.extended.enabled": (hv(tlbflush={}),
                                                       hv(tlbflush={"extended": {}})),
    f"{D}.features.acpi.enabled": ({}, domain(features={"acpi": {"enabled": False}})),
    f"{D}.features.smm.enabled": ({}, domain(features={"smm": {"enabled": True}})),
    f"{D}.features.kvm.hidden": ({}, domain(features={"kvm": {"hidden": True}})),
    f"{DEV}.disks[].name": ({}, ROOT),
    f"{DEV}.disks[].disk.bus": disk(disk={"bus": "sata"}),
    f"{DEV}.disks[].disk.readonly": disk(disk={"bus": "virtio", "readonly": True}),
    f"{DEV}.disks[].cdrom.bus": disk(disk=None, cdrom={"bus": "sata"}),
    f"{DEV}.disks[].cdrom.readonly": (disk(disk=None, cdrom={"bus": "sata"})[1],
                                      disk(disk=None, cdrom={"bus": "sata",
                                                             "readonly": False})[1]),
    f"{DEV}.disks[].bootOrder": disk(bootOrder=1),
    f"{DEV}.disks[].serial": disk(serial="sn"),
    f"{DEV}.disks[].cache": disk(cache="writeback"),
    f"{DEV}.disks[].io": disk(io="native", cache="none"),
    f"{DEV}.disks[].errorPolicy": disk(errorPolicy="report"),
    f"{DEV}.disks[].shareable": disk(shareable=True, cache="none"),
    f"{DEV}.disks[].dedicatedIOThread": disk(dedicatedIOThread=True),
    f"{DEV}.disks[].blockSize.custom.logical": disk(blockSize={"custom": {
        "logical": 4096, "physical": 4096}}),
    f"{DEV}.disks[].blockSize.custom.physical": (
        disk(blockSize={"custom": {"logical": 512, "physical": 512}})[1],
        disk(blockSize={"custom": {"logical": 512, "physical": 4096}})[1]),
    f"{DEV}.interfaces[].model": iface(model="e1000"),
    f"{DEV}.interfaces[].macAddress": iface(macAddress="02:00:00:00:00:01"),
    f"{DEV}.interfaces[].bootOrder": iface(bootOrder=2),
    f"{DEV}.watchdog.name": ({}, devices(watchdog={"name": "wd", "i6300esb": {}})),
    f"{DEV}.watchdog.i6300esb": (devices(watchdog={"name": "wd", "i6300esb": {}}),
                                 devices(watchdog={"name": "wd", "i6300esb": {
                                     "action": "poweroff"}})),
    f"{DEV}.rng": ({}, devices(rng={})),
    f"{DEV}.inputs[].name": ({}, devices(inputs=[{"name": "tab", "type": "tablet"}])),
    f"{DEV}.inputs[].bus": (devices(inputs=[{"name": "tab", "type": "tablet"}]),
                            devices(inputs=[{"name": "tab", "type": "tablet", "bus": "virtio"}])),
    f"{DEV}.panicDevices[].model": ({}, devices(panicDevices=[{"model": "isa"}])),
    f"{DEV}.video.type": ({}, devices(video={"type": "bochs"})),
    f"{DEV}.autoattachGraphicsDevice": ({}, devices(autoattachGraphicsDevice=False)),
    f"{DEV}.autoattachSerialConsole": ({}, devices(autoattachSerialConsole=False)),
    f"{DEV}.autoattachMemBalloon": ({}, devices(autoattachMemBalloon=False)),
    f"{DEV}.autoattachInputDevice": ({}, devices(autoattachInputDevice=True)),
    f"{DEV}.blockMultiQueue": (merge(ROOT, domain(cpu={"sockets": 2})),
                               merge(ROOT, devices(blockMultiQueue=True))),
}

_PREPARED = "volume preparation (launcher/volumes.py, containerdisk.py) reads it; the argv " \
            "sees the result as DomainContext.volumes"
_NAME = "a name that joins one list entry to another (disk to volume, interface to network)"
_DEFAULT = "its only accepted value is the default, which is what runs without it"

#: Supported paths whose effect is outside the pod and the argv, or that have none: why.
ELSEWHERE: dict[str, str] = {
    "spec.evictionStrategy": "NO EFFECT: accepted, read by nothing (no eviction handling yet)",
    "spec.architecture": f"{_DEFAULT} (amd64; launcher/domain/machine.py refuses others)",
    "spec.startStrategy": "the launcher's supervisor keeps the guest paused "
                          "(launcher/supervisor.py); QEMU always starts with -S",
    "spec.networks[].name": _NAME,
    "spec.volumes[].name": _NAME,
    f"{DEV}.interfaces[].name": _NAME,
    "spec.volumes[].containerDisk.image": _PREPARED,
    "spec.volumes[].containerDisk.path": _PREPARED,
    "spec.volumes[].containerDisk.imagePullPolicy": _PREPARED,
    "spec.volumes[].containerDisk.imagePullSecret": _PREPARED,
    "spec.volumes[].ephemeral.persistentVolumeClaim.readOnly": (
        "the overlay is always on a read-only claim: the pod mounts it read-only either way"),
    "spec.volumes[].emptyDisk.capacity": _PREPARED,
    "spec.volumes[].hostDisk.capacity": _PREPARED,
    "spec.volumes[].configMap.optional": _PREPARED,
    "spec.volumes[].configMap.volumeLabel": _PREPARED,
    "spec.volumes[].secret.optional": _PREPARED,
    "spec.volumes[].secret.volumeLabel": _PREPARED,
    **{f"spec.volumes[].{kind}.{f}": _PREPARED
       for kind in ("cloudInitNoCloud", "cloudInitConfigDrive")
       for f in ("userData", "userDataBase64", "networkData", "networkDataBase64")},
    **{f"spec.accessCredentials[].sshPublicKey.propagationMethod.{how}": (
        "the launcher puts the Secret's keys into the cloud-init volume's meta-data "
        "(launcher/cloudinit.py access_credential_keys)") for how in ("noCloud", "configDrive")},
    f"{D}.clock.timer.rtc.present": f"{_DEFAULT} (true: clock.py refuses removing the RTC)",
    f"{D}.features.apic.enabled": f"{_DEFAULT} (true: q35 always has an APIC)",
    f"{D}.firmware.bootloader.efi.persistent": _DEFAULT,
    f"{D}.firmware.bootloader.bios.useSerial": _DEFAULT,
    f"{DEV}.disks[].cdrom.tray": f"{_DEFAULT} (closed; disks.py refuses an open tray)",
    f"{DEV}.interfaces[].bridge": "the handler's network plan (handler/network/plan.py) "
                                  "wires the binding; the launcher's argv is the same TAP",
    f"{DEV}.interfaces[].masquerade": "the handler's network plan (handler/network/plan.py) "
                                      "wires the binding; the launcher's argv is the same TAP",
    f"{DEV}.interfaces[].ports": "the handler's masquerade table (handler/network/render.py)",
    f"{DEV}.interfaces[].state": f"{_DEFAULT} (up; nics.py refuses others)",
    f"{DEV}.watchdog.i6300Esb": "the model's own alias of watchdog.i6300esb",
    f"{DEV}.inputs[].type": f"{_DEFAULT} (tablet)",
    f"{DEV}.autoattachPodInterface": "admission defaulting: no pod network is added when "
                                      "false (apiserver/defaults.py)",
    f"{DEV}.disableHotplug": "NO EFFECT: virtkube has no hotplug to disable",
}


def observe(vmi: Obj) -> tuple[str, list[str]]:
    model = VirtualMachineInstance.model_validate(vmi)
    return json.dumps(launcher_pod(model, OPTS), sort_keys=True), build_argv(model, CTX)


def _paths() -> list[str]:
    return sorted(SUPPORTED - OFF_IS_FINE)


def test_every_supported_path_has_a_row() -> None:
    missing = [p for p in _paths() if p not in EFFECTS and p not in ELSEWHERE]
    stale = [p for p in [*EFFECTS, *ELSEWHERE] if p not in SUPPORTED]
    assert not missing, f"supported paths with neither an effect row nor a reason: {missing}"
    assert not stale, f"rows for paths no longer supported: {stale}"
    assert not set(EFFECTS) & set(ELSEWHERE)


def test_the_observation_is_stable() -> None:
    """Without it every row would pass: the same VMI must render the same pod and argv."""
    vmi = merge(merge(BASE, ROOT), NET)
    assert observe(vmi) == observe(merge(vmi, {}))


@pytest.mark.parametrize("path", sorted(EFFECTS))
def test_supported_path_changes_the_pod_or_the_argv(path: str) -> None:
    without, patch = EFFECTS[path]
    before = merge(BASE, without)
    after = merge(before, patch)
    assert observe(after) != observe(before), f"{path} changes neither the pod nor the argv"


@pytest.mark.parametrize("path", sorted(OFF_IS_FINE))
def test_off_is_fine_paths_refuse_true(path: str) -> None:
    vmi = merge(BASE, ROOT)
    parts = path.removeprefix("spec.").replace("[]", "").split(".")
    if parts[0] == "volumes":  # a source of the root volume: the one path of that kind
        vmi = merge(BASE, vol({parts[1]: {"path": "/srv/a.img", "type": "Disk"}})[1])
    node: Any = vmi["spec"]
    for part in parts[:-1]:
        node = node["volumes"][0] if part == "volumes" else node.setdefault(part, {})
    node[parts[-1]] = True
    with pytest.raises(UnsupportedFieldError):
        check_supported(VirtualMachineInstance.model_validate(vmi))
