"""The Node object of a local node, its Lease and its Ready condition.

The Node is what the kube-scheduler binds pods to, so it carries what a kubelet's does:
capacity/allocatable (cpu and memory from this machine, pods from the config), the
well-known labels, the InternalIP on the cluster bridge and the log server's port as
daemonEndpoints.kubeletEndpoint (the API server reaches logs there). Liveness is the Lease
in kube-node-lease, renewed every RENEW seconds like the kubelet's; the Ready condition is
refreshed on the same beat and turned False when the node stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import platform
from pathlib import Path
from typing import Any

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.resources import LEASES, NODES

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: The kubelet's lease duration and renew interval (a quarter of it).
LEASE_SECONDS = 40
RENEW = 10.0
KUBELET_VERSION = "v1.37.2"
RUNTIME_VERSION = "virtkube-local://0.1.0"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def machine_resources() -> tuple[int, int]:
    """(cpus, memory in KiB) of this machine."""
    mem_kib = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return os.cpu_count() or 1, mem_kib


def conditions(ready: bool, now: str, message: str = "") -> list[Obj]:
    def cond(ctype: str, status: str, reason: str, msg: str) -> Obj:
        return {"type": ctype, "status": status, "reason": reason, "message": msg,
                "lastHeartbeatTime": now, "lastTransitionTime": now}

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID "
                                                                 "available"),
        cond("Ready", "True" if ready else "False",
             "KubeletReady" if ready else "KubeletNotReady",
             message or ("kubelet is posting ready status" if ready else "node stopped")),
    ]


def keep_transitions(new: list[Obj], old: list[Obj]) -> list[Obj]:
    """lastTransitionTime changes only with status."""
    prev = {c["type"]: c for c in old}
    out = []
    for c in new:
        p = prev.get(c["type"])
        if p and p.get("status") == c["status"] and p.get("lastTransitionTime"):
            c = {**c, "lastTransitionTime": p["lastTransitionTime"]}
        out.append(c)
    return out


def node_object(*, name: str, ip: str, port: int, pod_cidr: str, max_pods: int, cpus: int,
                memory_kib: int, now: str) -> Obj:
    """The Node as a local node registers it (pure)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    resources = {"cpu": str(cpus), "memory": f"{memory_kib}Ki", "pods": str(max_pods),
                 "ephemeral-storage": "0"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": arch, "virtkube.io/local-node": "true"}},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "capacity": resources, "allocatable": dict(resources),
            "conditions": conditions(True, now),
            "addresses": [{"type": "InternalIP", "address": ip},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "nodeInfo": {
                "machineID": _read("/etc/machine-id"), "systemUUID": _read("/etc/machine-id"),
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": platform.release(), "osImage": _os_image(),
                "containerRuntimeVersion": RUNTIME_VERSION, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": arch,
            },
        },
    }


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


async def register(client: Client, node: Obj) -> Obj:
    """Create the Node, or bring an existing one (a restart) up to date."""
    name = node["metadata"]["name"]
    try:
        created = await client.create(NODES, node)
    except errors.Conflict:
        current = await client.get(NODES, name)
        await client.patch(NODES, name, {"metadata": {"labels": node["metadata"]["labels"]}})
        status = dict(node["status"])
        status["conditions"] = keep_transitions(
            status["conditions"], (current.get("status") or {}).get("conditions") or [])
        return await client.patch(NODES, name, {"status": status}, subresource="status")
    # Status on create is kept for Nodes, but say it again through /status to be sure.
    return await client.patch(NODES, name, {"status": node["status"]}, subresource="status") \
        if not (created.get("status") or {}).get("conditions") else created


async def set_ready(client: Client, name: str, ready: bool, message: str = "") -> None:
    current = await client.get(NODES, name)
    conds = keep_transitions(conditions(ready, _now(), message),
                             (current.get("status") or {}).get("conditions") or [])
    await client.patch(NODES, name, {"status": {"conditions": conds}}, subresource="status")


def lease_object(name: str, node_uid: str) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{
            "apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS,
                 "renewTime": _micro_now()},
    }


async def renew_lease(client: Client, name: str, node_uid: str) -> None:
    try:
        await client.patch(LEASES, name, {"spec": {"renewTime": _micro_now(),
                                                    "holderIdentity": name}},
                           "kube-node-lease")
    except errors.NotFound:
        await client.create(LEASES, lease_object(name, node_uid), "kube-node-lease")


async def heartbeat(client: Client, name: str, node_uid: str) -> None:
    """Renew the Lease and refresh Ready every RENEW seconds until cancelled."""
    while True:
        with contextlib.suppress(errors.KubeError):
            await renew_lease(client, name, node_uid)
        with contextlib.suppress(errors.KubeError):
            await set_ready(client, name, True)
        await asyncio.sleep(RENEW)
