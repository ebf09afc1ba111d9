"""Small devices, one function each: RNG, watchdog, memory balloon, panic notifier."""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import SpecError, UnsupportedFieldError


def rng_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    if vmi.spec.domain.devices.rng is None:
        return []
    # /dev/urandom, as KubeVirt: it never blocks and is what the kernel recommends.
    return [
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0,id=rng",
    ]  # fmt: skip


def watchdog_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    watchdog = vmi.spec.domain.devices.watchdog
    if watchdog is None:
        return []
    if watchdog.i6300esb is None:
        raise SpecError("spec.domain.devices.watchdog", "set i6300esb (the only x86 model)")
    # KubeVirt: the action defaults to reset; QEMU names the same three alike.
    action = watchdog.i6300esb.action or "reset"
    return ["-device", f"i6300esb,id=ua-{watchdog.name}", "-action", f"watchdog={action}"]


def balloon_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    if vmi.spec.domain.devices.autoattach_mem_balloon is False:
        return []
    return ["-device", "virtio-balloon-pci,id=balloon0"]


def panic_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    args: list[str] = []
    for index, panic in enumerate(vmi.spec.domain.devices.panic_devices or []):
        model = panic.model or "isa"
        if model not in ("isa", "pvpanic"):
            raise UnsupportedFieldError(
                f"spec.domain.devices.panicDevices[{index}].model", f"model {model!r}"
            )
        if index:
            raise SpecError(f"spec.domain.devices.panicDevices[{index}]", "at most one")
        args += ["-device", "pvpanic,id=panic0"]
    return args


def vsock_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    if vmi.spec.domain.devices.autoattach_vsock:
        raise UnsupportedFieldError("spec.domain.devices.autoattachVSOCK")
    return []
