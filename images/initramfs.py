"""The tiny guest's initramfs: busybox, the guest scripts in images/guest/, and drivers.

The root file system stays in the initramfs; /init is busybox init, which runs
/etc/init.d/rcS (mounts, insmod of /etc/modules.load, acpid, DHCP, cloud-init, boot
marker) and then a getty on ttyS0.
"""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Sequence
from pathlib import Path

from images import cpio
from images.kmods import ModuleTree

#: Drivers loaded at boot, in this order (each one's dependencies go before it): the
#: virtio PCI transport, so that virtio devices exist for the modalias pass, and what
#: cloud-init and the power button need whatever the controller.
BOOT_MODULES: tuple[str, ...] = (
    "virtio_pci",
    "sd_mod",
    "sr_mod",
    # cloud-init media (isofs = iso9660, vfat) and the code pages vfat asks for
    "isofs",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "nls_iso8859_1",
    # ACPI power button -> input event -> acpid
    "button",
    "evdev",
)

#: Drivers shipped but loaded only when a device (PCI or virtio modalias) or a mount
#: (fs-ext4) asks for them, as udev would: rcS runs modprobe on the modaliases, and
#: the kernel runs /sbin/modprobe for file systems. Loading them all costs ~0.5 s
#: under TCG.
DEMAND_MODULES: tuple[str, ...] = (
    # virtio devices (KubeVirt's default bus and NIC model)
    "virtio_blk",
    "virtio_net",
    "virtio_scsi",
    "virtio_rng",
    "virtio_console",
    "virtio_balloon",
    # SATA and IDE controllers (KubeVirt bus: sata; QEMU pc machine's IDE)
    "ahci",
    "ata_piix",
    # other NIC models KubeVirt offers; KubeVirt's watchdog device
    "e1000",
    "e1000e",
    "i6300esb",
    # data disks, and loop devices for tests that make file systems in files
    "ext4",
    "crc32c_generic",
    "loop",
)

#: Drivers the guest cannot work without; a kernel lacking one fails the build.
REQUIRED: frozenset[str] = frozenset(
    {
        "virtio_pci",
        "virtio_blk",
        "virtio_net",
        "virtio_scsi",
        "sd_mod",
        "sr_mod",
        "ahci",
        "isofs",
        "vfat",
        "button",
        "evdev",
    }
)

_DIRS = (
    "bin",
    "dev",
    "etc",
    "lib",
    "mnt",
    "proc",
    "root",
    "run",
    "sbin",
    "sys",
    "tmp",
    "usr",
    "usr/bin",
    "usr/sbin",
    "usr/share",
    "var",
    "var/log",
)


def busybox_links(busybox: Path) -> list[str]:
    """Applet paths (``bin/sh``, ``sbin/init``...) as the binary itself lists them."""
    out = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def _guest_files(guest: Path) -> list[cpio.Entry]:
    entries: list[cpio.Entry] = []
    for path in sorted(guest.rglob("*")):
        rel = path.relative_to(guest).as_posix()
        if path.is_dir():
            entries.append(cpio.directory(rel))
            continue
        data = path.read_bytes()
        entries.append(cpio.file(rel, data, 0o755 if data.startswith(b"#!") else 0o644))
    return entries


def build(
    *, busybox: Path, guest: Path, moddir: Path, kver: str, mtime: int,
    extra: Sequence[cpio.Entry] = (),
) -> tuple[bytes, list[str]]:
    """Return the gzip'd initramfs and the names of the modules it holds; ``extra``
    files (the SSH server, images.sshd) go in with their parent folders."""
    entries: dict[str, cpio.Entry] = {d: cpio.directory(d) for d in _DIRS}
    entries["tmp"] = cpio.directory("tmp", 0o1777)
    entries["root"] = cpio.directory("root", 0o700)
    # The kernel opens /dev/console before /init runs, so it must exist in the archive.
    entries["dev/console"] = cpio.chardev("dev/console", 5, 1)
    entries["dev/null"] = cpio.chardev("dev/null", 1, 3, 0o666)
    entries["bin/busybox"] = cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    for link in busybox_links(busybox):
        rel = link.lstrip("/")
        if rel != "bin/busybox":
            depth = rel.count("/")
            entries[rel] = cpio.symlink(rel, "../" * depth + "bin/busybox")
    entries["init"] = cpio.symlink("init", "bin/busybox")
    for entry in _guest_files(guest):
        entries[entry.path] = entry
    for entry in extra:
        parts = entry.path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            entries.setdefault(d, cpio.directory(d))
        entries[entry.path] = entry

    tree = ModuleTree(moddir)
    boot, missing = tree.closure(list(BOOT_MODULES))
    modules, missing_too = tree.closure([*BOOT_MODULES, *DEMAND_MODULES])
    absent = sorted(REQUIRED & {*missing, *missing_too})
    if absent:
        raise RuntimeError(f"kernel {kver} lacks required modules: {', '.join(absent)}")
    base = f"lib/modules/{kver}"
    for part in ("lib/modules", base):
        entries[part] = cpio.directory(part)
    dep_lines: list[str] = []
    alias_lines: list[str] = []
    for mod in modules:
        parts = mod.path.split("/")
        for i in range(1, len(parts)):
            d = f"{base}/{'/'.join(parts[:i])}"
            entries[d] = cpio.directory(d)
        entries[f"{base}/{mod.path}"] = cpio.file(
            f"{base}/{mod.path}", (moddir / mod.path).read_bytes()
        )
        # depmod's format: every transitive dependency, the one to load first last.
        chain, _ = tree.closure(list(mod.depends))
        deps = " ".join(m.path for m in reversed(chain))
        dep_lines.append(f"{mod.path}: {deps}".rstrip())
        alias_lines += [f"alias {a} {mod.name}" for a in tree.aliases(mod.name)]
    # What depmod would write, for busybox modprobe (modalias pass, fs-* requests).
    for name, lines in (("modules.dep", dep_lines), ("modules.alias", alias_lines)):
        entries[f"{base}/{name}"] = cpio.file(
            f"{base}/{name}", ("\n".join(sorted(lines)) + "\n").encode()
        )
    entries["etc/modules.load"] = cpio.file(
        "etc/modules.load", "".join(f"{m.path}\n" for m in boot).encode()
    )
    data = cpio.archive(list(entries.values()), mtime=mtime)
    return gzip.compress(data, compresslevel=9, mtime=0), [m.name for m in modules]
