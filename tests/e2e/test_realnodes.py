"""`virtkube up --nodes 2 --node-runtime containerd`: the local cluster's nodes are the upstream
kubelet with containerd, pulling from the local registry (issue 12).

One cluster for the module, in a home of its own beside the session's cluster; `down` at the
end must leave nothing of it on the host.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import wait_for
from virtkube.local.cluster import LocalCluster
from virtkube.local.node import hostnet
from virtkube.local.node.layout import node_name
from virtkube.local.paths import Home
from virtkube.local.procs import cmdline, processes_mentioning
from virtkube.local.realnode import cgroups
from virtkube.local.realnode.layout import CONTAINERD_VERSION, RealNode, binaries_dir
from virtkube.local.registry import UTILITY_REF

pytestmark = pytest.mark.e2e

NS = "realnodes"


def host_mounts_naming(root: Path) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(root) in line]


def leftovers(home: Home, nodes: int) -> list[str]:
    found = [f"process {pid}: {' '.join(cmdline(pid))[:120]}"
             for pid in processes_mentioning(str(home.root))]
    found += [f"mount {m}" for m in host_mounts_naming(home.root)]
    found += hostnet.leftovers(home.root)
    for i in range(nodes):
        node = RealNode(home.root, node_name(i), i)
        found += [f"cgroup {d}" for d in cgroups.leftovers(node.cgroup_parent)]
    return found


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    for binary in ("containerd", "containerd-shim-runc-v2", "controlplane"):
        if not (binaries_dir() / binary).exists():
            pytest.fail(f"{binaries_dir() / binary} is missing: run `make noderuntime "
                        "controlplane`")
    home = Home(tmp_path_factory.mktemp("real"))
    cluster = LocalCluster(home)
    try:
        cluster.up(nodes=2, node_runtime="containerd")
        cluster.kubectl("create", "namespace", NS)
        yield cluster
    finally:
        cluster.down()
        left = leftovers(home, 2)
        assert not left, f"left on the host after `virtkube down`: {left}"


def kubectl_json(cluster: LocalCluster, *args: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def utility_pod(cluster: LocalCluster, name: str, node: str, command: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "main", "image": UTILITY_REF,
                                 "command": ["/bin/sh", "-c", command]}]}}))


def running(cluster: LocalCluster, name: str) -> dict[str, Any] | None:
    pod = kubectl_json(cluster, "get", "pod", "-n", NS, name)
    ready = [c for c in pod.get("status", {}).get("containerStatuses") or [] if c.get("ready")]
    return pod if pod["status"].get("phase") == "Running" and ready else None


@pytest.fixture(scope="module")
def web_pods(real_cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    """A busybox httpd on each node serving its own hostname."""
    for i in range(2):
        utility_pod(real_cluster, f"web{i}", node_name(i),
                    f"echo started web{i}; exec httpd -f -p 8080 -h /etc")
    return {f"web{i}": wait_for(f"pod web{i} Running", lambda i=i: running(  # type: ignore[misc]
        real_cluster, f"web{i}"), timeout=120) for i in range(2)}


def test_both_nodes_are_the_kubelet_with_containerd(real_cluster: LocalCluster) -> None:
    nodes = kubectl_json(real_cluster, "get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == [node_name(0), node_name(1)]
    for n in nodes:
        assert n["status"]["nodeInfo"]["containerRuntimeVersion"] == \
            f"containerd://{CONTAINERD_VERSION}"
    wide = real_cluster.kubectl("get", "nodes", "-o", "wide").stdout
    assert wide.count(f"containerd://{CONTAINERD_VERSION}") == 2, wide


def test_pods_run_from_the_registry_and_answer_exec_logs_and_each_other(
        real_cluster: LocalCluster, web_pods: dict[str, dict[str, Any]]) -> None:
    assert {p["spec"]["nodeName"] for p in web_pods.values()} == {node_name(0), node_name(1)}
    for name, pod in web_pods.items():
        # The image came through containerd's hosts.toml for registry:5000.
        assert pod["status"]["containerStatuses"][0]["imageID"].startswith(
            UTILITY_REF.rsplit(":", 1)[0] + "@sha256:")
        wait_for(f"{name}'s log", lambda name=name: f"started {name}" in real_cluster.kubectl(
            "logs", "-n", NS, name, check=False).stdout, timeout=30)
    ip0 = web_pods["web0"]["status"]["podIP"]
    assert ipaddress.IPv4Address(ip0) in ipaddress.IPv4Network(
        real_cluster.config().pod_network)
    # Across nodes by pod IP; `--` reaches kubectl through `virtkube kubectl` too.
    out = real_cluster.kubectl("exec", "-n", NS, "web1", "--", "wget", "-q", "-O", "-",
                               f"http://{ip0}:8080/hostname")
    assert out.stdout.strip() == "web0"


def test_port_forward_reaches_a_pod(real_cluster: LocalCluster,
                                    web_pods: dict[str, dict[str, Any]]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*real_cluster.kubectl_argv(), "port-forward", "-n", NS, "pod/web1",
                             f"{port}:8080"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def fetch() -> str | None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    c.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
                    reply = b"".join(iter(lambda: c.recv(4096), b""))
            except OSError:
                return None
            return reply.decode(errors="replace") if b"200" in reply else None

        assert wait_for("port-forward to web1", fetch, timeout=30).rstrip().endswith("web1")
    finally:
        proc.terminate()
        proc.wait(10)


def _child_pid(home: Home, node: str, what: str) -> int:
    """The pid of the node's containerd or kubelet (children of its runner)."""
    root = RealNode(home.root, node, 0).root
    for pid in processes_mentioning(str(root)):
        argv = cmdline(pid)
        if what == "containerd" and argv[:1] and argv[0].endswith("/containerd"):
            return pid
        if what == "kubelet" and len(argv) > 1 and argv[1] == "kubelet":
            return pid
    raise AssertionError(f"no {what} of {node} runs")


