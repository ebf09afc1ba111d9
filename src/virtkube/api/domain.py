"""spec.domain: the virtual hardware of one guest (CPU, memory, firmware, clock, devices).

This is what virt-launcher turns into a QEMU command line; every field here has
a KubeVirt counterpart in `DomainSpec` (api/core/v1/schema.go).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from virtkube.api.base import Empty, KubeVirtModel
from virtkube.api.devices import Devices
from virtkube.api.features import Features
from virtkube.api.quantity import Quantity


class ResourceRequirements(KubeVirtModel):
    """Compute resources of the VMI; the launcher pod requests them plus overhead."""

    requests: dict[str, Quantity] | None = None
    """Initial vmi resources; valid keys are memory and cpu."""
    limits: dict[str, Quantity] | None = None
    """Maximum compute resources allowed; valid keys are memory and cpu."""
    overcommit_guest_overhead: bool | None = None
    """Put the guest-management overhead only into the container's memory limit."""


class CPUFeature(KubeVirtModel):
    name: str
    """Name of the CPU feature."""
    policy: Literal["force", "require", "optional", "disable", "forbid"] | None = None
    """How the feature is applied. Defaults to require."""


class Realtime(KubeVirtModel):
    mask: str | None = None
    """The vCPUs used for realtime, in libvirt's syntax ("0-3,^1")."""


class NUMA(KubeVirtModel):
    guest_mapping_passthrough: Empty | None = None
    """Model a guest NUMA topology that follows the host's for the pinned CPUs."""


class CPU(KubeVirtModel):
    """The CPU topology and model of the guest."""

    cores: int | None = Field(default=None, ge=0)
    """Cores per socket. Must be a value greater or equal 1."""
    sockets: int | None = Field(default=None, ge=0)
    """Sockets. Must be a value greater or equal 1."""
    max_sockets: int | None = Field(default=None, ge=0)
    """Maximum number of sockets that can be hotplugged."""
    threads: int | None = Field(default=None, ge=0)
    """Threads per core. Must be a value greater or equal 1."""
    model: str | None = None
    """CPU model, or host-passthrough / host-model. Defaults to host-model."""
    features: list[CPUFeature] | None = None
    dedicated_cpu_placement: bool | None = None
    """Pin the vCPUs to dedicated host CPUs."""
    numa: NUMA | None = None
    isolate_emulator_thread: bool | None = None
    """Give the emulator thread one more dedicated CPU."""
    realtime: Realtime | None = None


class Hugepages(KubeVirtModel):
    page_size: str | None = None
    """Hugepage size; on x86_64 1Gi or 2Mi."""


class ReservedOverhead(KubeVirtModel):
    """Extra memory reserved for the launcher on top of the computed overhead."""

    added_overhead: Quantity | None = None
    mem_lock: Literal["Required", "NotRequired"] | None = None


class Memory(KubeVirtModel):
    """Guest memory."""

    hugepages: Hugepages | None = None
    guest: Quantity | None = None
    """Memory visible to the guest. Defaults to the requested memory."""
    max_guest: Quantity | None = None
    """Maximum guest memory; the difference to guest can be hotplugged."""
    reserved_overhead: ReservedOverhead | None = None


class Machine(KubeVirtModel):
    type: str | None = None
    """QEMU machine type (the chipset), e.g. q35."""


class BIOS(KubeVirtModel):
    """Boot with BIOS (the default)."""

    use_serial: bool | None = None
    """Transmit the BIOS output over the serial console."""


class EFI(KubeVirtModel):
    """Boot with EFI (OVMF)."""

    secure_boot: bool | None = None
    """Enable SecureBoot (requires SMM). Defaults to true."""
    persistent: bool | None = None
    """Persist the EFI NVRAM across reboots. Defaults to false."""


class Bootloader(KubeVirtModel):
    bios: BIOS | None = None
    efi: EFI | None = None


class KernelBootContainer(KubeVirtModel):
    """A container image holding the kernel and initrd to boot."""

    image: str
    image_pull_secret: str | None = None
    image_pull_policy: Literal["Always", "Never", "IfNotPresent"] | None = None
    kernel_path: str | None = None
    """Path of the kernel image inside the container."""
    initrd_path: str | None = None
    """Path of the initrd inside the container."""


class KernelBoot(KubeVirtModel):
    """Direct kernel boot: kernel, initrd and command line."""

    kernel_args: str | None = None
    """Arguments passed to the kernel at boot time."""
    container: KernelBootContainer | None = None


class ACPI(KubeVirtModel):
    slic_name_ref: str | None = None
    msdm_name_ref: str | None = None


class Firmware(KubeVirtModel):
    uuid: str | None = None
    """UUID reported by the BIOS. Defaults to a random one."""
    bootloader: Bootloader | None = None
    serial: str | None = None
    """The system-serial-number in SMBIOS."""
    kernel_boot: KernelBoot | None = None
    acpi: ACPI | None = None


class ClockOffsetUTC(KubeVirtModel):
    offset_seconds: int | None = None
    """Offset relative to UTC; guest changes to the clock are then kept over reboots."""


class Timer(KubeVirtModel):
    """Whether a guest timer is present (`present`), and its tick policy."""

    tick_policy: str | None = None
    present: bool | None = None
    """False keeps the machine type from adding the timer. Defaults to true."""


class RTCTimer(Timer):
    track: Literal["guest", "wall"] | None = None


class Timers(KubeVirtModel):
    hpet: Timer | None = None
    kvm: Timer | None = None
    pit: Timer | None = None
    rtc: RTCTimer | None = None
    hyperv: Timer | None = None


class Clock(KubeVirtModel):
    """The guest clock: UTC (with an offset) or a timezone, and its timers."""

    utc: ClockOffsetUTC | None = None
    timezone: str | None = None
    """Timezone in TZ format, e.g. America/New_York."""
    timer: Timers | None = None


class DiskIOThreads(KubeVirtModel):
    supplemental_pool_thread_count: int | None = None


class Chassis(KubeVirtModel):
    manufacturer: str | None = None
    version: str | None = None
    serial: str | None = None
    asset: str | None = None
    sku: str | None = None


class SEVPolicy(KubeVirtModel):
    encrypted_state: bool | None = None


class SEV(KubeVirtModel):
    policy: SEVPolicy | None = None
    attestation: Empty | None = None
    session: str | None = None
    dh_cert: str | None = None


class LaunchSecurity(KubeVirtModel):
    """Confidential computing (AMD SEV, Intel TDX); not supported by virtkube yet."""

    sev: SEV | None = None
    tdx: Empty | None = None


class DomainSpec(KubeVirtModel):
    """The virtual hardware of the guest."""

    resources: ResourceRequirements | None = None
    """Compute resources required by this vmi."""
    cpu: CPU | None = None
    memory: Memory | None = None
    machine: Machine | None = None
    firmware: Firmware | None = None
    clock: Clock | None = None
    features: Features | None = None
    devices: Devices
    """Disks, network interfaces and other devices."""
    io_threads_policy: Literal["shared", "auto", "supplementalPool"] | None = None
    """Whether disks share IO threads; unset disables IO threads."""
    io_threads: DiskIOThreads | None = None
    chassis: Chassis | None = None
    launch_security: LaunchSecurity | None = None
    reboot_policy: Literal["Reboot", "Terminate"] | None = None
    """Reboot (default) lets the guest reboot; Terminate ends the VMI on a guest reboot."""
