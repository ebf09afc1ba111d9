"""What a local cluster may leave on the host after `virtkube down`: the checks behind
"nothing left behind" (processes, mounts, netns, veths, the bridge, the nftables table,
the nodes' cgroups), shared by the session's cluster and the tests that bring up their own."""

from __future__ import annotations

from pathlib import Path

from virtkube.local.net import hostnet
from virtkube.local.net.layout import node_name
from virtkube.local.procs import cmdline, processes_mentioning
from virtkube.local.realnode import cgroups
from virtkube.local.realnode.layout import RealNode


def host_mounts_naming(root: Path) -> list[str]:
    """Mounts of this (the host's) mount namespace that name `root`."""
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(root) in line]


def leftovers(home_root: Path, nodes: int) -> list[str]:
    found = [f"process {pid}: {' '.join(cmdline(pid))[:120]}"
             for pid in processes_mentioning(str(home_root))]
    found += [f"mount {m}" for m in host_mounts_naming(home_root)]
    found += hostnet.leftovers(home_root)
    for i in range(nodes):
        node = RealNode(home_root, node_name(i), i)
        found += [f"cgroup {d}" for d in cgroups.leftovers(node.cgroup_parent)]
    return found
