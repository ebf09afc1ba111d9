"""A real node (the upstream kubelet + containerd + Debian's runc) joins the session's cluster
beside the stand-in nodes: it becomes Ready, runs a pod of the utility image, serves its
logs and exec, and leaves nothing behind when it stops (issue 12, first step)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

import pytest

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import namespace
from tests.integration.realnode_helpers import (
    NAME,
    TAINT,
    node_ready,
    run_pod,
    running_real_node,
    utility_pod,
)
from virtkube.local.cluster import LocalCluster
from virtkube.local.procs import cmdline, processes_mentioning
from virtkube.local.realnode import cgroups
from virtkube.local.realnode.layout import CONTAINERD_VERSION, KUBELET_VERSION, RealNode

pytestmark = pytest.mark.integration

NS = "realnode"


@pytest.fixture(scope="module")
def real_node(cluster: LocalCluster) -> Iterator[RealNode]:
    with running_real_node(cluster, NS) as node:
        yield node


def test_node_is_ready_with_containerd(cluster: LocalCluster, real_node: RealNode) -> None:
    started = time.monotonic()
    node = wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"] == f"containerd://{CONTAINERD_VERSION}"
    assert info["kubeletVersion"] == KUBELET_VERSION
    taints = node["spec"].get("taints") or []
    # Beside it the node controller may add its own, valueless not-ready taint for a moment.
    assert TAINT.as_dict() in [{k: t.get(k, "") for k in ("key", "value", "effect")}
                               for t in taints]
    print(f"{NAME} Ready after {time.monotonic() - started:.1f}s")


def test_pod_of_the_utility_image_runs_logs_and_execs(cluster: LocalCluster,
                                                      real_node: RealNode) -> None:
    wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    namespace(cluster, NS)
    marker = "hello from a real node"
    pod = run_pod(cluster, utility_pod("util", NS, f"echo {marker}; exec sleep 3600"))
    wait_for("the pod's log line", lambda: marker in cluster.kubectl(
        "logs", "-n", NS, "util", check=False).stdout, timeout=30)
    res = cluster.kubectl("exec", "-n", NS, "util", "--", "sh", "-c",
                          "echo exec in $(hostname) as $(id -u)", check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "exec in util as 0"
    # The pod is on the cluster's bridge, with an address from this node's /24.
    ip = ipaddress.IPv4Address(pod["status"]["podIP"])
    first, last = real_node.cluster_net(cluster.config().pod_network).pod_range(real_node.index)
    assert ipaddress.IPv4Address(first) <= ip <= ipaddress.IPv4Address(last), (ip, first, last)
    # What the clean-up check looks for is there while the node runs (it is not vacuous):
    # the pod's shim names the node's folder, and the node's cgroups hold its processes.
    shims = [pid for pid in processes_mentioning(str(real_node.root))
             if "containerd-shim-runc-v2" in " ".join(cmdline(pid))]
    assert shims, "no containerd shim names the node's folder"
    assert set(shims) <= cgroups.pids(real_node.cgroup_parent)
