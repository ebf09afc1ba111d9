"""The node's mount namespace: its own folders at the well-known paths, the host unchanged.

The kubelet and containerd use a few host paths whatever their flags say
(/var/lib/kubelet/device-plugins, /var/log/containers, containerd's shim sockets in
/run/containerd/s). Inside the node's mount namespace (its runner unshares one with every
mount private, so no mount reaches the host) those paths are bind mounts of the node's
folders.

A mountpoint must exist, and creating /var/lib/kubelet on the host would change the host.
So each parent (/var/lib, /var/log, /run) is covered with a tmpfs in the namespace that
holds the same entries as the host's (each one a bind mount of the original, symlinks
copied), plus the node's own. The host's files stay reachable and unchanged; only this
namespace sees the difference.
"""

from __future__ import annotations

import ctypes
import os
from collections import defaultdict
from pathlib import Path

from virtkube.local.realnode.layout import RealNode

#: From <sched.h> and <sys/mount.h>.
CLONE_NEWNS = 0x00020000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


class MountError(RuntimeError):
    """A mount step failed; the message names the call, its arguments and the error."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        raise MountError(f"{what} failed: {os.strerror(ctypes.get_errno())}")


def _mount(source: str | Path, target: str | Path, fstype: str = "", flags: int = 0,
           data: str = "") -> None:
    """mount(2) itself: util-linux's mount would also write /run/mount/utab on the host."""
    ret = _libc.mount(str(source).encode(), str(target).encode(), fstype.encode() or None,
                      ctypes.c_ulong(flags), data.encode() or None)
    _check(ret, f"mount({source}, {target}, {fstype or '-'}, {flags:#x}, {data or '-'})")


def _umount_lazy(path: Path) -> None:
    _check(_libc.umount2(str(path).encode(), MNT_DETACH), f"umount2({path}, MNT_DETACH)")


def enter_own_namespace() -> None:
    """unshare(CLONE_NEWNS), then make every mount private, as `unshare --mount
    --propagation private` does: from here on nothing mounted reaches the host, and
    the children (containerd, the kubelet, the shims) inherit the namespace."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount("none", "/", flags=MS_REC | MS_PRIVATE)


def _cover(parent: Path, own: dict[str, Path], scratch: Path) -> None:
    """Put a tmpfs over `parent` that mirrors the host's entries and adds `own`
    (entry name -> the node's folder to mount there, replacing any host entry)."""
    stash = scratch / parent.relative_to("/")
    stash.mkdir(parents=True, exist_ok=True)
    _mount(parent, stash, flags=MS_BIND | MS_REC)
    _mount(f"virtkube-{parent.name}", parent, "tmpfs", data="mode=0755")
    with os.scandir(stash) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.name in own:
            continue
        target = parent / entry.name
        src = stash / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(src), target)
        elif entry.is_dir(follow_symlinks=False):
            target.mkdir()
            _mount(src, target, flags=MS_BIND | MS_REC)
        else:
            target.touch()
            _mount(src, target, flags=MS_BIND)
    for name, folder in sorted(own.items()):
        target = parent / name
        target.mkdir()
        _mount(folder, target, flags=MS_BIND)
    # The host's tree stays reachable through the entries just mounted; the stash goes.
    _umount_lazy(stash)


def setup(node: RealNode) -> None:
    """Enter a mount namespace of the node's own and mount its folders at the well-known
    paths there."""
    enter_own_namespace()
    by_parent: dict[Path, dict[str, Path]] = defaultdict(dict)
    for path, folder in node.well_known().items():
        folder.mkdir(parents=True, exist_ok=True)
        by_parent[path.parent][path.name] = folder
    for parent, own in sorted(by_parent.items()):
        _cover(parent, own, node.mounts)
    # Shared within the namespace only (its mounts are private to the host): the kubelet
    # wants /var/lib/kubelet shared for mountPropagation, and runc's containers inherit it.
    _mount("none", "/", flags=MS_REC | MS_SHARED)
