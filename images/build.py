"""``make guest-images``: build the tiny test guest from Debian packages.

Inputs are pinned Debian packages (the kernel, busybox-static, syslinux-common, fetched
with ``apt-get download`` and unpacked into a scratch folder) plus the host tools listed
in images/apt-packages.txt and the files of this package. Their versions and contents
hash into a key; the outputs are built once into
``${XDG_CACHE_HOME:-~/.cache}/virtkube/images/<key>/`` and then published to
``build/images/`` (see :mod:`images.paths`), so a rebuild with unchanged inputs only
copies files.

Outputs (all reproducible: fixed mtimes, sorted archives):

- ``tiny.raw`` / ``tiny.qcow2``: MBR + FAT16 + syslinux, serial console on ttyS0;
- ``tiny-kernel/vmlinux`` (uncompressed ELF, boots with ``qemu -kernel`` via PVH) and
  ``tiny-kernel/initramfs.gz``;
- ``oci/virtkube/tiny-guest`` (containerDisk: ``/disk/tiny.qcow2``, owner 107:107) and
  ``oci/virtkube/tiny-kernel`` (``/boot/vmlinux``, ``/boot/initramfs.gz``) as OCI
  image layouts;
- ``manifest.json``: files with size and sha256, image refs, the kernel command line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from images import cache, cpio, debs, disk, initramfs, oci, sshd, vmlinux
from images.paths import REPO_ROOT, cache_root, images_dir

HERE = Path(__file__).resolve().parent
#: Bump to force a rebuild when something outside the hashed inputs changes.
FORMAT_VERSION = 1
#: Fixed timestamp for every file system, archive and image we write (2024-01-01).
SOURCE_DATE_EPOCH = 1704067200
#: Host packages whose tools shape the outputs; their versions enter the cache key.
HOST_TOOLS = ("syslinux", "mtools", "dosfstools", "qemu-utils")
#: Size of tiny.raw; the kernel and initramfs take about half of it.
DISK_MIB = 32
#: KubeVirt's virt-launcher runs QEMU as uid/gid 107 ("qemu"); containerDisks use it.
QEMU_UID = 107
#: The guest's kernel command line: serial console, and what makes a TCG boot fast
#: (measured, each saves 0.1-0.6 s): no crypto self-tests, no speculation-mitigation
#: patching, trust the TSC (no calibration or watchdog), no IO-APIC timer check.
KERNEL_CMDLINE = (
    "console=ttyS0,115200 quiet cryptomgr.notests mitigations=off tsc=reliable no_timer_check"
)
GUEST_REF = "virtkube/tiny-guest"
KERNEL_REF = "virtkube/tiny-kernel"
TAG = "latest"
#: How many cache entries (builds with other keys) to keep.
KEEP_CACHED = 3


def log(msg: str) -> None:
    print(f"[guest-images] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Inputs:
    kernel: debs.Deb
    busybox: debs.Deb
    syslinux_common: debs.Deb
    host_tools: dict[str, str]
    #: dropbear, sftp-server and their libraries (images.sshd.PACKAGES), in that order.
    ssh: tuple[debs.Deb, ...] = ()

    @property
    def packages(self) -> tuple[debs.Deb, ...]:
        return (self.kernel, self.busybox, self.syslinux_common, *self.ssh)

    def key(self) -> str:
        h = hashlib.sha256()
        doc = {
            "format": FORMAT_VERSION,
            "kernel": self.kernel.spec,
            "busybox": self.busybox.spec,
            "syslinux-common": self.syslinux_common.spec,
            "ssh": [d.spec for d in self.ssh],
            "host": self.host_tools,
            "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "cmdline": KERNEL_CMDLINE,
        }
        h.update(json.dumps(doc, sort_keys=True).encode())
        for path in sorted(HERE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".md":
                h.update(path.relative_to(HERE).as_posix().encode() + b"\0")
                h.update(str(os.access(path, os.X_OK)).encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
        return h.hexdigest()[:20]


def resolve_inputs() -> Inputs:
    return Inputs(
        kernel=debs.kernel_image(),
        busybox=debs.candidate("busybox-static"),
        syslinux_common=debs.candidate("syslinux-common"),
        host_tools={name: debs.installed_version(name) for name in HOST_TOOLS},
        ssh=tuple(debs.candidate(name) for name in sshd.PACKAGES),
    )


def _set_mtimes(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH), follow_symlinks=False)


def build_into(out: Path, inputs: Inputs, debs_dir: Path, *, key: str) -> None:
    """Build every output into the empty folder ``out``."""
    scratch = out / ".scratch"
    roots: dict[str, Path] = {}
    for deb in (inputs.kernel, inputs.busybox, inputs.syslinux_common):
        log(f"fetching {deb.spec}")
        roots[deb.name] = debs.extract(debs.download(deb, debs_dir), scratch / deb.name)
    ssh_root = scratch / "ssh"
    for deb in inputs.ssh:
        log(f"fetching {deb.spec}")
        debs.extract(debs.download(deb, debs_dir), ssh_root)
    ssh_files = [
        cpio.symlink(f.path, f.link) if f.link else cpio.file(f.path, f.data, f.mode)
        for f in sshd.guest_files(ssh_root)
    ]
    kroot = roots[inputs.kernel.name]
    kver = inputs.kernel.name.removeprefix("linux-image-")
    bzimage = kroot / "boot" / f"vmlinuz-{kver}"

    log(f"initramfs for {kver}")
    initrd, loaded = initramfs.build(
        busybox=roots[inputs.busybox.name] / "bin" / "busybox",
        guest=HERE / "guest",
        moddir=kroot / "lib" / "modules" / kver,
        kver=kver,
        mtime=SOURCE_DATE_EPOCH,
        extra=ssh_files,
    )
    kdir = out / "tiny-kernel"
    kdir.mkdir(parents=True)
    (kdir / "initramfs.gz").write_bytes(initrd)
    log("extracting vmlinux")
    (kdir / "vmlinux").write_bytes(vmlinux.extract(bzimage.read_bytes()))

    log("tiny.raw (syslinux)")
    mbr_bin = roots[inputs.syslinux_common.name] / "usr/lib/syslinux/mbr/mbr.bin"
    raw = out / "tiny.raw"
    disk.build(
        raw,
        size_mib=DISK_MIB,
        mbr_bin=mbr_bin,
        files={"vmlinuz": bzimage, "initrd.gz": kdir / "initramfs.gz"},
        cmdline=KERNEL_CMDLINE,
        mtime=SOURCE_DATE_EPOCH,
        scratch=scratch / "fat",
    )
    log("tiny.qcow2")
    qcow2 = out / "tiny.qcow2"
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
        check=True,
    )
    _set_mtimes(kdir)
    for p in (raw, qcow2):
        os.utime(p, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))

    log("OCI images")
    labels = {"org.opencontainers.image.version": inputs.kernel.version, "kernel": kver}
    guest = oci.write_image(
        out / "oci" / GUEST_REF,
        [oci.LayerFile("/disk/tiny.qcow2", qcow2, QEMU_UID, QEMU_UID, 0o644)],
        ref=TAG,
        mtime=SOURCE_DATE_EPOCH,
        labels=labels,
    )
    kernel = oci.write_image(
        out / "oci" / KERNEL_REF,
        [
            oci.LayerFile("/boot/vmlinux", kdir / "vmlinux", QEMU_UID, QEMU_UID, 0o644),
            oci.LayerFile("/boot/initramfs.gz", kdir / "initramfs.gz", QEMU_UID, QEMU_UID),
        ],
        ref=TAG,
        mtime=SOURCE_DATE_EPOCH,
        labels=labels,
    )
    shutil.rmtree(scratch)

    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest: dict[str, Any] = {
        "key": key,
        "kernel": {"package": inputs.kernel.spec, "release": kver},
        "busybox": inputs.busybox.spec,
        "ssh": [d.spec for d in inputs.ssh],
        "kernelCmdline": KERNEL_CMDLINE,
        "bootMarker": "virtkube-tiny-guest booted boot_id=",
        "modules": loaded,
        "images": [
            {
                "ref": f"{GUEST_REF}:{TAG}",
                "layout": f"oci/{GUEST_REF}",
                "manifestDigest": guest.manifest_digest,
                "diskPath": "/disk/tiny.qcow2",
            },
            {
                "ref": f"{KERNEL_REF}:{TAG}",
                "layout": f"oci/{KERNEL_REF}",
                "manifestDigest": kernel.manifest_digest,
                "kernelPath": "/boot/vmlinux",
                "initrdPath": "/boot/initramfs.gz",
            },
        ],
        "files": [
            {"path": p.relative_to(out).as_posix(), "size": p.stat().st_size,
             "sha256": oci.sha256_file(p)}
            for p in files
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def cached_build(inputs: Inputs, *, force: bool = False) -> Path:
    """The cache folder for ``inputs``, building it first unless it is complete."""
    root = cache_root()
    key = inputs.key()
    final = cache.cached(root, key, lambda work: build_into(work, inputs, root / "debs", key=key),
                         keep=KEEP_CACHED, log=log, force=force)
    _prune_debs(root / "debs", inputs)
    return final


def _prune_debs(debs_dir: Path, inputs: Inputs) -> None:
    """Drop downloaded packages the current inputs no longer use (kernels are ~70 MB)."""
    wanted = [debs.filename_prefix(d) for d in inputs.packages]
    for deb in debs_dir.glob("*.deb"):
        if not any(deb.name.startswith(prefix) for prefix in wanted):
            deb.unlink(missing_ok=True)


#: Published files that guests write to are copied; everything else is hardlinked.
_COPY = {"tiny.raw", "tiny.qcow2"}


#: Folders of build/images that other builders publish (images.utility, images.launcher):
#: replacing the guest images keeps them.
OTHER_BUILDERS = ("node", "launcher")


def publish(src: Path, dest: Path) -> None:
    """Replace ``dest`` with the contents of the cache folder ``src``, keeping the
    other builders' folders."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)

    def place(s: str, d: str) -> None:
        if Path(s).name not in _COPY:
            try:
                os.link(s, d)
                return
            except OSError:
                pass
        shutil.copy2(s, d)

    shutil.copytree(src, tmp, copy_function=place)
    for name in OTHER_BUILDERS:
        if (dest / name).exists() and not (tmp / name).exists():
            (dest / name).rename(tmp / name)
    old = dest.with_name(f"{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m images.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--out", type=Path, default=None, help="publish here (default: build/images)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        inputs = resolve_inputs()
        built = cached_build(inputs, force=args.force)
    except (debs.DebError, disk.DiskError, vmlinux.ExtractError, RuntimeError) as exc:
        log(f"error: {exc}")
        return 1
    dest = args.out or images_dir()
    publish(built, dest)
    try:
        shown = dest.relative_to(REPO_ROOT)
    except ValueError:
        shown = dest
    log(f"published {shown} (key {built.name}) in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
