"""A real node (the upstream kubelet + containerd + Debian's runc) joins the session's cluster
beside the stand-in nodes: it becomes Ready, runs a pod of the utility image, serves its
logs and exec, and leaves nothing behind when it stops (issue 12, first step)."""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from images.utility import ARCHIVE, UTILITY_REF, node_images_dir

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import apply, get, namespace
from virtkube.local.cluster import LocalCluster
from virtkube.local.node import hostnet
from virtkube.local.procs import cmdline, die_with_parent, processes_mentioning, terminate
from virtkube.local.realnode import cgroups, config
from virtkube.local.realnode.layout import (
    CONTAINERD_VERSION,
    CRI_NAMESPACE,
    KUBELET_VERSION,
    Binaries,
    RealNode,
    binaries_dir,
)
from virtkube.local.realnode.runner import cleanup as runner_cleanup

pytestmark = pytest.mark.integration

NAME = "virtkube-kubelet-0"
#: Keeps every other test's pods off this node; this module's pods tolerate it.
TAINT = config.Taint("virtkube.io/real-node", "true", "NoSchedule")
TOLERATION = {"key": TAINT.key, "operator": "Exists", "effect": TAINT.effect}
NS = "realnode"


def node_ready(cluster: LocalCluster) -> dict[str, Any] | None:
    node = get(cluster, "node", NAME)
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return node if ready else None


def host_mounts_under(root: Path) -> list[str]:
    """Mounts of the test's (the host's) mount namespace that name the node's folder."""
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(root) in line]


def leftovers(node: RealNode, ports_before: set[str], host_before: list[str]) -> list[str]:
    """What the stopped node still holds on the host."""
    found = [f"process {pid}" for pid in processes_mentioning(str(node.root))]
    found += [f"cgroup {d}" for d in cgroups.leftovers(node.cgroup_parent)]
    found += [f"mount {m}" for m in host_mounts_under(node.root)]
    found += [f"bridge port {p}" for p in sorted(set(hostnet.bridge_ports(
        node.cluster_net("0.0.0.0/32").bridge)) - ports_before)]
    found += [x for x in hostnet.leftovers(node.home_root) if x not in host_before]
    return found


@pytest.fixture(scope="module")
def real_node(cluster: LocalCluster) -> Iterator[RealNode]:
    binaries = Binaries(binaries_dir())
    for path, target in ((binaries.containerd, "noderuntime"), (binaries.shim, "noderuntime"),
                         (binaries.controlplane, "controlplane"),
                         (node_images_dir() / ARCHIVE, "node-images")):
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make {target}`")
    cfg = cluster.config()
    # The first slot of the cluster's address plan that no stand-in node uses.
    node = RealNode(cluster.home.root, NAME, cfg.nodes)
    ports_before = set(hostnet.bridge_ports(node.cluster_net(cfg.pod_network).bridge))
    host_before = hostnet.leftovers(node.home_root)
    opts = config.NodeOptions(taints=(TAINT,), labels={"virtkube.io/real-node": "true"})
    node.root.mkdir(parents=True, exist_ok=True)
    with (node.root / "runner.log").open("ab") as out:
        runner = subprocess.Popen(list(config.runner_argv(node, sys.executable, opts)),
                                  stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
    try:
        wait_for("containerd's socket", lambda: node.socket.is_socket() or runner.poll(),
                 timeout=60)
        assert runner.poll() is None, f"the runner exited {runner.returncode}: " + (
            node.root / "runner.log").read_text()[-3000:]
        res = subprocess.run([str(binaries.ctr), "--address", str(node.socket), "-n",
                              CRI_NAMESPACE, "images", "import",
                              str(node_images_dir() / ARCHIVE)],
                             capture_output=True, text=True, check=False)
        assert res.returncode == 0, f"ctr images import: {res.stderr}"
        yield node
    finally:
        cluster.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true",
                        "--timeout=60s", check=False)
        terminate([runner.pid], 30.0)
        runner.wait()
        cluster.kubectl("delete", "node", NAME, "--ignore-not-found", check=False)
        try:
            # The runner cleans up on SIGTERM; nothing may be left of the node (a veth goes
            # with its netns, which the kernel frees a moment after the last process).
            with contextlib.suppress(AssertionError):
                wait_for("the stopped node to leave nothing behind",
                         lambda: not leftovers(node, ports_before, host_before), timeout=15)
            left = leftovers(node, ports_before, host_before)
            assert not left, f"left on the host after the node stopped: {left}"
            assert runner.returncode == 0, f"the runner exited {runner.returncode}: " + (
                node.root / "runner.log").read_text()[-3000:]
        finally:
            # Whatever happened, the rest of the session gets a host without this node.
            runner_cleanup(node, cfg)


def test_node_is_ready_with_containerd(cluster: LocalCluster, real_node: RealNode) -> None:
    started = time.monotonic()
    node = wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"] == f"containerd://{CONTAINERD_VERSION}"
    assert info["kubeletVersion"] == KUBELET_VERSION
    taints = node["spec"].get("taints") or []
    assert TAINT.as_dict() in [{k: t[k] for k in ("key", "value", "effect")} for t in taints]
    print(f"{NAME} Ready after {time.monotonic() - started:.1f}s")


def test_pod_of_the_utility_image_runs_logs_and_execs(cluster: LocalCluster,
                                                      real_node: RealNode) -> None:
    wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    namespace(cluster, NS)
    marker = "hello from a real node"
    apply(cluster, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "util", "namespace": NS},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": NAME},
            "tolerations": [TOLERATION],
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": UTILITY_REF,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", "-c", f"echo {marker}; exec sleep 3600"]}],
        },
    })

    def running() -> dict[str, Any] | None:
        pod = get(cluster, "pod", "-n", NS, "util")
        status = (pod or {}).get("status") or {}
        return pod if status.get("phase") == "Running" else None

    pod = wait_for("pod util Running on the real node", running, timeout=120)
    assert pod["spec"]["nodeName"] == NAME
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
