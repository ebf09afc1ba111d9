"""Publishing the guest images replaces only what the guest builder owns: the node and
launcher images that other builders put beside them stay."""

from __future__ import annotations

from pathlib import Path

from images.build import publish


def test_publish_replaces_guest_files_and_keeps_other_builders(tmp_path: Path) -> None:
    built = tmp_path / "cache"
    (built / "oci").mkdir(parents=True)
    (built / "tiny.qcow2").write_bytes(b"new")
    dest = tmp_path / "images"
    (dest / "node").mkdir(parents=True)
    (dest / "node" / "node-images.tar").write_bytes(b"node")
    (dest / "launcher").mkdir()
    (dest / "tiny.qcow2").write_bytes(b"old")
    (dest / "stale.raw").write_bytes(b"gone")

    publish(built, dest)

    assert (dest / "tiny.qcow2").read_bytes() == b"new"
    assert (dest / "node" / "node-images.tar").read_bytes() == b"node"
    assert (dest / "launcher").is_dir()
    assert not (dest / "stale.raw").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "images"]
