"""Named network namespaces, the way `ip netns` keeps them (a bind mount under /run/netns).

A named netns outlives the processes in it, so a node restarted after SIGKILL finds its
pods' namespaces by name (the home hash + the pod uid) and adopts or removes them.
"""

from __future__ import annotations

from pathlib import Path

from virtkube.local.node.hostnet import kill_netns_processes, run
from virtkube.local.node.layout import NETNS_DIR


def path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path(name).exists()


def create(name: str) -> Path:
    if not exists(name):
        run("ip", "netns", "add", name)
    return path(name)


def delete(name: str) -> None:
    """Remove the netns; its processes are killed first so the kernel frees it (and the veth)."""
    if exists(name):
        kill_netns_processes(name)
        run("ip", "netns", "del", name, check=False)
