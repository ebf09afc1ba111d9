"""One more node (the upstream kubelet + containerd + Debian's runc) joined to the session's
cluster by the test itself, for the test modules that start and stop a node under their
own control: started with the utility image imported, stopped with a check that it left
nothing on the host."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from images.utility import ARCHIVE, UTILITY_REF, node_images_dir

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import apply, get
from tests.leftovers import host_mounts_naming
from virtkube.local.cluster import LocalCluster
from virtkube.local.net import hostnet
from virtkube.local.procs import die_with_parent, processes_mentioning, terminate
from virtkube.local.realnode import cgroups, config
from virtkube.local.realnode.layout import CRI_NAMESPACE, Binaries, RealNode, binaries_dir
from virtkube.local.realnode.runner import cleanup as runner_cleanup

NAME = "virtkube-kubelet-0"
#: Keeps every other test's pods off this node; the real-node tests' pods tolerate it.
TAINT = config.Taint("virtkube.io/real-node", "true", "NoSchedule")
TOLERATION = {"key": TAINT.key, "operator": "Exists", "effect": TAINT.effect}


def node_ready(cluster: LocalCluster) -> dict[str, Any] | None:
    node = get(cluster, "node", NAME)
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return node if ready else None


def leftovers(node: RealNode, ports_before: set[str], host_before: list[str]) -> list[str]:
    """What the stopped node still holds on the host."""
    found = [f"process {pid}" for pid in processes_mentioning(str(node.root))]
    found += [f"cgroup {d}" for d in cgroups.leftovers(node.cgroup_parent)]
    found += [f"mount {m}" for m in host_mounts_naming(node.root)]
    found += [f"bridge port {p}" for p in sorted(set(hostnet.bridge_ports(
        node.cluster_net("0.0.0.0/32").bridge)) - ports_before)]
    found += [x for x in hostnet.leftovers(node.home_root) if x not in host_before]
    return found


def utility_pod(name: str, ns: str, command: str, **container: Any) -> dict[str, Any]:
    """A pod of the utility image pinned to the real node; `container` adds to its one
    container (resources, ...)."""
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": NAME},
            "tolerations": [TOLERATION],
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": UTILITY_REF,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", "-c", command], **container}],
        },
    }


def run_pod(cluster: LocalCluster, pod: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Applies `pod` and waits for it to run on the real node."""
    apply(cluster, pod)
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]

    def running() -> dict[str, Any] | None:
        got = get(cluster, "pod", "-n", ns, name)
        status = (got or {}).get("status") or {}
        return got if status.get("phase") == "Running" else None

    got = wait_for(f"pod {name} Running on the real node", running, timeout=timeout)
    assert got["spec"]["nodeName"] == NAME
    return got


@contextlib.contextmanager
def running_real_node(cluster: LocalCluster, ns: str) -> Iterator[RealNode]:
    """The node's runner started, its containerd up with the utility image; on the way out
    namespace `ns` (the caller's pods) is deleted, then the node, and nothing may be left."""
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
        cluster.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true",
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
