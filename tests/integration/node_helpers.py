"""Helpers for the local-node tests: kubectl with JSON, pod manifests, the cluster's network."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.integration.helpers import wait_for
from virtkube.local.cluster import LocalCluster
from virtkube.local.net.layout import ClusterNet
from virtkube.local.registry import UTILITY_REF

#: What test pods run: the utility image (busybox) from the local registry.
IMAGE = UTILITY_REF
Obj = dict[str, Any]


def apply(cluster: LocalCluster, *docs: Obj) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def get(cluster: LocalCluster, *args: str) -> Obj | None:
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


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
