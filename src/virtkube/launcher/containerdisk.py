"""containerDisk and kernelBoot images: find a file inside an OCI image on disk.

KubeVirt pulls a containerDisk image into the pod and boots the file under
`/disk/`. virtkube's launcher has no registry client: images live in an OCI
image store, a folder holding one OCI image layout per repository
(`<store>/<repository>/{oci-layout,index.json,blobs/}`), the tag in the
`org.opencontainers.image.ref.name` annotation (OCI image-spec, image-layout).
The wanted file is extracted once per layer digest into a cache; later VMIs
reuse it as the read-only base of their own overlay.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from virtkube.api import imageref
from virtkube.launcher import safepath
from virtkube.launcher.errors import ContainerDiskError

#: The OCI annotation that carries a tag inside index.json.
REF_NAME = "org.opencontainers.image.ref.name"
#: KubeVirt's convention: the disk of a containerDisk is the file under /disk/.
DISK_DIR = "disk"
_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_TAR_TYPES = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: `[registry/]repository[:tag][@digest]`."""

    registry: str | None
    repository: str
    tag: str
    digest: str | None

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        """virt-api's grammar (virtkube.api.imageref): a name that is no reference is refused."""
        try:
            ref = imageref.parse(image)
        except imageref.ReferenceError as e:
            raise ContainerDiskError(f"image {image!r}: {e}") from e
        return cls(registry=ref.domain, repository=ref.path, tag=ref.tag or "latest",
                   digest=ref.digest)


def default_cache_dir() -> Path:
    """Where extracted files are kept unless a caller says otherwise."""
    env = os.environ.get("VIRTKUBE_CACHE_DIR")
    base = Path(env) if env else Path(tempfile.gettempdir()) / "virtkube-cache"
    return base / "oci-files"


def resolve(image: str, store: Path, *, cache: Path | None = None, path: str | None = None) -> Path:
    """The containerDisk's disk file for `image`, extracted from `store` into `cache`.

    `path` is KubeVirt's `containerDisk.path`; without it the single file under
    /disk/ is the disk.
    """
    ref = ImageRef.parse(image)
    layout = _layout_dir(ref, store, image)
    layers = _layers(layout, ref, image)
    if path is not None:
        return _extract(layout, layers, _wanted(path, image), cache, image)
    return _extract_disk(layout, layers, cache, image)


def extract_file(image: str, store: Path, member: str, *, cache: Path | None = None) -> Path:
    """One file of `image` (e.g. kernelBoot's /boot/vmlinux), extracted once into `cache`."""
    ref = ImageRef.parse(image)
    layout = _layout_dir(ref, store, image)
    return _extract(layout, _layers(layout, ref, image), _wanted(member, image), cache, image)


def _wanted(path: str, image: str) -> PurePosixPath:
    """A file the VMI names inside the image (containerDisk.path, kernelPath), from its root."""
    try:
        rel = safepath.relative_name(path.lstrip("/"), "file")
    except safepath.PathEscapeError as e:
        raise ContainerDiskError(f"image {image!r}: {e}") from e
    return PurePosixPath("/", *rel.parts)


def _layout_dir(ref: ImageRef, store: Path, image: str) -> Path:
    names = [ref.repository]
    if ref.registry:
        names.insert(0, f"{ref.registry}/{ref.repository}")
    tried = []
    for name in names:
        candidate = safepath.resolve_inside(store, name, what=f"image {image!r}: repository")
        if (candidate / "index.json").is_file():
            return candidate
        tried.append(str(candidate))
    raise ContainerDiskError(
        f"image {image!r}: not in the OCI image store (looked in {', '.join(tried)})"
    )


def _read_json(layout: Path, digest: str, image: str) -> dict[str, Any]:
    blob = _blob(layout, digest, image)
    _verify(blob, digest, image)
    try:
        data: dict[str, Any] = json.loads(blob.read_bytes())
    except (OSError, ValueError) as e:
        raise ContainerDiskError(f"image {image!r}: unreadable blob {digest}") from e
    return data


def _blob(layout: Path, digest: object, image: str) -> Path:
    """blobs/<algorithm>/<hex> of a digest from index.json or a manifest, inside blobs/."""
    if not isinstance(digest, str) or not imageref.DIGEST_RE.fullmatch(digest):
        raise ContainerDiskError(f"image {image!r}: {digest!r} is not a digest (algorithm:hex)")
    algo, _, hexdigest = digest.partition(":")
    blob = safepath.resolve_inside(layout / "blobs", f"{algo}/{hexdigest}",
                                   what=f"image {image!r}: blob")
    if not blob.is_file():
        raise ContainerDiskError(f"image {image!r}: missing blob {digest}")
    return blob


