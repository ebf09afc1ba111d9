"""Process-level QEMU options: identity, no implicit devices, the QMP monitor.

`-nodefaults -no-user-config` because every device the guest sees must come
from the VMI spec (KubeVirt's domains likewise list each device). The monitor
is a client chardev: the launcher listens first and QEMU connects at start-up,
so there is no window in which QMP is unreachable and no socket to poll for.
"""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.qemuopts import opts


def domain_name(vmi: VirtualMachineInstance) -> str:
    """libvirt's naming, `<namespace>_<name>`, so process lists read the same."""
    namespace = vmi.metadata.namespace or "default"
    return f"{namespace}_{vmi.metadata.name}"


def process_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    args = [
        "-name", opts(f"guest={domain_name(vmi)}", debug_threads=True),
        "-no-user-config", "-nodefaults", "-display", "none",
        "-chardev", opts("socket", id="qmp", path=ctx.qmp_socket, server=False),
        "-mon", "chardev=qmp,mode=control",
        # A guest power-off or panic pauses QEMU instead of ending it: the
        # launcher sees SHUTDOWN / GUEST_PANICKED, records why, and then quits
        # QEMU itself (or resets it, for a soft reboot).
        "-action", "shutdown=pause", "-action", "panic=pause",
        "-msg", "timestamp=on",
    ]  # fmt: skip
    if ctx.start_paused:
        args.append("-S")
    return args
