"""Preparing a VMI's volumes on the host: the impure half of the conversion.

Each volume source becomes a file or block device QEMU can open, described by
a `ResolvedVolume` for the pure argv conversion. Ephemeral state (containerDisk
and ephemeral overlays, empty disks, ISOs, EFI vars) goes into the run's state
dir and is remade on every start; persistent data (PVCs, host disks) is only
created when missing, never overwritten. Layout of mounted sources follows
KubeVirt (/var/run/kubevirt-private/{vmi-disks,secret,config-map}/<volume>).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from virtkube.api.names import is_dns_label
from virtkube.api.quantity import to_bytes
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.api.volumes import Volume
from virtkube.launcher import cloudinit, containerdisk, diskcontainer, qemuimg, safepath
from virtkube.launcher.domain.context import FirmwareFiles, KernelFiles, ResolvedVolume
from virtkube.launcher.domain.firmware import secure_boot, uses_efi
from virtkube.launcher.errors import LauncherError, VolumeError
from virtkube.launcher.isofs import write_iso
from virtkube.launcher.paths import HostOptions, RunPaths

#: A filesystem PVC's disk in its mount (KubeVirt: a regular file, created when missing).
DISK_IMG = "disk.img"


@dataclass(frozen=True)
class PreparedVolumes:
    volumes: dict[str, ResolvedVolume] = field(default_factory=dict)
    efi_vars: Path | None = None
    kernel: KernelFiles = field(default_factory=KernelFiles)


def supports_direct_io(path: Path) -> bool:
    """Whether O_DIRECT opens work where `path` lives (tmpfs: no)."""
    probe = path if path.exists() else path.parent
    if probe.is_dir():
        try:
            fd = os.open(probe, os.O_RDONLY | os.O_TMPFILE | os.O_DIRECT)
        except OSError:
            return False
        os.close(fd)
        return True
    try:
        fd = os.open(probe, os.O_RDONLY | os.O_DIRECT)
    except OSError as e:
        return e.errno != errno.EINVAL
    os.close(fd)
    return True


def prepare(
    vmi: VirtualMachineInstance,
    paths: RunPaths,
    host: HostOptions,
    firmware: FirmwareFiles | None = None,
) -> PreparedVolumes:
    state = paths.state_dir
    state.mkdir(parents=True, exist_ok=True)
    resolved: dict[str, ResolvedVolume] = {}
    for volume in vmi.spec.volumes or []:
        if not is_dns_label(volume.name):
            # Volume names become paths (vmi-disks/<name>/, state files): never `..` or `/`.
            raise VolumeError(volume.name, "the name is not a DNS-1123 label; refused")
        try:
            resolved[volume.name] = _prepare_one(vmi, volume, state, host)
        except VolumeError:
            raise
        except (LauncherError, OSError) as e:
            raise VolumeError(volume.name, str(e)) from e
    efi_vars = _efi_vars(vmi, state, firmware or FirmwareFiles())
    return PreparedVolumes(volumes=resolved, efi_vars=efi_vars, kernel=_kernel(vmi, host))


def _prepare_one(
    vmi: VirtualMachineInstance, volume: Volume, state: Path, host: HostOptions
) -> ResolvedVolume:
    name = volume.name
    if volume.container_disk is not None:
        cd = volume.container_disk
        if host.container_disks_dir is not None:
            root = diskcontainer.container_root(host.container_disks_dir, name)
            base = diskcontainer.disk_file(root, cd.image, cd.path)
        elif host.image_store is not None:
            base = containerdisk.resolve(cd.image, host.image_store, cache=host.cache_dir,
                                         path=cd.path)
        else:
            raise VolumeError(name, "containerDisk needs its disk container "
                                    "(--container-disks-dir) or an image store (--image-store)")
        overlay = state / f"{name}.containerdisk.qcow2"
        qemuimg.create_overlay(base, overlay)
        return ResolvedVolume(overlay, "qcow2", direct_io=supports_direct_io(state))
    if volume.persistent_volume_claim is not None or volume.data_volume is not None:
        read_only = bool(
            volume.persistent_volume_claim and volume.persistent_volume_claim.read_only
        )
        return _pvc(vmi, name, host, read_only=read_only)
    if volume.ephemeral is not None:
        source = _pvc(vmi, name, host, read_only=True, create=False)
        overlay = state / f"{name}.ephemeral.qcow2"
        qemuimg.create_overlay(source.path, overlay, base_format="raw")
        return ResolvedVolume(overlay, "qcow2", direct_io=supports_direct_io(state))
    if volume.empty_disk is not None:
        path = state / f"{name}.emptydisk.qcow2"
        path.unlink(missing_ok=True)
        qemuimg.create_qcow2(path, to_bytes(volume.empty_disk.capacity))
        return ResolvedVolume(path, "qcow2", direct_io=supports_direct_io(state))
    if volume.host_disk is not None:
        return _host_disk(volume, host)
    if volume.cloud_init_no_cloud is not None:
        secrets = host.mounts_dir / "secret"
        data = cloudinit.load_source(name, volume.cloud_init_no_cloud, secrets)
        keys = cloudinit.access_credential_keys(vmi, "noCloud", secrets, name)
        files = cloudinit.nocloud_files(vmi, replace(data, public_keys=keys))
        return _iso(state, name, cloudinit.NOCLOUD_LABEL, files)
    if volume.cloud_init_config_drive is not None:
        drive = volume.cloud_init_config_drive
        secrets = host.mounts_dir / "secret"
        data = cloudinit.load_source(name, drive, secrets)
        keys = cloudinit.access_credential_keys(vmi, "configDrive", secrets, name)
        files = cloudinit.config_drive_files(vmi, replace(data, public_keys=keys))
        return _iso(state, name, cloudinit.CONFIG_DRIVE_LABEL, files)
    if volume.config_map is not None:
        cm = volume.config_map
        files = _dir_files(name, host.mounts_dir / "config-map" / name, optional=bool(cm.optional))
        return _iso(state, name, cm.volume_label or name, files)
    if volume.secret is not None:
        sec = volume.secret
        files = _dir_files(name, host.mounts_dir / "secret" / name, optional=bool(sec.optional))
        return _iso(state, name, sec.volume_label or name, files)
    if volume.service_account is not None:
        files = _dir_files(name, host.mounts_dir / "service-account", optional=False)
        return _iso(state, name, name, files)
    raise VolumeError(name, "no volume source virtkube supports is set")


def _pvc(
    vmi: VirtualMachineInstance,
    name: str,
    host: HostOptions,
    *,
    read_only: bool,
    create: bool = True,
) -> ResolvedVolume:
    """The PVC's disk: disk.img in its mount, else the block device the pod was given.

    The mount is looked at first: on a node whose containers see the host's /dev, a
    volume named like a host disk (`sda`) must not become that disk.
    """
    mount = host.mounts_dir / "vmi-disks" / name
    if mount.is_dir():
        image = mount / DISK_IMG
        try:
            safepath.regular_file(mount, DISK_IMG, what="PVC disk image")
        except FileNotFoundError:
            if not create or read_only:
                raise VolumeError(name, f"{image} does not exist") from None
            qemuimg.create_raw(image, _pvc_capacity(vmi, name, mount))
        return ResolvedVolume(image, "raw", read_only=read_only,
                              direct_io=supports_direct_io(image))
    device = host.block_dir / name
    with contextlib.suppress(OSError):
        if stat.S_ISBLK(os.lstat(device).st_mode):
            return ResolvedVolume(device, "raw", block=True, read_only=read_only)
    raise VolumeError(name, f"PVC not mounted: neither {device} nor {mount} exists")


def _pvc_capacity(vmi: VirtualMachineInstance, name: str, mount: Path) -> int:
    """The PVC's capacity from the VMI status, else the free space of its mount (KubeVirt)."""
    for status in (vmi.status.volume_status or []) if vmi.status else []:
        info = status.persistent_volume_claim_info or {}
        capacity = info.get("capacity", {}).get("storage") if status.name == name else None
        if capacity is not None:
            return to_bytes(capacity)
    usage = shutil.disk_usage(mount)
    # Leave 1 MiB alignment slack; a sparse file costs nothing until written.
    return usage.free // (1 << 20) * (1 << 20)


