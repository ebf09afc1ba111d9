"""A minimal OCI image-layout writer (image-spec v1.1: oci-layout, index.json, blobs).

Enough for KubeVirt's containerDisk and kernelBoot container images and for a whole root
file system (the virt-launcher image): one gzip'd tar layer per image, a config, a
manifest, and an index entry tagged with ``org.opencontainers.image.ref.name``. Tar
entries and gzip headers carry fixed mtimes, so equal inputs give equal digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
#: containerd's name for an image in an index it imports (core/images/archive).
IMAGE_NAME = "io.containerd.image.name"


@dataclass(frozen=True)
class LayerFile:
    """One regular file of a layer; its parent directories get the same owner."""

    path: str  # absolute in the image, e.g. /disk/tiny.qcow2
    source: Path
    uid: int = 0
    gid: int = 0
    mode: int = 0o644


@dataclass(frozen=True)
class LayerLink:
    """A symbolic link in a layer (e.g. busybox's applets), owned by root."""

    path: str  # absolute in the image, e.g. /bin/sh
    target: str


@dataclass(frozen=True)
class Written:
    layout: Path
    manifest_digest: str
    layer_digest: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _blob(layout: Path, path: Path | None = None, data: bytes | None = None) -> dict[str, Any]:
    """Store a blob by digest and return its descriptor fields."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    if data is not None:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        size = len(data)
    else:
        assert path is not None
        digest = sha256_file(path)
        size = path.stat().st_size
        shutil.move(path, blobs / digest)
    return {"digest": f"sha256:{digest}", "size": size}


def _json(obj: object) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"


def _tar_layer(files: list[LayerFile], mtime: int, out: Path,
               links: tuple[LayerLink, ...] = ()) -> str:
    """Write the uncompressed tar to ``out`` and return its sha256 (the diff_id)."""
    dirs: dict[str, LayerFile] = {}
    for lf in files:
        parts = lf.path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), lf)
    for link in links:
        parts = link.path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), LayerFile("/" + "/".join(parts[:i]), Path()))
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        for d, owner in sorted(dirs.items()):
            info = tarfile.TarInfo(d + "/")
            info.type = tarfile.DIRTYPE
            info.mode, info.uid, info.gid, info.mtime = 0o755, owner.uid, owner.gid, mtime
            tar.addfile(info)
        for lf in sorted(files, key=lambda x: x.path):
            info = tarfile.TarInfo(lf.path.strip("/"))
            info.size = lf.source.stat().st_size
            info.mode, info.uid, info.gid, info.mtime = lf.mode, lf.uid, lf.gid, mtime
            with lf.source.open("rb") as f:
                tar.addfile(info, f)
        for link in sorted(links, key=lambda x: x.path):
            info = tarfile.TarInfo(link.path.strip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, link.target
            info.mode, info.mtime = 0o777, mtime
            tar.addfile(info)
    return sha256_file(out)


def _tree_entries(root: Path) -> list[Path]:
    """Every path below ``root`` in a fixed order (parents first, then by name), so the
    tar does not depend on the order the file system lists a folder in."""
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):  # symlinked folders are listed, not entered
        out += [Path(folder) / name for name in (*dirs, *files)]
    out.sort(key=lambda p: p.relative_to(root).parts)
    return out


def tar_tree(root: Path, out: Path, *, mtime: int) -> str:
    """Write the folder ``root`` as an uncompressed layer tar to ``out``; return its sha256.

    What is kept is what a container sees: numeric owners, modes (setuid bits too),
    symlinks and hard links (the first path in name order holds the data, the others
    link to it). What varies between two builds of the same tree is dropped: every mtime
    becomes ``mtime``, user and group names are left empty, and device nodes, fifos and
    sockets are skipped (the runtime gives a container its own /dev). Extended attributes
    are not carried."""
    first_link: dict[tuple[int, int], str] = {}
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in _tree_entries(root):
            st = path.lstat()
            name = path.relative_to(root).as_posix()
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = (
                stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, mtime)
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                inode = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and inode in first_link:
                    info.type, info.linkname = tarfile.LNKTYPE, first_link[inode]
                    tar.addfile(info)
                    continue
                first_link[inode] = name
                info.size = st.st_size
                with path.open("rb") as f:
                    tar.addfile(info, f)
    return sha256_file(out)


def write_image(
    layout: Path, files: list[LayerFile], *, ref: str, mtime: int, labels: dict[str, str],
    links: tuple[LayerLink, ...] = (), run_config: dict[str, Any] | None = None,
    image_name: str = "", tree: Path | None = None, created_by: str = "virtkube images.build",
) -> Written:
    """Create (or replace) an OCI image layout at ``layout`` holding one image.

    ``run_config`` adds to the image config's ``config`` (Entrypoint, Cmd, Env, ...);
    ``image_name``, a full reference, is what containerd names the image on import
    (its ``io.containerd.image.name`` annotation; ``ref`` stays the OCI tag). With
    ``tree`` the layer is that whole folder (see :func:`tar_tree`) and ``files`` and
    ``links`` must be empty."""
    if tree is not None and (files or links):
        raise ValueError("a layer is either a tree or a list of files, not both")
    if layout.exists():
        shutil.rmtree(layout)
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    with tempfile.TemporaryDirectory(dir=layout) as tmp:
        tar_path = Path(tmp) / "layer.tar"
        diff_id = (tar_tree(tree, tar_path, mtime=mtime) if tree is not None
                   else _tar_layer(files, mtime, tar_path, links))
        gz_path = Path(tmp) / "layer.tar.gz"
        with (
            tar_path.open("rb") as src,
            gz_path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz,
        ):
            shutil.copyfileobj(src, gz, 1 << 20)
        layer = {"mediaType": MEDIA_LAYER, **_blob(layout, path=gz_path)}
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Labels": labels, **(run_config or {})},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": created, "created_by": created_by}],
    }
    config_desc = {"mediaType": MEDIA_CONFIG, **_blob(layout, data=_json(config))}
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config_desc,
        "layers": [layer],
        "annotations": {"org.opencontainers.image.created": created},
    }
    manifest_desc = {"mediaType": MEDIA_MANIFEST, **_blob(layout, data=_json(manifest))}
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            {
                **manifest_desc,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {REF_NAME: ref,
                                **({IMAGE_NAME: image_name} if image_name else {})},
            }
        ],
    }
    (layout / "index.json").write_bytes(_json(index))
    return Written(layout, str(manifest_desc["digest"]), str(layer["digest"]))


def write_archive(layouts: list[Path], out: Path, *, mtime: int) -> None:
    """One OCI archive (a tar of an image layout) holding the images of ``layouts``, for
    ``ctr images import``; blobs shared between them are stored once. Reproducible."""
    manifests: list[Any] = []
    blobs: dict[str, Path] = {}
    for layout in layouts:
        index = json.loads((layout / "index.json").read_text())
        manifests += index["manifests"]
        for blob in sorted((layout / "blobs" / "sha256").iterdir()):
            blobs.setdefault(blob.name, blob)
    index_doc = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests}
    members: list[tuple[str, bytes | Path]] = [
        ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
        ("index.json", _json(index_doc)),
        *((f"blobs/sha256/{name}", path) for name, path in sorted(blobs.items())),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        for d in ("blobs/", "blobs/sha256/"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o644, mtime
            if isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                info.size = content.stat().st_size
                with content.open("rb") as f:
                    tar.addfile(info, f)
