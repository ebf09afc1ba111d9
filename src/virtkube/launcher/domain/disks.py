"""Disks and CD-ROMs: a -blockdev chain per volume and a guest device per bus.

Each disk gets a protocol node (the file or block device) and a format node
(raw or qcow2, whose backing chain QEMU opens by itself), then a device on its
bus: virtio-blk, the q35 AHCI controller's six SATA ports, or one virtio-scsi
controller. Cache modes follow libvirt's mapping of KubeVirt's `cache`
(none = O_DIRECT + guest write cache; writethrough = no guest write cache;
writeback = both caches). Unset cache means none where O_DIRECT works, else
writethrough, as KubeVirt decides per volume.
"""

from __future__ import annotations

from virtkube.api.devices import Disk
from virtkube.api.facts import vcpus
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext, ResolvedVolume
from virtkube.launcher.domain.qemuopts import Value, opts_map
from virtkube.launcher.errors import LauncherError, SpecError, UnsupportedFieldError

#: KubeVirt's default bus on amd64 (pkg/defaults: SATA for disks and CD-ROMs).
DEFAULT_BUS = "sata"
#: Ports of q35's built-in ICH9 AHCI controller (ide.0 .. ide.5).
SATA_PORTS = 6
_ERROR_POLICY = {
    "stop": ("stop", "stop"),
    "ignore": ("ignore", "ignore"),
    "report": ("report", "report"),
    "enospace": ("enospc", "report"),
}


def disk_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    disks = vmi.spec.domain.devices.disks or []
    args: list[str] = []
    sata_port = 0
    scsi_lun = 0
    for index, disk in enumerate(disks):
        path = f"spec.domain.devices.disks[{index}]"
        volume = ctx.volumes.get(disk.name)
        if volume is None:
            if disk.name not in {v.name for v in vmi.spec.volumes or []}:
                raise SpecError(f"{path}.name", f"no volume named {disk.name!r}")
            raise LauncherError(f"volume {disk.name!r} was not prepared before conversion")
        bus, cdrom, readonly = _target(disk, path)
        readonly = readonly or volume.read_only
        node = f"drive-{index}"
        args += _blockdev(disk, volume, node, readonly, path)
        if disk.dedicated_io_thread:
            if bus != "virtio":
                raise SpecError(f"{path}.dedicatedIOThread", "only for disks on the virtio bus")
            args += ["-object", f"iothread,id=iothread-{index}"]
        device = _device_props(vmi, disk, volume, node, path)
        if bus == "virtio":
            if disk.dedicated_io_thread:
                device["iothread"] = f"iothread-{index}"
            if vmi.spec.domain.devices.block_multi_queue:
                device["num-queues"] = vcpus(vmi.spec.domain)
            args += ["-device", opts_map("virtio-blk-pci", device)]
        elif bus == "sata":
            if sata_port >= SATA_PORTS:
                raise SpecError(
                    f"{path}", f"at most {SATA_PORTS} disks and CD-ROMs on the sata bus"
                )
            device = {"bus": f"ide.{sata_port}", **device}
            sata_port += 1
            args += ["-device", opts_map("ide-cd" if cdrom else "ide-hd", device)]
        else:  # scsi
            if scsi_lun == 0:
                args += ["-device", "virtio-scsi-pci,id=scsi0"]
            device = {"bus": "scsi0.0", "channel": 0, "scsi-id": 0, "lun": scsi_lun, **device}
            scsi_lun += 1
            args += ["-device", opts_map("scsi-cd" if cdrom else "scsi-hd", device)]
    return args


def _target(disk: Disk, path: str) -> tuple[str, bool, bool]:
    """(bus, is_cdrom, read_only) of a disk entry."""
    targets = [t for t in (disk.disk, disk.cdrom, disk.lun) if t is not None]
    if len(targets) > 1:
        raise SpecError(path, "set only one of disk, cdrom and lun")
    if disk.lun is not None:
        raise UnsupportedFieldError(f"{path}.lun")
    if disk.cdrom is not None:
        bus = disk.cdrom.bus or DEFAULT_BUS
        if disk.cdrom.tray == "open":
            raise UnsupportedFieldError(f"{path}.cdrom.tray", "an open tray")
        if bus == "virtio":
            raise SpecError(f"{path}.cdrom.bus", "a CD-ROM cannot be on the virtio bus")
        if bus == "usb":
            raise UnsupportedFieldError(f"{path}.cdrom.bus", "bus usb")
        return bus, True, disk.is_read_only()
    target = disk.disk
    bus = (target.bus if target else None) or DEFAULT_BUS
    if bus == "usb":
        raise UnsupportedFieldError(f"{path}.disk.bus", "bus usb")
    return bus, False, disk.is_read_only()


def _cache(disk: Disk, volume: ResolvedVolume, path: str) -> tuple[bool, bool]:
    """(O_DIRECT on the host, write cache seen by the guest)."""
    mode = disk.cache or ("none" if volume.direct_io else "writethrough")
    if mode == "none" and not volume.direct_io:
        raise SpecError(
            f"{path}.cache", "cache none needs O_DIRECT, which this volume's storage lacks"
        )
    return mode == "none", mode != "writethrough"


def _blockdev(
    disk: Disk, volume: ResolvedVolume, node: str, readonly: bool, path: str
) -> list[str]:
    direct, _ = _cache(disk, volume, path)
    if disk.io == "native" and not direct:
        raise SpecError(f"{path}.io", "io native needs cache none")
    aio = "native" if disk.io == "native" else "threads"
    cache: dict[str, Value] = {"cache.direct": direct, "cache.no-flush": False}
    storage: dict[str, Value] = {
        "driver": "host_device" if volume.block else "file",
        "node-name": f"{node}-storage",
        "filename": volume.path,
        "aio": aio,
        **cache,
        "read-only": readonly,
    }
    fmt: dict[str, Value] = {
        "driver": volume.format,
        "node-name": node,
        "file": f"{node}-storage",
        **cache,
        "read-only": readonly,
    }
    return ["-blockdev", opts_map(None, storage), "-blockdev", opts_map(None, fmt)]


def _device_props(
    vmi: VirtualMachineInstance, disk: Disk, volume: ResolvedVolume, node: str, path: str
) -> dict[str, str | int | bool | None]:
    _, write_cache = _cache(disk, volume, path)
    props: dict[str, str | int | bool | None] = {
        "drive": node,
        "id": f"ua-{disk.name}",
        "bootindex": disk.boot_order,
        "serial": disk.serial,
        "write-cache": write_cache,
    }
    if disk.error_policy:
        props["werror"], props["rerror"] = _ERROR_POLICY[disk.error_policy]
    if disk.shareable:
        props["share-rw"] = True
    custom = disk.block_size.custom if disk.block_size else None
    if custom is not None:
        props["logical_block_size"] = custom.logical
        props["physical_block_size"] = custom.physical
    return props
