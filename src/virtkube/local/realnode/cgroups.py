"""The node's cgroup subtree in every hierarchy: what runs in it, and its removal.

containerd (with its shims), the kubelet and every pod of a real node live under one
cgroup path (layout.RealNode.cgroup_parent) in each mounted hierarchy, so that stopping a
node can find every process it started, shims and containers included, without trusting
any pid file, and leave no cgroup behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from virtkube.local.procs import wait_gone

ROOT = Path("/sys/fs/cgroup")


def hierarchies() -> list[Path]:
    """The mounted hierarchies: /sys/fs/cgroup itself on v2, each controller's on v1."""
    if (ROOT / "cgroup.procs").exists():
        return [ROOT]
    return sorted(p for p in ROOT.iterdir() if (p / "cgroup.procs").exists() and p.is_dir()
                  and not p.is_symlink())


def subtree(path: str) -> list[Path]:
    """Every existing cgroup dir at or below `path` in any hierarchy, deepest first."""
    found: list[Path] = []
    for h in hierarchies():
        top = h / path.lstrip("/")
        if top.is_dir():
            found += [Path(d) for d, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def pids(path: str) -> set[int]:
    found: set[int] = set()
    for d in subtree(path):
        with contextlib.suppress(OSError, ValueError):
            found |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
    return found


def kill_all(path: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL everything under `path` until nothing is left; returns the survivors."""
    left: list[int] = []
    for _ in range(5):
        found = sorted(pids(path))
        if not found:
            return []
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        left = wait_gone(found, timeout / 5)
    return left


def remove(path: str) -> list[str]:
    """rmdir the subtree, deepest first, then the parent if it is left empty; what went."""
    removed: list[str] = []
    for d in subtree(path):
        with contextlib.suppress(OSError):
            d.rmdir()
            removed.append(str(d))
    parent = str(Path(path).parent)
    if parent != "/":
        for h in hierarchies():
            with contextlib.suppress(OSError):
                (h / parent.lstrip("/")).rmdir()
                removed.append(str(h / parent.lstrip("/")))
    return removed


def leftovers(path: str) -> list[str]:
    return [str(d) for d in subtree(path)]