def _host_disk(volume: Volume, host: HostOptions) -> ResolvedVolume:
    """KubeVirt's layout: the pod mounts the folder of hostDisk.path (a hostPath volume) at
    vmi-disks/<volume>/, and the disk is the file of that name there, nothing outside it."""
    assert volume.host_disk is not None
    hd = volume.host_disk
    mount = host.mounts_dir / "vmi-disks" / volume.name
    if not mount.is_dir():
        raise VolumeError(volume.name, f"hostDisk not mounted: the launcher pod mounts the "
                                       f"folder of {hd.path} at {mount}, which is missing")
    file_name = PurePosixPath(hd.path).name
    path = safepath.resolve_inside(mount, file_name, what="hostDisk image")
    if not path.exists():
        if hd.type == "Disk":
            raise VolumeError(volume.name, f"hostDisk {hd.path} does not exist (type Disk)")
        if hd.capacity is None:
            raise VolumeError(volume.name, "hostDisk DiskOrCreate needs a capacity")
        path = mount / safepath.relative_name(file_name, "hostDisk image")
        qemuimg.create_raw(path, to_bytes(hd.capacity))
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
        raise VolumeError(volume.name, f"hostDisk {hd.path} is not a file or a block device")
    return ResolvedVolume(path, "raw", block=stat.S_ISBLK(mode),
                          direct_io=supports_direct_io(path))