def _layers(layout: Path, ref: ImageRef, image: str) -> list[dict[str, Any]]:
    try:
        index: dict[str, Any] = json.loads((layout / "index.json").read_text())
    except (OSError, ValueError) as e:
        raise ContainerDiskError(f"image {image!r}: unreadable index.json in {layout}") from e
    manifests: list[dict[str, Any]] = index.get("manifests", [])
    if ref.digest:
        chosen = [m for m in manifests if m.get("digest") == ref.digest]
    else:
        chosen = [m for m in manifests if m.get("annotations", {}).get(REF_NAME) == ref.tag]
        if not chosen and len(manifests) == 1 and ref.tag == "latest":
            chosen = manifests
    if not chosen:
        tags = sorted(str(m.get("annotations", {}).get(REF_NAME)) for m in manifests)
        raise ContainerDiskError(f"image {image!r}: tag not found in {layout} (tags: {tags})")
    descriptor = chosen[0]
    # Follow nested image indexes down to one amd64 (or the only) manifest.
    while descriptor.get("mediaType") in _INDEX_TYPES:
        nested = _read_json(layout, descriptor["digest"], image).get("manifests", [])
        amd64 = [m for m in nested if m.get("platform", {}).get("architecture") == "amd64"]
        if not (amd64 or nested):
            raise ContainerDiskError(f"image {image!r}: empty image index")
        descriptor = (amd64 or nested)[0]
    manifest = _read_json(layout, descriptor["digest"], image)
    layers: list[dict[str, Any]] = manifest.get("layers", [])
    for layer in layers:
        if layer.get("mediaType") not in _TAR_TYPES:
            raise ContainerDiskError(
                f"image {image!r}: layer media type {layer.get('mediaType')!r} not supported"
            )
    return layers


def _member_path(member: tarfile.TarInfo, image: str) -> PurePosixPath:
    """A layer member's path from the image root; a name that leaves the root is refused.

    Layer members are relative (`disk/d.img`, `./boot/vmlinuz`); an absolute one or one
    with `..` would put the file elsewhere when unpacked, so the image is not used.
    """
    rel = PurePosixPath(member.name)
    if rel.is_absolute() or ".." in rel.parts:
        raise ContainerDiskError(f"image {image!r}: layer member {member.name!r} leaves the "
                                 "image root (absolute or with '..'); refused")
    return PurePosixPath("/", *rel.parts)


def _regular(member: tarfile.TarInfo, wanted: PurePosixPath, image: str) -> None:
    if member.issym() or member.islnk():
        kind = "a symbolic link" if member.issym() else "a hard link"
        raise ContainerDiskError(f"image {image!r}: {wanted} is {kind} (to "
                                 f"{member.linkname!r}), not a regular file; refused")
    if not member.isfile():
        raise ContainerDiskError(f"image {image!r}: {wanted} is not a regular file")


def _extract_disk(
    layout: Path, layers: list[dict[str, Any]], cache: Path | None, image: str
) -> Path:
    for layer in reversed(layers):
        with tarfile.open(_blob(layout, layer["digest"], image)) as tar:
            members = [(m, _member_path(m, image)) for m in tar.getmembers()]
        # Links count too: one under /disk/ is refused by _extract, not skipped.
        disks = [path for m, path in members
                 if not m.isdir() and path.parent == PurePosixPath("/" + DISK_DIR)]
        if len(disks) > 1:
            raise ContainerDiskError(
                f"image {image!r}: several files under /{DISK_DIR}/ ({sorted(disks)}); "
                "set containerDisk.path"
            )
        if disks:
            return _extract(layout, [layer], disks[0], cache, image)
    raise ContainerDiskError(f"image {image!r}: no file under /{DISK_DIR}/")


def _extract(
    layout: Path,
    layers: list[dict[str, Any]],
    wanted: PurePosixPath,
    cache: Path | None,
    image: str,
) -> Path:
    cache = cache or default_cache_dir()
    for layer in reversed(layers):
        digest: str = layer["digest"]
        key = hashlib.sha256(f"{digest}:{wanted}".encode()).hexdigest()[:32]
        target = cache / key / wanted.name
        if target.is_file():
            return target
        blob = _blob(layout, digest, image)
        with tarfile.open(blob) as tar:
            found = [m for m in tar.getmembers() if _member_path(m, image) == wanted]
            info = found[-1] if found else None  # the last entry of a name wins when unpacked
            if info is None:
                continue
            _regular(info, wanted, image)
            _verify(blob, digest, image)
            source = tar.extractfile(info)
            if source is None:
                raise ContainerDiskError(f"image {image!r}: cannot read {wanted}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
            try:
                with os.fdopen(fd, "wb") as out, source:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                # Bases are shared by every VMI of this image: never writable.
                os.chmod(tmp, 0o444)
                os.replace(tmp, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            return target
    raise ContainerDiskError(f"image {image!r}: no file {wanted} in any layer")


def _verify(blob: Path, digest: str, image: str) -> None:
    algo, _, expected = digest.partition(":")
    if algo != "sha256":
        raise ContainerDiskError(f"image {image!r}: digest algorithm {algo!r} not supported")
    h = hashlib.sha256()
    with blob.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    if h.hexdigest() != expected:
        raise ContainerDiskError(f"image {image!r}: blob {digest} does not match its digest")
