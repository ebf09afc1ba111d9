"""containerdisk.resolve against tiny OCI image layouts built in the test."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from virtkube.launcher import containerdisk
from virtkube.launcher.containerdisk import ImageRef
from virtkube.launcher.errors import ContainerDiskError


def _blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}"


def make_image(store: Path, repo: str, tag: str, files: dict[str, bytes],
               symlinks: dict[str, str] | None = None) -> Path:
    """An OCI layout at store/repo: one gzip layer of `files` (member name: content) and
    `symlinks` (member name: link target), tagged `tag`."""
    layout = store / repo
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (symlinks or {}).items():
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
    layer = buf.getvalue()
    config = _blob(layout, b"{}")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": _blob(layout, layer), "size": len(layer)}],
        }
    ).encode()  # fmt: skip
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _blob(layout, manifest),
                "size": len(manifest),
                "annotations": {containerdisk.REF_NAME: tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return layout


DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("virtkube/tiny-guest", ImageRef(None, "virtkube/tiny-guest", "latest", None)),
        ("registry:5000/kube/cirros:dev", ImageRef("registry:5000", "kube/cirros", "dev", None)),
        ("quay.io/a/b@" + DIGEST, ImageRef("quay.io", "a/b", "latest", DIGEST)),
        ("localhost/x:1", ImageRef("localhost", "x", "1", None)),
    ],
)  # fmt: skip
def test_parse_ref(image: str, expected: ImageRef) -> None:
    assert ImageRef.parse(image) == expected


def test_resolve_extracts_once(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    make_image(store, "virtkube/disk", "v1", {"disk/": b"", "disk/d.qcow2": b"QFI\xfbdata"})
    first = containerdisk.resolve("virtkube/disk:v1", store, cache=cache)
    assert first.read_bytes() == b"QFI\xfbdata"
    assert first.is_relative_to(cache)
    mtime = first.stat().st_mtime_ns
    again = containerdisk.resolve("registry:5000/virtkube/disk:v1", store, cache=cache)
    assert again == first and again.stat().st_mtime_ns == mtime


def test_extract_file_and_explicit_path(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    make_image(store, "k", "latest", {"boot/vmlinux": b"kernel", "./boot/initrd": b"initrd"})
    assert (
        containerdisk.extract_file("k", store, "/boot/vmlinux", cache=cache).read_bytes()
        == b"kernel"
    )
    assert (
        containerdisk.resolve("k", store, cache=cache, path="/boot/initrd").read_bytes()
        == b"initrd"
    )


@pytest.mark.parametrize(
    ("files", "image", "message"),
    [
        ({"disk/a": b"1"}, "k:other", "tag not found"),
        ({"disk/a": b"1"}, "nothere", "not in the OCI image store"),
        ({"etc/a": b"1"}, "k", "no file under /disk/"),
        ({"disk/a": b"1", "disk/b": b"2"}, "k", "several files"),
    ],
)
def test_resolve_errors(tmp_path: Path, files: dict[str, bytes], image: str, message: str) -> None:
    make_image(tmp_path / "s", "k", "latest", files)
    with pytest.raises(ContainerDiskError, match=message):
        containerdisk.resolve(image, tmp_path / "s", cache=tmp_path / "c")


def test_corrupt_blob_is_detected(tmp_path: Path) -> None:
    layout = make_image(tmp_path / "s", "k", "latest", {"disk/a": b"1"})
    for blob in (layout / "blobs" / "sha256").iterdir():
        if blob.read_bytes()[:2] == b"\x1f\x8b":  # the gzip layer
            blob.write_bytes(blob.read_bytes() + b"junk")
    with pytest.raises(ContainerDiskError):
        containerdisk.resolve("k", tmp_path / "s", cache=tmp_path / "c")
