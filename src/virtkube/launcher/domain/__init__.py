"""VMI -> QEMU argv: a pure function built from one small function per feature.

Like KubeVirt's domain configurators, each feature function reads the spec and
returns its own arguments; `build_argv` checks that every set field is one
virtkube runs, then concatenates. Nothing here touches the host: paths, the
accelerator and prepared volumes arrive in a `DomainContext`.
"""

from __future__ import annotations

from collections.abc import Callable

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.clock import clock_args
from virtkube.launcher.domain.context import (
    DomainContext,
    FirmwareFiles,
    KernelFiles,
    ResolvedVolume,
)
from virtkube.launcher.domain.cpu import cpu_args
from virtkube.launcher.domain.devices import (
    balloon_args,
    panic_args,
    rng_args,
    vsock_args,
    watchdog_args,
)
from virtkube.launcher.domain.disks import disk_args
from virtkube.launcher.domain.features import features_args
from virtkube.launcher.domain.firmware import firmware_args
from virtkube.launcher.domain.graphics import graphics_args, input_args
from virtkube.launcher.domain.machine import machine_args
from virtkube.launcher.domain.memory import memory_args
from virtkube.launcher.domain.nics import nic_args
from virtkube.launcher.domain.process import process_args
from virtkube.launcher.domain.serial import serial_args
from virtkube.launcher.domain.supported import check_supported

Feature = Callable[[VirtualMachineInstance, DomainContext], list[str]]

#: In command-line order. Each entry is one feature with its own golden table.
FEATURES: tuple[Feature, ...] = (
    process_args,
    machine_args,
    cpu_args,
    memory_args,
    firmware_args,
    features_args,
    clock_args,
    disk_args,
    nic_args,
    serial_args,
    graphics_args,
    input_args,
    rng_args,
    watchdog_args,
    balloon_args,
    panic_args,
    vsock_args,
)

QEMU_BINARY = "qemu-system-x86_64"


def build_argv(
    vmi: VirtualMachineInstance, ctx: DomainContext, *, qemu: str = QEMU_BINARY
) -> list[str]:
    """The full QEMU command line for `vmi`; raises SpecError naming the field."""
    check_supported(vmi)
    argv = [qemu]
    for feature in FEATURES:
        argv += feature(vmi, ctx)
    return argv


__all__ = [
    "FEATURES",
    "DomainContext",
    "FirmwareFiles",
    "KernelFiles",
    "ResolvedVolume",
    "build_argv",
]
