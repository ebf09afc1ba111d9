"""The local node end to end: registration, pods with CNI networking across two nodes,
status, logs, deletion cleanup, foreign images, and adoption after kill -9."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import (
    IMAGE,
    apply,
    bridge_ports,
    component_pid,
    get,
    host_traces,
    namespace,
    phase,
    pod,
    pods,
    ready,
)
from virtkube.local.cluster import LocalCluster
from virtkube.local.procs import alive

pytestmark = pytest.mark.integration

NODES = ["virtkube-node-0", "virtkube-node-1"]


def web_deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 3,
                # One replica per node, so that reaching the other pod crosses nodes.
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": labels},
                     "topologyKey": "kubernetes.io/hostname"}]}},
                "containers": [{
                    "name": "web", "image": IMAGE,
                    "command": ["python", "-m", "http.server", "8080"],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                       "periodSeconds": 1},
                    "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
                }],
            },
        }},
    }


def test_nodes_register_ready_with_addresses_and_leases(cluster: LocalCluster) -> None:
    for i, name in enumerate(NODES):
        node = wait_for(f"node {name}", lambda name=name: get(cluster, "node", name), 30)
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == name
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] == "amd64"
        status = node["status"]
        assert ready(node)
        addresses = {a["type"]: a["address"] for a in status["addresses"]}
        assert addresses["InternalIP"].endswith(f".0.{2 + i}")
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
        assert int(status["capacity"]["cpu"]) == os.cpu_count()
        assert node["spec"]["podCIDR"].endswith(f".{1 + i}.0/24")
        lease = get(cluster, "lease", "-n", "kube-node-lease", name)
        assert lease is not None and lease["spec"]["holderIdentity"] == name


def test_deployment_runs_ready_pods_that_reach_each_other_across_nodes(
        cluster: LocalCluster) -> None:
    ns = namespace(cluster, "node-web")
    ports_before = bridge_ports(cluster)
    apply(cluster, {**web_deployment("web"), "metadata": {"name": "web", "namespace": ns}})

    def both_ready() -> list[dict[str, Any]] | None:
        items = pods(cluster, ns, "app=web")
        return items if len(items) == 2 and all(ready(p) for p in items) else None

    web = wait_for("2 web pods Running and Ready", both_ready, 90)
    assert {p["spec"]["nodeName"] for p in web} == set(NODES)
    for p in web:
        st = p["status"]
        assert st["phase"] == "Running"
        assert st["podIP"] and st["podIPs"] == [{"ip": st["podIP"]}]
        assert st["hostIP"] and st["startTime"]
        cs = st["containerStatuses"][0]
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
        assert "running" in cs["state"] and cs["image"] == IMAGE
        types = {c["type"]: c["status"] for c in st["conditions"]}
        assert types == {"PodReadyToStartContainers": "True", "Initialized": "True",
                         "ContainersReady": "True", "Ready": "True", "PodScheduled": "True"}

    # A client on each node fetches the web pod on the *other* node.
    for p in web:
        other = next(o for o in web if o is not p)
        client = f"client-{p['spec']['nodeName'][-1]}"
        apply(cluster, {**pod(client, [
            "python", "-c",
            "import sys, urllib.request; "
            "r = urllib.request.urlopen(sys.argv[1], timeout=10); print('fetched', r.status)",
            f"http://{other['status']['podIP']}:8080/"], node=p["spec"]["nodeName"]),
            "metadata": {"name": client, "namespace": ns}})
        assert wait_for(f"{client} to finish",
                        lambda c=client: phase(cluster, ns, c) in ("Succeeded", "Failed")
                        and phase(cluster, ns, c), 60) == "Succeeded", \
            cluster.kubectl("describe", "pod", "-n", ns, client, check=False).stdout
        logs = cluster.kubectl("logs", "-n", ns, client).stdout
        assert "fetched 200" in logs

    # `kubectl logs` through the API server and the node's log endpoint.
    server_logs = wait_for("the web pods' access logs", lambda: "".join(
        cluster.kubectl("logs", "-n", ns, p["metadata"]["name"], check=False).stdout
        for p in web), 20)
    assert '"GET / HTTP/1.1" 200' in server_logs
    tail = cluster.kubectl("logs", "-n", ns, web[0]["metadata"]["name"], "--tail=1",
                           "--timestamps").stdout.strip().splitlines()
    assert len(tail) == 1 and tail[0][:4].isdigit() and "T" in tail[0].split()[0]

    # Deleting the Deployment leaves nothing of its pods on the host.
    uids = [p["metadata"]["uid"] for p in web]
    cluster.kubectl("delete", "deployment", "-n", ns, "web", "--wait=false")
    wait_for("web pods gone", lambda: not pods(cluster, ns, "app=web"), 60)
    for uid in uids:
        assert wait_for(f"no host traces of {uid}", lambda u=uid: not host_traces(cluster, u)
                        or None, 10) is None or not host_traces(cluster, uid)
        assert host_traces(cluster, uid) == []
    assert bridge_ports(cluster) <= ports_before


def test_pod_with_foreign_image_stays_pending_with_event(cluster: LocalCluster) -> None:
    ns = namespace(cluster, "node-foreign")
    apply(cluster, {**pod("nginx", ["nginx"], image="nginx:1.27"),
                    "metadata": {"name": "nginx", "namespace": ns}})

    def event() -> dict[str, Any] | None:
        items = (get(cluster, "events", "-n", ns,
                     "--field-selector", "involvedObject.name=nginx") or {}).get("items") or []
        return next((e for e in items if e["reason"] == "ErrImageNeverPull"), None)

    ev = wait_for("an ErrImageNeverPull event", event, 30)
    assert ev["type"] == "Warning" and "virtkube/local:dev" in ev["message"]
    p = get(cluster, "pod", "-n", ns, "nginx")
    assert p is not None and p["status"]["phase"] == "Pending"
    waiting = p["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImageNeverPull"
    cluster.kubectl("delete", "pod", "-n", ns, "nginx", "--wait=true", "--timeout=30s")


def test_node_killed_with_sigkill_adopts_its_running_pods(cluster: LocalCluster) -> None:
    ns = namespace(cluster, "node-adopt")
    apply(cluster, {**pod("sleeper", ["python", "-c", "import time; print('up', flush=True); "
                                                      "time.sleep(3600)"],
                          node="virtkube-node-0", restart="Always"),
                    "metadata": {"name": "sleeper", "namespace": ns}})
    before = wait_for("sleeper Ready", lambda: (p := get(cluster, "pod", "-n", ns, "sleeper"))
                      and ready(p) and p, 60)
    uid = before["metadata"]["uid"]
    shims = [t for t in host_traces(cluster, uid) if t.startswith("process ")]
    assert shims, "no container process found for the pod"

    node_pid = component_pid(cluster, "virtkube-node-0")
    assert node_pid is not None
    os.kill(node_pid, signal.SIGKILL)
    wait_for("the supervisor to restart virtkube-node-0",
             lambda: (p := component_pid(cluster, "virtkube-node-0")) and p != node_pid
             and alive(p), 30)
    # The container survived its node process, and the restarted node owns it again.
    assert [t for t in host_traces(cluster, uid) if t.startswith("process ")] == shims
    marker = {"metadata": {"annotations": {"virtkube.io/test-poke": "1"}}}
    cluster.kubectl("patch", "pod", "-n", ns, "sleeper", "--type=merge", "-p",
                    __import__("json").dumps(marker))
    after = wait_for("sleeper still Running and Ready", lambda: (
        p := get(cluster, "pod", "-n", ns, "sleeper")) and ready(p) and p, 30)
    cs = after["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 0
    assert cs["containerID"] == before["status"]["containerStatuses"][0]["containerID"]
    assert after["status"]["podIP"] == before["status"]["podIP"]
    # The restarted node serves the adopted container's log (once its log server is up).
    wait_for("the adopted container's log", lambda: "up" in cluster.kubectl(
        "logs", "-n", ns, "sleeper", check=False).stdout, 20)
    # And the adopted pod is deleted as cleanly as any other.
    cluster.kubectl("delete", "pod", "-n", ns, "sleeper", "--wait=true", "--timeout=60s")
    assert wait_for("no traces of sleeper", lambda: not host_traces(cluster, uid), 15)
