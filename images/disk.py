"""The tiny guest's boot disk: MBR + one FAT16 partition booted by syslinux.

Layout: sector 0 holds syslinux's mbr.bin and a one-entry partition table; the FAT
partition starts at 1 MiB and holds ldlinux.sys/ldlinux.c32 (written by the host's
``syslinux`` installer through mtools, so nothing is mounted), syslinux.cfg, the
kernel and the initramfs. Timestamps inside the FAT are pinned afterwards so the image
is reproducible.
"""

from __future__ import annotations

import os
import struct
import subprocess
import time
from pathlib import Path

SECTOR = 512
#: The partition starts at 1 MiB, the usual alignment.
PART_START = 2048
#: Fixed FAT volume id and MBR disk signature, for reproducible images.
VOLUME_ID = "7a6b7674"
DISK_SIGNATURE = 0x766B7469


class DiskError(RuntimeError):
    pass


def _run(argv: list[str]) -> None:
    # mtools refuses images whose size is not a whole number of "tracks" without this.
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise DiskError(
            f"{' '.join(argv)} failed with exit code {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()}"
        )


def syslinux_cfg(cmdline: str) -> str:
    return (
        "SERIAL 0 115200\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "NOESCAPE 1\n"
        "DEFAULT tiny\n"
        "LABEL tiny\n"
        "  LINUX /vmlinuz\n"
        "  INITRD /initrd.gz\n"
        f"  APPEND {cmdline}\n"
    )


def _mbr(boot_code: bytes, total_sectors: int) -> bytes:
    if len(boot_code) > 440:
        raise DiskError(f"mbr.bin is {len(boot_code)} bytes, more than 440")
    entry = struct.pack(
        "<B3sB3sII",
        0x80,  # active: mbr.bin boots this partition
        b"\xfe\xff\xff",  # CHS unused (LBA)
        0x0E,  # FAT16, LBA
        b"\xfe\xff\xff",
        PART_START,
        total_sectors - PART_START,
    )
    mbr = boot_code.ljust(440, b"\0") + struct.pack("<IH", DISK_SIGNATURE, 0) + entry
    return mbr.ljust(510, b"\0") + b"\x55\xaa"


def _fat_datetime(epoch: int) -> tuple[int, int]:
    t = time.gmtime(epoch)
    date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    clock = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return date, clock


def _pin_root_dir_times(image: Path, offset: int, epoch: int) -> None:
    """Set create/access/write times of every FAT16 root directory entry to ``epoch``."""
    date, clock = _fat_datetime(epoch)
    with image.open("r+b") as f:
        f.seek(offset)
        bpb = f.read(SECTOR)
        bytes_per_sector, _spc, reserved, nfats, root_entries = struct.unpack_from(
            "<HBHBH", bpb, 11
        )
        (fat_sectors,) = struct.unpack_from("<H", bpb, 22)
        if fat_sectors == 0:
            raise DiskError("expected FAT12/16 (root directory at a fixed place)")
        root = offset + (reserved + nfats * fat_sectors) * bytes_per_sector
        f.seek(root)
        table = bytearray(f.read(root_entries * 32))
        for i in range(0, len(table), 32):
            if table[i] == 0:
                break
            if table[i] == 0xE5 or table[i + 11] == 0x0F:  # deleted, long-name part
                continue
            table[i + 13] = 0
            struct.pack_into("<HHH", table, i + 14, clock, date, date)
            struct.pack_into("<HH", table, i + 22, clock, date)
        f.seek(root)
        f.write(table)


def build(
    out: Path,
    *,
    size_mib: int,
    mbr_bin: Path,
    files: dict[str, Path],
    cmdline: str,
    mtime: int,
    scratch: Path,
) -> None:
    """Write the raw disk ``out``; ``files`` maps names in the FAT root to sources."""
    total = size_mib * 1024 * 1024 // SECTOR
    out.unlink(missing_ok=True)
    with out.open("wb") as f:
        f.write(_mbr(mbr_bin.read_bytes()[:440], total))
        f.truncate(total * SECTOR)
    part_kib = (total - PART_START) * SECTOR // 1024
    _run(
        [
            "mkfs.fat",
            "--invariant",
            "-F",
            "16",
            "-i",
            VOLUME_ID,
            "-n",
            "TINYBOOT",
            "-h",
            str(PART_START),
            f"--offset={PART_START}",
            str(out),
            str(part_kib),
        ]
    )
    scratch.mkdir(parents=True, exist_ok=True)
    cfg = scratch / "syslinux.cfg"
    cfg.write_text(syslinux_cfg(cmdline))
    sources = {"syslinux.cfg": cfg, **files}
    staged: list[str] = []
    for name, src in sorted(sources.items()):
        dst = scratch / name
        if dst != src:
            dst.write_bytes(src.read_bytes())
        staged.append(str(dst))
    image = f"{out}@@{PART_START * SECTOR}"
    _run(["mcopy", "-m", "-o", "-i", image, *staged, "::/"])
    _run(["syslinux", "--install", "--offset", str(PART_START * SECTOR), str(out)])
    _pin_root_dir_times(out, PART_START * SECTOR, mtime)
