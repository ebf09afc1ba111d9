"""The serial console: COM1 wired to a chardev the launcher listens on.

QEMU connects out to the launcher's socket (server=off) so the launcher reads
every byte from the first one; console.py fans it out to clients.
"""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.qemuopts import opts


def serial_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    if vmi.spec.domain.devices.autoattach_serial_console is False:
        return []
    return [
        "-chardev", opts("socket", id="serial0", path=ctx.serial_socket, server=False),
        "-device", "isa-serial,chardev=serial0,id=serial0",
    ]  # fmt: skip
