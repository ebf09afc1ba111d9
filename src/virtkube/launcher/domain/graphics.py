"""The graphical console (VNC on a unix socket), the video card and input devices.

KubeVirt attaches a VGA card and VNC unless autoattachGraphicsDevice is false;
EFI guests get bochs-display (no legacy VGA needed). Tablets make the VNC
pointer absolute.
"""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.firmware import uses_efi
from virtkube.launcher.domain.qemuopts import opts
from virtkube.launcher.errors import SpecError, UnsupportedFieldError

VIDEO = {
    "vga": "VGA",
    "virtio": "virtio-vga",
    "bochs": "bochs-display",
    "cirrus": "cirrus-vga",
    "ramfb": "ramfb",
}
_INPUTS = {
    ("tablet", "usb"): "usb-tablet",
    ("keyboard", "usb"): "usb-kbd",
    ("tablet", "virtio"): "virtio-tablet-pci",
    ("keyboard", "virtio"): "virtio-keyboard-pci",
}


def graphics_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    devices = vmi.spec.domain.devices
    video = devices.video
    if devices.autoattach_graphics_device is False:
        if video is not None:
            raise SpecError("spec.domain.devices.video", "needs autoattachGraphicsDevice")
        return []
    vtype = (video.type if video else None) or ("bochs" if uses_efi(vmi) else "vga")
    if vtype not in VIDEO:
        raise UnsupportedFieldError("spec.domain.devices.video.type", f"type {vtype!r}")
    return ["-vnc", f"unix:{ctx.vnc_socket}", "-device", opts(VIDEO[vtype], id="video0")]


def input_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    devices = vmi.spec.domain.devices
    inputs = [(i.name, i.type, i.bus or "usb") for i in devices.inputs or []]
    if not inputs and devices.autoattach_input_device:
        inputs = [("default-0", "tablet", "usb")]
    args: list[str] = []
    usb = False
    for index, (name, kind, bus) in enumerate(inputs):
        model = _INPUTS.get((kind, bus))
        if model is None:
            raise UnsupportedFieldError(f"spec.domain.devices.inputs[{index}]", f"{kind} on {bus}")
        if bus == "usb" and not usb:
            args += ["-device", "qemu-xhci,id=usb"]
            usb = True
        args += ["-device", opts(model, id=f"ua-{name}", bus="usb.0" if bus == "usb" else None)]
    return args