def _dir_files(name: str, folder: Path, *, optional: bool) -> dict[str, bytes]:
    """A mounted ConfigMap/Secret: its keys (kubelet's `..data` links skipped).

    The kubelet makes each key a link into `..data/` of the same folder; a key that
    leads outside the folder is refused, not read.
    """
    if not folder.is_dir():
        if optional:
            return {}
        raise VolumeError(name, f"not mounted at {folder}")
    files = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".."):
            continue
        if safepath.resolve_inside(folder, entry.name, what="key").is_file():
            files[entry.name] = safepath.read_inside(folder, entry.name, what="key")
    return files


def _iso(state: Path, name: str, label: str, files: dict[str, bytes]) -> ResolvedVolume:
    path = state / f"{name}.iso"
    write_iso(path, label, files)
    return ResolvedVolume(path, "raw", direct_io=supports_direct_io(state))


def _efi_vars(vmi: VirtualMachineInstance, state: Path, firmware: FirmwareFiles) -> Path | None:
    if not uses_efi(vmi):
        return None
    template = firmware.secure_vars if secure_boot(vmi) else firmware.vars
    if not template.is_file():
        raise LauncherError(f"EFI firmware requested but {template} is missing (apt: ovmf)")
    target = state / "efi-vars.fd"
    shutil.copyfile(template, target)
    return target


def _kernel(vmi: VirtualMachineInstance, host: HostOptions) -> KernelFiles:
    fw = vmi.spec.domain.firmware
    container = fw.kernel_boot.container if fw and fw.kernel_boot else None
    if container is None:
        return KernelFiles()
    if host.container_disks_dir is not None:
        root = diskcontainer.container_root(host.container_disks_dir, diskcontainer.KERNEL_BOOT)
        image = container.image

        def member(name: str | None) -> Path | None:
            return None if name is None else diskcontainer.image_file(root, image, name)

        return KernelFiles(kernel=member(container.kernel_path),
                           initrd=member(container.initrd_path))
    if host.image_store is None:
        raise LauncherError("kernelBoot.container needs its container (--container-disks-dir) "
                            "or an image store (--image-store)")

    def get(member: str | None) -> Path | None:
        if member is None:
            return None
        return (
            containerdisk.extract_file(
                container.image, host.image_store, member, cache=host.cache_dir
            )
            if host.image_store
            else None
        )

    return KernelFiles(kernel=get(container.kernel_path), initrd=get(container.initrd_path))
