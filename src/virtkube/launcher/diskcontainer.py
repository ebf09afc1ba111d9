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

import os
import socket
import struct
import time
from pathlib import Path

from virtkube.launcher import safepath
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
        return _regular(root, path.lstrip("/"), what)
    try:
        names = sorted(os.listdir(safepath.resolve_inside(root, DISK_DIR, what=what)))
    except OSError as e:
        raise ContainerDiskError(f"{what}: no /{DISK_DIR}/ in the image ({e.strerror})") from e
    except safepath.PathEscapeError as e:
        raise ContainerDiskError(str(e)) from e
    if len(names) != 1:
        raise ContainerDiskError(f"{what}: /{DISK_DIR}/ must hold exactly one file, it holds "
                                 f"{names or 'none'}; set containerDisk.path")
    return _regular(root, f"{DISK_DIR}/{names[0]}", what)


def image_file(root: Path, image: str, member: str) -> Path:
    """A file of a kernelBoot image (kernelPath, initrdPath)."""
    return _regular(root, member.lstrip("/"), f"kernelBoot image {image!r}")


def _regular(root: Path, name: str, what: str) -> Path:
    try:
        return safepath.regular_file(root, name, what=what)
    except FileNotFoundError as e:
        raise ContainerDiskError(f"{what}: /{name} is not in the image") from e
    except safepath.PathEscapeError as e:
        raise ContainerDiskError(str(e)) from e
