"""Pure parts of the guest image builder: cpio, vmlinux extraction, OCI layout, MBR."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import struct
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from images import cpio, disk, oci, vmlinux

ELF = b"\x7fELF" + b"\x02\x01\x01" + b"payload" * 100


def test_cpio_is_sorted_and_reproducible() -> None:
    entries = [cpio.file("etc/b", b"bee"), cpio.directory("etc"), cpio.symlink("init", "bin/x")]
    one = cpio.archive(entries, mtime=7)
    assert one == cpio.archive(list(reversed(entries)), mtime=7)
    names = [b"etc\0", b"etc/b\0", b"init\0", b"TRAILER!!!\0"]
    positions = [one.index(n) for n in names]
    assert positions == sorted(positions)
    assert one.startswith(b"070701")
    assert len(one) % 4 == 0


def test_cpio_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        cpio.archive([cpio.file("a", b""), cpio.file("a", b"x")], mtime=0)


@pytest.mark.parametrize(
    "compress",
    [
        lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
        lambda d: gzip.compress(d, mtime=0),
    ],
    ids=["xz", "gzip"],
)
def test_vmlinux_found_behind_setup_code(compress: Callable[[bytes], bytes]) -> None:
    # A fake bzImage: setup code (with a decoy gzip magic), the payload, trailing data.
    bz = b"MZ" + b"\0" * 500 + b"\x1f\x8b\x08junk" + compress(ELF) + b"\0" * 64
    assert vmlinux.extract(bz) == ELF


def test_vmlinux_without_payload_says_so() -> None:
    with pytest.raises(vmlinux.ExtractError, match="no compressed ELF"):
        vmlinux.extract(b"MZ" + b"\0" * 1000)


def test_mbr_has_one_active_partition_from_1mib() -> None:
    mbr = disk._mbr(b"\xeb\x3c" + b"\x90" * 100, 65536)
    assert len(mbr) == 512 and mbr[510:] == b"\x55\xaa"
    status, ptype, start, count = mbr[446], mbr[450], *struct.unpack_from("<II", mbr, 454)
    assert (status, ptype, start, count) == (0x80, 0x0E, 2048, 65536 - 2048)


def test_syslinux_cfg_uses_the_serial_console() -> None:
    cfg = disk.syslinux_cfg("console=ttyS0 quiet")
    assert cfg.startswith("SERIAL 0 115200\n")
    assert "  APPEND console=ttyS0 quiet\n" in cfg


def test_oci_layout_is_consistent_and_reproducible(tmp_path: Path) -> None:
    src = tmp_path / "tiny.qcow2"
    src.write_bytes(b"QFI\xfb" + b"\0" * 1000)
    files = [oci.LayerFile("/disk/tiny.qcow2", src, 107, 107)]
    one = oci.write_image(tmp_path / "a", files, ref="latest", mtime=1, labels={})
    two = oci.write_image(tmp_path / "b", files, ref="latest", mtime=1, labels={})
    assert one.manifest_digest == two.manifest_digest

    layout = tmp_path / "a"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    [desc] = index["manifests"]
    assert desc["annotations"] == {oci.REF_NAME: "latest"}

    def blob(digest: str) -> bytes:
        data = (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
        return data

    manifest = json.loads(blob(desc["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    layer = gzip.decompress(blob(manifest["layers"][0]["digest"]))
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar}
    assert sorted(members) == ["disk", "disk/tiny.qcow2"]
    assert (members["disk/tiny.qcow2"].uid, members["disk/tiny.qcow2"].gid) == (107, 107)
    assert members["disk"].isdir() and members["disk"].uid == 107
