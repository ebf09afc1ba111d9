"""Firmware: SeaBIOS (default) or OVMF, secure boot, SMBIOS identity, kernel boot.

EFI follows KubeVirt: `efi: {}` means secure boot on, which needs SMM; OVMF's
code is shared read-only and each VMI gets its own copy of the variable store
(`ctx.efi_vars`, made by the preparation step). Kernel boot takes the kernel
and initrd extracted from `kernelBoot.container` (also by preparation).
"""

from __future__ import annotations

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.qemuopts import opts
from virtkube.launcher.errors import LauncherError, SpecError

_FW = "spec.domain.firmware"


def uses_efi(vmi: VirtualMachineInstance) -> bool:
    fw = vmi.spec.domain.firmware
    return bool(fw and fw.bootloader and fw.bootloader.efi is not None)


def secure_boot(vmi: VirtualMachineInstance) -> bool:
    fw = vmi.spec.domain.firmware
    if not (fw and fw.bootloader and fw.bootloader.efi is not None):
        return False
    return fw.bootloader.efi.secure_boot is not False


def firmware_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    fw = vmi.spec.domain.firmware
    args: list[str] = []
    uuid = (fw.uuid if fw else None) or vmi.metadata.uid
    if uuid:
        args += ["-uuid", uuid]
    if fw and fw.serial:
        args += ["-smbios", opts("type=1", serial=fw.serial)]
    if fw and fw.bootloader and fw.bootloader.bios and fw.bootloader.efi:
        raise SpecError(f"{_FW}.bootloader", "set either bios or efi, not both")
    if uses_efi(vmi):
        args += _efi(vmi, ctx)
    if fw and fw.kernel_boot:
        args += _kernel_boot(vmi, ctx)
    return args


def _efi(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    if ctx.efi_vars is None:
        raise LauncherError("EFI firmware requested but no per-VMI vars file was prepared")
    secure = secure_boot(vmi)
    code = ctx.firmware.secure_code if secure else ctx.firmware.code
    args = [
        "-drive", opts("if=pflash", format="raw", unit=0, file=code, readonly=True),
        "-drive", opts("if=pflash", format="raw", unit=1, file=ctx.efi_vars),
    ]  # fmt: skip
    if secure:
        features = vmi.spec.domain.features
        smm = features.smm if features else None
        if smm is not None and smm.enabled is False:
            raise SpecError(
                f"{_FW}.bootloader.efi.secureBoot",
                "secure boot needs SMM; features.smm is disabled",
            )
        if smm is None:  # else features.py has written smm=on already
            args += ["-machine", "smm=on"]
        args += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    return args


def _kernel_boot(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    fw = vmi.spec.domain.firmware
    assert fw is not None and fw.kernel_boot is not None
    kb = fw.kernel_boot
    if kb.container is None:
        raise SpecError(f"{_FW}.kernelBoot.container", "required: the image holding the kernel")
    if not (kb.container.kernel_path or kb.container.initrd_path):
        raise SpecError(f"{_FW}.kernelBoot.container", "set kernelPath, initrdPath or both")
    args: list[str] = []
    if kb.container.kernel_path:
        if ctx.kernel.kernel is None:
            raise LauncherError("kernelBoot: the kernel was not extracted before conversion")
        args += ["-kernel", str(ctx.kernel.kernel)]
    if kb.container.initrd_path:
        if ctx.kernel.initrd is None:
            raise LauncherError("kernelBoot: the initrd was not extracted before conversion")
        args += ["-initrd", str(ctx.kernel.initrd)]
    if kb.kernel_args:
        if not kb.container.kernel_path:
            raise SpecError(f"{_FW}.kernelBoot.kernelArgs", "needs container.kernelPath")
        args += ["-append", kb.kernel_args]
    return args
