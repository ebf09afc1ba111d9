"""spec.domain.devices: disks, consoles, RNG, watchdog and the other guest devices.

Network interfaces are devices too, but live in network.py with the networks
they attach to.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from virtkube.api.base import Empty, KubeVirtModel
from virtkube.api.features import FeatureState
from virtkube.api.network import Interface

DiskBus = Literal["virtio", "sata", "scsi", "usb"]
DriverCache = Literal["none", "writethrough", "writeback"]
DriverIO = Literal["native", "default", "threads"]
DiskErrorPolicy = Literal["stop", "ignore", "report", "enospace"]


class DiskTarget(KubeVirtModel):
    """Attach a volume as a disk to the vmi."""

    bus: DiskBus | None = None
    """Bus indicates the type of disk device to emulate: virtio, sata, scsi, usb."""
    readonly: bool | None = None
    """ReadOnly. Defaults to false."""
    pci_address: str | None = None
    """Place the disk on this guest PCI address, for example 0000:81:01.10."""


class LunTarget(KubeVirtModel):
    """Attach a volume as a LUN to the vmi."""

    bus: DiskBus | None = None
    readonly: bool | None = None
    reservation: bool | None = None
    """Whether the disk needs to support SCSI persistent reservation."""


class CDRomTarget(KubeVirtModel):
    """Attach a volume as a cdrom to the vmi."""

    bus: DiskBus | None = None
    readonly: bool | None = None
    """ReadOnly. Defaults to true."""
    tray: Literal["open", "closed"] | None = None
    """Whether the tray is open or closed. Defaults to closed."""


class CustomBlockSize(KubeVirtModel):
    logical: int | None = None
    physical: int | None = None
    discard_granularity: int | None = None


class BlockSize(KubeVirtModel):
    """The block size presented to the guest. Only one of its members may be specified."""

    custom: CustomBlockSize | None = None
    match_volume: FeatureState | None = None


class Disk(KubeVirtModel):
    """A disk, cdrom or LUN, backed by the volume of the same name."""

    name: str
    """Name is the device name; it must match a volume."""
    disk: DiskTarget | None = None
    lun: LunTarget | None = None
    cdrom: CDRomTarget | None = None
    boot_order: int | None = None
    """Boot order (> 0), unique among disks and interfaces; lower values boot first."""
    serial: str | None = None
    """Serial number presented for the disk device."""
    dedicated_io_thread: bool | None = Field(default=None, alias="dedicatedIOThread")
    """Give this disk an exclusive IO thread. Defaults to false."""
    cache: DriverCache | None = None
    """Host cache mode: none, writethrough or writeback."""
    io: DriverIO | None = None
    """QEMU disk IO mode: native, default or threads."""
    tag: str | None = None
    """If specified, disk address and tag are given to the guest via config drive metadata."""
    block_size: BlockSize | None = None
    shareable: bool | None = None
    """Make the disk sharable, allowing writes from several VMs."""
    error_policy: DiskErrorPolicy | None = None
    """What to do on an IO error (default stop)."""
    changed_block_tracking: bool | None = None

    def is_read_only(self) -> bool:
        """Whether the guest gets this disk read-only: a CD-ROM unless `readonly: false`,
        a disk or LUN only with `readonly: true`. The launcher pod mounts a volume only
        such disks use read-only, and QEMU opens it read-only."""
        if self.cdrom is not None:
            return self.cdrom.readonly is not False
        target = self.disk or self.lun
        return bool(target and target.readonly)


class WatchdogAction(KubeVirtModel):
    action: Literal["poweroff", "reset", "shutdown"] | None = None
    """The action to take when the watchdog fires. Defaults to reset."""


class Watchdog(KubeVirtModel):
    """Named watchdog device. Exactly one model must be set."""

    name: str
    i6300esb: WatchdogAction | None = None
    diag288: WatchdogAction | None = None


class Input(KubeVirtModel):
    name: str
    type: Literal["tablet", "keyboard"]
    bus: Literal["usb", "virtio"] | None = None


class Rng(KubeVirtModel):
    """A virtio random number generator fed by the host."""


class ClaimRequest(KubeVirtModel):
    """DRA: the resource claim and request a device is allocated from (alpha)."""

    claim_name: str | None = None
    request_name: str | None = None


class VGPUDisplayOptions(KubeVirtModel):
    enabled: bool | None = None
    ram_fb: FeatureState | None = Field(default=None, alias="ramFB")


class VGPUOptions(KubeVirtModel):
    display: VGPUDisplayOptions | None = None


class GPU(ClaimRequest):
    name: str
    device_name: str | None = None
    """Name of the device provisioned by a device plugin."""
    virtual_gpu_options: VGPUOptions | None = Field(default=None, alias="virtualGPUOptions")
    tag: str | None = None


class HostDevice(ClaimRequest):
    name: str
    device_name: str | None = None
    tag: str | None = None


class Filesystem(KubeVirtModel):
    """A virtiofs filesystem shared with the guest."""

    name: str
    virtiofs: Empty


class PanicDevice(KubeVirtModel):
    model: Literal["hyperv", "isa", "pvpanic"] | None = None


class SoundDevice(KubeVirtModel):
    name: str
    model: Literal["ich9", "ac97"] | None = None


class TPMDevice(KubeVirtModel):
    enabled: bool | None = None
    """Defaults to true."""
    persistent: bool | None = None
    """Keep the TPM state across reboots. Defaults to false."""


class VideoDevice(KubeVirtModel):
    type: str | None = None
    """Video device type (virtio, vga, bochs, ramfb); default depends on arch and firmware."""


class Devices(KubeVirtModel):
    """Devices attached to the guest."""

    use_virtio_transitional: bool | None = None
    """Fall back to legacy virtio 0.9 (for old guests such as CentOS 6)."""
    disable_hotplug: bool | None = None
    disks: list[Disk] | None = Field(default=None, max_length=256)
    """Disks, cdroms and luns connected to the vmi."""
    watchdog: Watchdog | None = None
    interfaces: list[Interface] | None = Field(default=None, max_length=256)
    """Network interfaces added to the vmi."""
    inputs: list[Input] | None = None
    autoattach_pod_interface: bool | None = None
    """Whether to attach a pod network interface. Defaults to true."""
    autoattach_graphics_device: bool | None = None
    """Whether to attach the default graphics device (VNC). Defaults to true."""
    autoattach_serial_console: bool | None = None
    """Whether to attach the default serial console. Defaults to true."""
    log_serial_console: bool | None = None
    """Whether to log the auto-attached serial console."""
    autoattach_mem_balloon: bool | None = None
    """Whether to attach the memory balloon device. Defaults to true."""
    autoattach_input_device: bool | None = None
    """Whether to attach an input device. Defaults to false."""
    autoattach_vsock: bool | None = Field(default=None, alias="autoattachVSOCK")
    """Whether to attach a VSOCK CID to the VM. Defaults to false."""
    rng: Rng | None = None
    """Whether to have a random number generator from the host."""
    block_multi_queue: bool | None = None
    network_interface_multiqueue: bool | None = None
    gpus: list[GPU] | None = None
    downward_metrics: Empty | None = None
    panic_devices: list[PanicDevice] | None = None
    filesystems: list[Filesystem] | None = None
    host_devices: list[HostDevice] | None = None
    client_passthrough: Empty | None = None
    """Turns on USB redirection."""
    sound: SoundDevice | None = None
    tpm: TPMDevice | None = None
    video: VideoDevice | None = None
