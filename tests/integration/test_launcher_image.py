"""The virt-launcher image (images/launcher.py) carries what the launcher runs: its own
python with virtkube, QEMU with the firmware it boots, qemu-img, dnsmasq and the qemu
user, all from the image's root file system and nothing from the host's (issue 12)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from images import launcher
from images.paths import REPO_ROOT

pytestmark = pytest.mark.integration


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    layout = launcher.launcher_layout()
    if not (layout / "index.json").exists():
        pytest.fail(f"{layout} is missing: run `make launcher-image`")
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
    root = tmp_path_factory.mktemp("launcher-rootfs")
    subprocess.run(["tar", "-xzf", str(_blob(layout, manifest["layers"][0]["digest"])),
                    "--numeric-owner", "-C", str(root)], check=True)
    yield root


def in_image(root: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``root`` as /, with the host's /dev and a /proc, in a mount
    namespace of its own (the mounts go with it), as a container runtime would."""
    script = (f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" '
              f'&& exec chroot "{root}" "$@"')
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           "sh", *argv], capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_qemu_and_qemu_img_run_from_the_image(rootfs: Path) -> None:
    qemu = in_image(rootfs, "qemu-system-x86_64", "--version")
    assert qemu.returncode == 0 and "QEMU emulator version" in qemu.stdout, qemu.stderr
    img = in_image(rootfs, "qemu-img", "--version")
    assert img.returncode == 0 and "qemu-img version" in img.stdout, img.stderr
    dnsmasq = in_image(rootfs, "dnsmasq", "--version")
    assert dnsmasq.returncode == 0 and "Dnsmasq version" in dnsmasq.stdout, dnsmasq.stderr


def test_virt_handlers_network_tools_run_from_the_image(rootfs: Path) -> None:
    """virt-handler's image is this layer; it runs these in launcher pods' netns."""
    for argv, want in ((("nsenter", "--version"), "nsenter from util-linux"),
                       (("ip", "-V"), "ip utility, iproute2"),
                       (("nft", "--version"), "nftables v"),
                       (("sysctl", "--version"), "sysctl from procps")):
        res = in_image(rootfs, *argv)
        assert res.returncode == 0 and want in res.stdout, (argv, res.stdout, res.stderr)


def test_the_launcher_runs_from_the_images_venv(rootfs: Path) -> None:
    res = in_image(rootfs, launcher.PYTHON, "-m", "virtkube.launcher", "--help")
    assert res.returncode == 0, res.stderr
    assert "--run-dir" in res.stdout and "--container-disks-dir" in res.stdout
    where = in_image(rootfs, launcher.PYTHON, "-c",
                     "import sys, virtkube; print(virtkube.__file__, sys.version_info[:2])")
    assert where.stdout.startswith("/opt/virtkube/lib/python3.11/site-packages/virtkube/")


def test_the_images_qemu_boots_with_the_images_firmware(rootfs: Path) -> None:
    """The launcher's own boot probe (SeaBIOS, under TCG), run inside the image."""
    res = in_image(rootfs, launcher.PYTHON, "-c",
                   "from virtkube.launcher.accel import probe_boot; "
                   "print(probe_boot(accel='tcg', timeout=30))")
    assert res.stdout.strip() == "True", res.stderr
    for firmware in ("usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd",
                     "usr/share/seabios/bios-256k.bin"):
        assert (rootfs / firmware).exists(), firmware


def test_the_container_disk_program_is_static(rootfs: Path) -> None:
    """The launcher pod's init container copies it into disk images that have no libc."""
    program = rootfs / launcher.CONTAINER_DISK
    res = subprocess.run([str(program), "--no-op"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert not _has_interpreter(program.read_bytes()), "container-disk must not need a loader"


def _has_interpreter(elf: bytes) -> bool:
    """Whether an ELF64 little-endian executable has a PT_INTERP program header."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return any(struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 3
               for i in range(phnum))


def test_the_qemu_user_and_no_leftovers(rootfs: Path) -> None:
    res = in_image(rootfs, "getent", "passwd", "qemu")
    assert res.stdout.split(":")[2:4] == ["107", "107"], res.stdout
    assert not list((rootfs / "var/lib/apt/lists").glob("*Packages*"))
    assert not list((rootfs / "var/cache/apt/archives").glob("*.deb"))
    assert not (rootfs / "usr/share/man").exists() or not any((rootfs / "usr/share/man").iterdir())
    installed = json.loads((launcher.launcher_dir() / "manifest.json").read_text())["packages"]
    assert "usrmerge" not in installed and "perl" not in installed, "usrmerge pulled perl in"
    assert {"usr-is-merged", "python3", "qemu-system-x86", "qemu-utils", "ovmf", "seabios",
            "ipxe-qemu", "dnsmasq-base", "iproute2", "nftables", "procps"} <= set(installed)
    assert not list((rootfs / "dev").glob("null")), "device nodes belong to the runtime"


def test_the_archive_names_the_image_for_containerd() -> None:
    built = json.loads((launcher.launcher_dir() / "manifest.json").read_text())
    with tarfile.open(launcher.launcher_archive()) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    (entry,) = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == launcher.LAUNCHER_REF
    assert entry["digest"] == built["manifestDigest"]


def test_a_second_build_is_a_no_op() -> None:
    """The first call catches up with a tree changed since `make launcher-image` (a
    developer's edits); the second, with nothing changed, must only compare keys."""
    times = []
    for _ in range(2):
        started = time.monotonic()
        res = subprocess.run([sys.executable, "-m", "images.launcher"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=600, check=False)
        times.append(time.monotonic() - started)
        assert res.returncode == 0, res.stderr
    assert "up to date" in res.stderr, res.stderr
    assert times[-1] < 20, times
