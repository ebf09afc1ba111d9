"""Memory and CPU limits for containers, through whichever cgroup version this machine has.

A container's processes join `<node's own cgroup>/virtkube-<hash>/pod<uid>/<container>` in
each controller hierarchy, so limits nest under whatever confines the node itself. cgroup v1
(separate `memory` and `cpu` hierarchies, as on this project's CI machine) and v2 (the
unified hierarchy with the memory and cpu controllers delegated) both work; where neither is
writable the pod runs unlimited and the node says so once in its log.

Kubernetes semantics: limits.memory -> memory.limit_in_bytes / memory.max;
limits.cpu -> CFS quota over a 100ms period; requests.cpu -> cpu.shares / cpu.weight.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000
#: How deep `remove_tree` looks for a cluster's cgroups under each hierarchy's root.
SEARCH_DEPTH = 6


@dataclass(frozen=True)
class Limits:
    memory_bytes: int | None = None
    cpu_limit_millis: int | None = None
    cpu_request_millis: int | None = None


def version() -> str:
    """"v2", "v1" or "none": what `create` can use here."""
    if (ROOT / "cgroup.controllers").exists():
        ctrl = (ROOT / "cgroup.controllers").read_text().split()
        return "v2" if {"memory", "cpu"} <= set(ctrl) else "none"
    if (ROOT / "memory" / "cgroup.procs").exists() and (ROOT / "cpu" / "cgroup.procs").exists():
        return "v1" if os.access(ROOT / "memory", os.W_OK) else "none"
    return "none"


def _own(controller: str) -> str:
    """This process's cgroup path in the hierarchy of `controller` ("" for v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller == "" and ctrls == "") or controller in ctrls.split(","):
            return path.lstrip("/")
    return ""


def _hierarchies() -> list[tuple[str, Path]]:
    v = version()
    if v == "v2":
        return [("", ROOT)]
    if v == "v1":
        return [("memory", ROOT / "memory"), ("cpu", ROOT / "cpu")]
    return []


def _write(path: Path, value: str) -> None:
    path.write_text(value + "\n")


def _apply(controller: str, d: Path, limits: Limits) -> None:
    if controller == "memory" and limits.memory_bytes:
        _write(d / "memory.limit_in_bytes", str(limits.memory_bytes))
    elif controller == "cpu":
        if limits.cpu_limit_millis:
            _write(d / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(d / "cpu.cfs_quota_us", str(limits.cpu_limit_millis * CFS_PERIOD_US // 1000))
        if limits.cpu_request_millis:
            _write(d / "cpu.shares", str(max(2, limits.cpu_request_millis * 1024 // 1000)))
    elif controller == "":
        if limits.memory_bytes:
            _write(d / "memory.max", str(limits.memory_bytes))
        if limits.cpu_limit_millis:
            _write(d / "cpu.max", f"{limits.cpu_limit_millis * CFS_PERIOD_US // 1000} "
                                  f"{CFS_PERIOD_US}")
        if limits.cpu_request_millis:
            # cgroup v2 weight from shares, as runc converts it.
            shares = max(2, limits.cpu_request_millis * 1024 // 1000)
            _write(d / "cpu.weight", str(1 + ((shares - 2) * 9999) // 262142))


def create(base: str, pod_uid: str, container: str, limits: Limits) -> list[Path]:
    """The cgroup dirs a container's shim joins (writing its pid to cgroup.procs); [] if none."""
    dirs: list[Path] = []
    for controller, root in _hierarchies():
        d = root / _own(controller) / base / f"pod{pod_uid}" / container
        try:
            if controller == "":
                for parent in (root / _own(""), root / _own("") / base,
                               root / _own("") / base / f"pod{pod_uid}"):
                    parent.mkdir(exist_ok=True)
                    with contextlib.suppress(OSError):
                        _write(parent / "cgroup.subtree_control", "+memory +cpu")
            d.mkdir(parents=True, exist_ok=True)
            _apply(controller, d, limits)
            dirs.append(d)
        except OSError as e:
            log.warning("cgroup %s not usable (%s); container %s runs without its limits",
                        d, e, container)
    return dirs


def _rmdir_tree(d: Path) -> bool:
    for child in [c for c in d.iterdir() if c.is_dir()]:
        _rmdir_tree(child)
    try:
        d.rmdir()
        return True
    except OSError:
        return False


def remove_pod(base: str, pod_uid: str) -> None:
    for controller, root in _hierarchies():
        d = root / _own(controller) / base / f"pod{pod_uid}"
        if d.is_dir():
            _rmdir_tree(d)


def _find(root: Path, name: str, depth: int) -> list[Path]:
    found: list[Path] = []
    with contextlib.suppress(OSError):
        for child in root.iterdir():
            if not child.is_dir():
                continue
            if child.name == name:
                found.append(child)
            elif depth > 0:
                found += _find(child, name, depth - 1)
    return found


def remove_tree(base: str) -> list[str]:
    """Remove every `base` cgroup (a cluster's) wherever a node process created it."""
    removed: list[str] = []
    for _, root in _hierarchies():
        for d in _find(root, base, SEARCH_DEPTH):
            if _rmdir_tree(d):
                removed.append(f"cgroup {d}")
    return removed
