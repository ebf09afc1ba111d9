"""containerDisk and kernelBoot images as containers of the launcher pod (KubeVirt's way).

On a node with a container runtime the image of a containerDisk is not unpacked by
virtkube: the kubelet pulls it and runs it as a container of the launcher pod, whose only
process is the tiny `container-disk` program (images/containerdisk/) listening on
`<dir>/<volume>.sock` in a folder the pod's containers share. The pod shares one process
namespace, so the peer credentials of that socket name the disk container's pid, and
/proc/<pid>/root is its filesystem: the disk file is opened from there (the backing file of
the VMI's overlay), with no copy and no image store on the host.

A file of the image is taken only when it is a regular file reached without leaving the
image's root: a symlink planted in an image would otherwise resolve against the launcher's
own root.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import struct
import time
from pathlib import Path

from virtkube.launcher.errors import ContainerDiskError

#: KubeVirt's convention: the disk of a containerDisk is the single file under /disk/.
DISK_DIR = "disk"
#: The kernelBoot container's socket name (KubeVirt names that container `kernel-boot`).
KERNEL_BOOT = "kernel-boot"
#: The kubelet starts the pod's containers in order; the disk containers come up within
#: seconds of the launcher, an image pull may take longer.
WAIT_TIMEOUT = 120.0


def socket_path(folder: Path, name: str) -> Path:
    return folder / f"{name}.sock"


def peer_pid(sock_path: Path) -> int:
    """The pid of the process listening on `sock_path`, in this pid namespace (0 when the
    listener is outside it: the pod does not share its process namespace)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock_path))
        pid, _uid, _gid = struct.unpack("3i", s.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return int(pid)


def container_root(folder: Path, name: str, *, timeout: float = WAIT_TIMEOUT) -> Path:
    """/proc/<pid>/root of the disk container serving `name`, once it listens."""
    sock = socket_path(folder, name)
    deadline = time.monotonic() + timeout
    last = "its socket does not exist yet"
    while time.monotonic() < deadline:
        try:
            pid = peer_pid(sock)
        except FileNotFoundError:
            last = "its socket does not exist yet"
        except OSError as e:
            last = f"connecting to its socket: {e.strerror or e}"
        else:
            if pid <= 0:
                raise ContainerDiskError(
                    f"{sock}: the disk container's process is not visible here; the launcher "
                    "pod must share its process namespace (shareProcessNamespace)")
            return Path(f"/proc/{pid}/root")
        time.sleep(0.1)
    raise ContainerDiskError(f"the container of {name!r} did not serve {sock} within "
                             f"{timeout:.0f}s ({last}); see the pod's events for its image pull")


def disk_file(root: Path, image: str, path: str | None = None) -> Path:
    """The disk of a containerDisk image mounted at `root`: `path` when given (KubeVirt's
    containerDisk.path), else the single file under /disk/."""
    what = f"containerDisk {image!r}"
    if path is not None:
        return _regular(root, path, what)
    try:
        folder = _open_dir(root, (DISK_DIR,), what)
    except FileNotFoundError as e:
        raise ContainerDiskError(f"{what}: no /{DISK_DIR}/ in the image") from e
    try:
        names = sorted(os.listdir(folder))
    finally:
        os.close(folder)
    if len(names) != 1:
        raise ContainerDiskError(f"{what}: /{DISK_DIR}/ must hold exactly one file, it holds "
                                 f"{names or 'none'}; set containerDisk.path")
    return _regular(root, f"{DISK_DIR}/{names[0]}", what)


def image_file(root: Path, image: str, member: str) -> Path:
    """A file of a kernelBoot image (kernelPath, initrdPath)."""
    return _regular(root, member, f"kernelBoot image {image!r}")


def _parts(name: str, what: str) -> tuple[str, ...]:
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts or ".." in parts:
        raise ContainerDiskError(f"{what}: {name!r} is not a path inside the image")
    return parts


def _open_dir(root: Path, parts: tuple[str, ...], what: str) -> int:
    """An fd of root/parts, walked one folder at a time with O_NOFOLLOW. Not realpath:
    /proc/<pid>/root is a link the kernel follows into the container's root, which
    realpath would turn into "/" (the launcher's own root)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise ContainerDiskError(
                        f"{what}: /{'/'.join(parts)} passes through {part!r}, which is not a "
                        "folder (a symbolic link?); it was not opened") from e
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _regular(root: Path, name: str, what: str) -> Path:
    """root/name when every folder on the way is a real folder and the file a regular file:
    QEMU then opens that same path, and nothing on it can lead out of the image."""
    parts = _parts(name, what)
    try:
        folder = _open_dir(root, parts[:-1], what)
    except FileNotFoundError as e:
        raise ContainerDiskError(f"{what}: /{'/'.join(parts)} is not in the image") from e
    try:
        st = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError as e:
        raise ContainerDiskError(f"{what}: /{'/'.join(parts)} is not in the image") from e
    finally:
        os.close(folder)
    if stat.S_ISLNK(st.st_mode):
        raise ContainerDiskError(f"{what}: /{'/'.join(parts)} is a symbolic link and was not "
                                 "opened: it must be a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise ContainerDiskError(f"{what}: /{'/'.join(parts)} is not a regular file")
    return root.joinpath(*parts)
