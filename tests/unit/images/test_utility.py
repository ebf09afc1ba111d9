"""The node images (images/utility.py): reproducible, and shaped as containerd expects."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from images import utility

LINKS = ["bin/busybox", "bin/sh", "bin/sleep", "usr/bin/wc", "sbin/ip"]


def _busybox(tmp: Path, content: bytes) -> Path:
    path = tmp / "busybox"
    path.write_bytes(content)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_inputs_give_the_same_digests_and_archive(tmp_path: Path) -> None:
    bb = _busybox(tmp_path, b"\x7fELF pretend busybox")
    a = utility.build(bb, LINKS, tmp_path / "a", version="busybox-static=1")
    b = utility.build(bb, list(reversed(LINKS)), tmp_path / "b", version="busybox-static=1")
    assert (a.utility_digest, a.pause_digest) == (b.utility_digest, b.pause_digest)
    assert _sha(a.archive) == _sha(b.archive)


def test_other_inputs_give_other_digests(tmp_path: Path) -> None:
    a = utility.build(_busybox(tmp_path, b"one"), LINKS, tmp_path / "a", version="v")
    b = utility.build(_busybox(tmp_path, b"two"), LINKS, tmp_path / "b", version="v")
    assert a.utility_digest != b.utility_digest


def test_the_archive_names_both_images_for_containerd(tmp_path: Path) -> None:
    built = utility.build(_busybox(tmp_path, b"bb"), LINKS, tmp_path / "out", version="v")
    with tarfile.open(built.archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        names = tar.getnames()
    refs = {m["annotations"]["io.containerd.image.name"]: m["digest"]
            for m in index["manifests"]}
    assert refs == {utility.UTILITY_REF: built.utility_digest,
                    utility.PAUSE_REF: built.pause_digest}
    # One shared layer: the blobs are stored once.
    assert len(names) == len(set(names))


def test_the_layer_links_every_applet_to_busybox(tmp_path: Path) -> None:
    files, links = utility.layer(_busybox(tmp_path, b"bb"), LINKS)
    assert [f.path for f in files] == ["/bin/busybox"]
    assert {(x.path, x.target) for x in links} == {
        ("/bin/sh", "../bin/busybox"), ("/bin/sleep", "../bin/busybox"),
        ("/usr/bin/wc", "../../bin/busybox"), ("/sbin/ip", "../bin/busybox")}
