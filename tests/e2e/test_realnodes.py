"""The local cluster's nodes are the upstream kubelet with containerd, pulling from the
local registry (issue 12), on the session's two-node cluster (whose `down` at the end must
leave nothing on the host: tests/conftest.py).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.guest import Console, qemu_pids
from tests.integration.helpers import wait_for
from tests.shared import EXAMPLES
from virtkube.local.cluster import LocalCluster
from virtkube.local.components import LAUNCHER_IMAGE
from virtkube.local.net.layout import node_name
from virtkube.local.paths import Home
from virtkube.local.procs import cmdline, processes_mentioning
from virtkube.local.realnode import cgroups
from virtkube.local.realnode.layout import (
    CONTAINERD_VERSION,
    CRI_NAMESPACE,
    Binaries,
    RealNode,
    binaries_dir,
)
from virtkube.local.registry import UTILITY_REF

pytestmark = pytest.mark.e2e

NS = "realnodes"
DEMO = Path(__file__).resolve().parents[2] / "examples" / "vm-tiny.yaml"
#: Under TCG on a loaded 2-core machine a boot takes tens of seconds.
BOOT_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def real_cluster(cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The session's cluster, with a namespace of this module's own."""
    cluster.kubectl("create", "namespace", NS)
    try:
        yield cluster
    finally:
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


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


def console(cluster: LocalCluster, uid: str) -> Console:
    return Console(cluster.home.kubevirt_sockets / uid / "console.sock")


def vmi_of(cluster: LocalCluster, name: str) -> dict[str, Any] | None:
    res = cluster.kubectl("get", "vmi", "-n", NS, name, "-o", "json", check=False)
    vmi = json.loads(res.stdout) if res.returncode == 0 else None
    return vmi if vmi and vmi.get("status", {}).get("phase") == "Running" else None


