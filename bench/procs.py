"""The bench's view of the host's processes: start times, RSS, a VMI's launcher and QEMU.

Stand-in nodes run the launcher as a host process; real nodes run it as a container
process, which is still in the host's pid namespace with the VMI uid in its argv (the
per-VMI socket folder is named after it). Both are therefore found the same way, by
argv, from /proc; only what surrounds them differs (real nodes add a containerd shim,
the pause process, the containerDisk's process and the node's kubelet and containerd).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from virtkube.local.procs import cmdline

CLK_TCK = os.sysconf("SC_CLK_TCK")


def now() -> float:
    """Seconds since boot: comparable with process start times from /proc."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def proc_start(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19]) / CLK_TCK


def ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def all_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def pids_where(pred: Callable[[list[str]], bool]) -> list[int]:
    out = []
    for pid in all_pids():
        argv = cmdline(pid)
        if argv and pred(argv):
            out.append(pid)
    return out


def is_launcher(argv: list[str], uid: str) -> bool:
    return ("virtkube.launcher" in argv and any(uid in x for x in argv)
            and "qemu" not in argv[0])


def is_qemu(argv: list[str], uid: str) -> bool:
    return "qemu-system" in argv[0] and any(uid in x for x in argv)


def launcher_pids(uid: str) -> list[int]:
    return pids_where(lambda a: is_launcher(a, uid))


def qemu_pids(uid: str) -> list[int]:
    return pids_where(lambda a: is_qemu(a, uid))


def children(pid: int) -> list[int]:
    """Direct children, from every thread's children list (a child belongs to the thread
    that forked it)."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def subtree(root: int, skip: Iterable[int] = ()) -> list[int]:
    """`root` and its descendants, leaving out the processes in `skip` and theirs."""
    skipped = set(skip)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in skipped:
            continue
        out.append(pid)
        todo += children(pid)
    return out


def pod_overhead(uid: str) -> int | None:
    """RSS of every process of a real node's launcher pod but QEMU: the containerd shim
    (one per pod, the parent of all the pod's containers), the pause process, the launcher,
    its dnsmasq and the containerDisk's process. None where the launcher's parent is not a
    shim (stand-in nodes start the launcher themselves: there is no pod process tree)."""
    launchers = launcher_pids(uid)
    if not launchers:
        return None
    parent = ppid(launchers[0])
    if parent is None or "containerd-shim" not in " ".join(cmdline(parent)[:1]):
        return None
    return sum(rss(p) for p in subtree(parent, skip=qemu_pids(uid)))


def node_daemons(runner: int) -> dict[str, int]:
    """The kubelet and containerd a real node's runner started, by role -> pid."""
    found: dict[str, int] = {}
    for pid in children(runner):
        argv = cmdline(pid)
        if len(argv) > 1 and argv[1] == "kubelet":
            found["kubelet"] = pid
        elif argv and Path(argv[0]).name == "containerd":
            found["containerd"] = pid
    return found