def test_kill_9_of_kubelet_and_containerd_leaves_the_pod_running(
        real_cluster: LocalCluster, web_pods: dict[str, dict[str, Any]]) -> None:
    home, node = real_cluster.home, node_name(0)
    before = running(real_cluster, "web0")
    assert before is not None
    container = before["status"]["containerStatuses"][0]["containerID"]
    httpd = [p for p in cgroups.pids(RealNode(home.root, node, 0).cgroup_parent)
             if cmdline(p)[:1] == ["httpd"]]
    assert len(httpd) == 1, httpd
    for what in ("kubelet", "containerd"):
        victim = _child_pid(home, node, what)
        os.kill(victim, signal.SIGKILL)
        wait_for(f"{node}'s {what} restarted", lambda what=what, victim=victim: (  # type: ignore[misc]
            _pid_or_none(home, node, what) not in (None, victim)), timeout=60)
    # The kubelet answers again, and nothing about the pod changed.
    out = wait_for("exec after the restarts", lambda: real_cluster.kubectl(
        "exec", "-n", NS, "web0", "--", "hostname", check=False).stdout.strip() or None,
        timeout=60)
    assert out == "web0"
    after = running(real_cluster, "web0")
    assert after is not None
    status = after["status"]["containerStatuses"][0]
    assert status["containerID"] == container and status["restartCount"] == 0
    assert os.path.exists(f"/proc/{httpd[0]}"), "the pod's process was restarted"
    state = json.loads(home.supervisor_state.read_text())["components"]
    assert state[node]["restarts"] == 0, "the node's runner itself must not restart"


def _pid_or_none(home: Home, node: str, what: str) -> int | None:
    try:
        return _child_pid(home, node, what)
    except AssertionError:
        return None


def test_the_registry_name_resolves_only_through_containerd(real_cluster: LocalCluster) -> None:
    assert "registry" not in Path("/etc/hosts").read_text().split()
    hosts = RealNode(real_cluster.home.root, node_name(0), 0).registry_hosts
    assert (hosts / "registry:5000" / "hosts.toml").is_file()