@pytest.fixture(scope="module")
def vm_tiny(real_cluster: LocalCluster) -> dict[str, Any]:
    """The README's demo VM as it is, kept on node 0 (where web0 runs), booted."""
    vm = yaml.safe_load(DEMO.read_text())
    vm["metadata"]["namespace"] = NS
    vm["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node_name(0)}
    real_cluster.kubectl("apply", "-f", "-", input=json.dumps(vm))
    vmi = wait_for("vmi/vm-tiny Running", lambda: vmi_of(real_cluster, "vm-tiny"),
                   timeout=BOOT_TIMEOUT)
    with console(real_cluster, vmi["metadata"]["uid"]) as c:
        c.expect("login:", BOOT_TIMEOUT)
    return vmi


def node_images(cluster: LocalCluster, node: str) -> list[str]:
    index = int(node.rsplit("-", 1)[1])
    sock = RealNode(cluster.home.root, node, index).socket
    res = subprocess.run([str(Binaries(binaries_dir()).ctr), "--address", str(sock), "-n",
                          CRI_NAMESPACE, "images", "ls", "-q"], capture_output=True, text=True,
                         check=True)
    return res.stdout.split()


def test_vm_tiny_boots_from_images_pulled_from_the_registry(
        real_cluster: LocalCluster, vm_tiny: dict[str, Any]) -> None:
    node = vm_tiny["status"]["nodeName"]
    images = node_images(real_cluster, node)
    assert "registry:5000/virtkube/tiny-guest:latest" in images, images
    repo = LAUNCHER_IMAGE.rsplit(":", 1)[0]
    assert any(i.startswith(repo + "@sha256:") or i == LAUNCHER_IMAGE for i in images), images
    pod = json.loads(real_cluster.kubectl("get", "pods", "-n", NS, "-l",
                                          f"kubevirt.io/created-by={vm_tiny['metadata']['uid']}",
                                          "-o", "json").stdout)["items"][0]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["compute", "volumecontainerdisk"]
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    # One QEMU for the VMI, inside the node's cgroup: a container of the kubelet's pod.
    uid = vm_tiny["metadata"]["uid"]
    pids = qemu_pids(uid)
    assert len(pids) == 1
    assert pids[0] in cgroups.pids(RealNode(real_cluster.home.root, node, 0).cgroup_parent)


@pytest.mark.parametrize("example", ["vmi-ephemeral.yaml", "vmi-nocloud.yaml", "vm-cirros.yaml"])
def test_kubevirt_examples_boot_unchanged_to_a_login_prompt(real_cluster: LocalCluster,
                                                            example: str) -> None:
    text = (EXAMPLES / example).read_text()
    doc = yaml.safe_load(text)
    name = doc["metadata"]["name"]
    real_cluster.kubectl("apply", "-n", NS, "-f", "-", input=text)
    try:
        if doc["kind"] == "VirtualMachine":
            # Halted as KubeVirt ships it: started the way a user would.
            res = subprocess.run([str(Path(sys.executable).with_name("virtctl")),
                                  f"--kubeconfig={real_cluster.home.admin_kubeconfig}",
                                  "-n", NS, "start", name], capture_output=True, text=True)
            assert res.returncode == 0, res.stderr
        vmi = wait_for(f"vmi/{name} Running", lambda: vmi_of(real_cluster, name),
                       timeout=BOOT_TIMEOUT)
        with console(real_cluster, vmi["metadata"]["uid"]) as c:
            if "cloudInitNoCloud" in text:
                c.expect("printed from cloud-init userdata", BOOT_TIMEOUT)
            c.expect("login:", BOOT_TIMEOUT)
    finally:
        kind = "vm" if doc["kind"] == "VirtualMachine" else "vmi"
        real_cluster.kubectl("delete", kind, "-n", NS, name, "--wait=false", check=False)


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
        wait_for(f"{name}'s log", functools.partial(logged, real_cluster, name), timeout=30)
    ip0 = web_pods["web0"]["status"]["podIP"]
    assert ipaddress.IPv4Address(ip0) in ipaddress.IPv4Network(
        real_cluster.config().pod_network)
    # Across nodes by pod IP; `--` reaches kubectl through `virtkube kubectl` too.
    out = real_cluster.kubectl("exec", "-n", NS, "web1", "--", "wget", "-q", "-O", "-",
                               f"http://{ip0}:8080/hostname")
    assert out.stdout.strip() == "web0"


def logged(cluster: LocalCluster, name: str) -> bool:
    return f"started {name}" in cluster.kubectl("logs", "-n", NS, name, check=False).stdout


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


def test_kill_9_of_kubelet_and_containerd_leaves_pods_and_guests_running(
        real_cluster: LocalCluster, web_pods: dict[str, dict[str, Any]],
        vm_tiny: dict[str, Any]) -> None:
    home, node = real_cluster.home, node_name(0)
    assert vm_tiny["status"]["nodeName"] == node
    uid = vm_tiny["metadata"]["uid"]
    qemu = qemu_pids(uid)
    with console(real_cluster, uid) as c:
        boot = c.expect(r"boot_id=([0-9a-f-]{36})", BOOT_TIMEOUT).group(1)
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
    # The guest went on: the same QEMU, one boot in its console's history, and it answers.
    assert qemu_pids(uid) == qemu
    with console(real_cluster, uid) as c:
        c.expect("login:", BOOT_TIMEOUT)
        assert c.output.count(b"boot_id=") == 1 and boot in c.output
        seen = len(c.output)
        c.send("\n")
        c.expect("login:", 30, start=seen)
    assert vmi_of(real_cluster, "vm-tiny") is not None


def _pid_or_none(home: Home, node: str, what: str) -> int | None:
    try:
        return _child_pid(home, node, what)
    except AssertionError:
        return None


def test_the_registry_name_resolves_only_through_containerd(real_cluster: LocalCluster) -> None:
    assert "registry" not in Path("/etc/hosts").read_text().split()
    hosts = RealNode(real_cluster.home.root, node_name(0), 0).registry_hosts
    assert (hosts / "registry:5000" / "hosts.toml").is_file()
