"""Every file the launcher opens for a VMI is resolved inside the directory it belongs to.

The launcher joins names that came from a user onto directories the pod was
given: an image repository onto the image store, a blob digest onto an OCI
layout, a ConfigMap key onto its volume, `disk.img` onto a PVC's mount. A name
with `..` or a leading `/`, or a symlink planted in a volume, would otherwise
reach any file the launcher can read (on the local node, the host's own files).
Here such a name is refused before anything is opened:

- `resolve_inside` follows symlinks and accepts the result only when it stays
  inside the base (the kubelet's `..data` links in a ConfigMap volume do);
- `regular_file` refuses a final symlink outright, wherever it points, for the
  disk images QEMU opens (KubeVirt expects a regular file or a block device);
- `read_inside` opens the resolved file with O_NOFOLLOW and reads it through
  that descriptor.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from virtkube.launcher.errors import LauncherError


class PathEscapeError(LauncherError):
    """A user-given name would lead outside the directory it must stay in."""


class SymlinkError(PathEscapeError):
    """A file that must be opened as itself is a symbolic link; it was not opened."""


def relative_name(name: str | PurePosixPath, what: str) -> PurePosixPath:
    """`name` as a relative path of plain components: no `..`, not absolute, not empty."""
    text = str(name)
    rel = PurePosixPath(text)
    if not text or rel.is_absolute() or any(part == ".." for part in rel.parts) or not rel.parts:
        raise PathEscapeError(f"{what} {text!r} is not a relative path inside its directory "
                              "(absolute, empty or with '..')")
    return rel


def resolve_inside(base: Path, name: str | PurePosixPath, *, what: str) -> Path:
    """The real path of base/name, symlinks followed, refused unless it stays inside base."""
    rel = relative_name(name, what)
    real_base = os.path.realpath(base)
    real = os.path.realpath(os.path.join(real_base, *rel.parts))
    if os.path.commonpath([real, real_base]) != real_base:
        raise PathEscapeError(f"{what} {str(name)!r} leads outside {base} (to {real}); "
                              "it was not opened")
    return Path(real)


def regular_file(base: Path, name: str, *, what: str, block_ok: bool = False) -> Path:
    """base/name when it is a regular file (or block device) itself, never a symlink.

    Its folders must resolve inside base; a missing file raises FileNotFoundError.
    """
    rel = relative_name(name, what)
    if len(rel.parts) > 1:
        resolve_inside(base, rel.parent, what=what)
    path = base.joinpath(*rel.parts)
    st = os.lstat(path)
    kinds = "a regular file or a block device" if block_ok else "a regular file"
    if stat.S_ISLNK(st.st_mode):
        raise SymlinkError(f"{what} {path} is a symbolic link (to {os.readlink(path)!r}) and "
                           f"was not opened: it must be {kinds}")
    if not (stat.S_ISREG(st.st_mode) or (block_ok and stat.S_ISBLK(st.st_mode))):
        raise PathEscapeError(f"{what} {path} is not {kinds}")
    return path


def read_inside(base: Path, name: str | PurePosixPath, *, what: str) -> bytes:
    """The bytes of the regular file base/name, resolved inside base and read without
    following a link swapped in after the check."""
    real = resolve_inside(base, name, what=what)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise PathEscapeError(f"{what} {str(name)!r}: cannot open {real}: {e.strerror}") from e
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise PathEscapeError(f"{what} {str(name)!r} is not a regular file")
        return f.read()
