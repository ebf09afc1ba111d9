"""Helpers for the local-node tests: kubectl with JSON, pod manifests, host inspection."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.integration.helpers import wait_for
from virtkube.local.cluster import LocalCluster
from virtkube.local.node.layout import NETNS_DIR, ClusterNet, NodeDirs
from virtkube.local.procs import processes_mentioning
from virtkube.local.registry import UTILITY_REF

#: What test pods run: a stand-in node runs only "the checkout" (virtkube/local:dev); real
#: nodes (VIRTKUBE_TEST_NODE_RUNTIME=containerd) the utility image from the local registry.
IMAGE = (UTILITY_REF if os.environ.get("VIRTKUBE_TEST_NODE_RUNTIME") == "containerd"
         else "virtkube/local:dev")
Obj = dict[str, Any]


def apply(cluster: LocalCluster, *docs: Obj) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def get(cluster: LocalCluster, *args: str) -> Obj | None:
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def pods(cluster: LocalCluster, ns: str, selector: str) -> list[Obj]:
    reply = get(cluster, "pods", "-n", ns, "-l", selector)
    return list((reply or {}).get("items") or [])


def ready(pod: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def phase(cluster: LocalCluster, ns: str, name: str) -> str | None:
    pod = get(cluster, "pod", "-n", ns, name)
    return None if pod is None else str((pod.get("status") or {}).get("phase"))


def namespace(cluster: LocalCluster, name: str) -> str:
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(f"service account default in {name}",
             lambda: get(cluster, "serviceaccount", "-n", name, "default"), 30)
    return name


def pod(name: str, command: list[str], *, node: str | None = None,
        restart: str = "Never", image: str = IMAGE, **spec: Any) -> Obj:
    s: Obj = {"restartPolicy": restart, "terminationGracePeriodSeconds": 2,
              "containers": [{"name": "main", "image": image, "command": command}], **spec}
    if node:
        s["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def net(cluster: LocalCluster) -> ClusterNet:
    return ClusterNet(cluster.home.root, cluster.config().pod_network)


def host_traces(cluster: LocalCluster, uid: str) -> list[str]:
    """What a pod with `uid` still holds on the host: netns, IPAM entries, shims, files."""
    found: list[str] = []
    n = net(cluster)
    if (NETNS_DIR / n.netns_name(uid)).exists():
        found.append(f"netns {n.netns_name(uid)}")
    for i in range(cluster.config().nodes):
        dirs = NodeDirs(cluster.home.root, i)
        for f in dirs.ipam.glob("*/*"):
            if f.is_file() and uid in f.read_text(errors="replace"):
                found.append(f"ipam {f}")
        if dirs.pod(uid).exists():
            found.append(f"state {dirs.pod(uid)}")
    found += [f"process {pid}" for pid in sorted(processes_mentioning(uid))]
    return found


def bridge_ports(cluster: LocalCluster) -> set[str]:
    out = subprocess.run(["ip", "-j", "link", "show", "master", net(cluster).bridge],
                         capture_output=True, text=True).stdout
    return {str(x["ifname"]) for x in json.loads(out or "[]")}


def component_pid(cluster: LocalCluster, name: str) -> int | None:
    path: Path = cluster.home.supervisor_state
    try:
        pid = json.loads(path.read_text())["components"][name]["pid"]
    except (OSError, ValueError, KeyError):
        return None
    return int(pid) if pid else None
